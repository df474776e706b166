//! The results as Markdown: the figures' medians, their ratios to
//! paragram's, each workload's spread, failures and notes.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{Cfg, FLOOR_PEER, OS_PEER, W};

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[allow(clippy::too_many_arguments)]
pub fn report(
    cfg: &Cfg,
    names: &[&'static str],
    figures: &BTreeMap<&str, BTreeMap<W, Vec<f64>>>,
    notes: &BTreeMap<(&str, W), String>,
    erlang_skip: Option<&String>,
    extra: &str,
    elapsed: Duration,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let med = |peer: &str, w: W| figures.get(peer).and_then(|m| m.get(&w)).map(|v| median(v));
    let cell = |peer: &str, w: W| match med(peer, w) {
        Some(v) => fmt_num(v),
        None => match notes.get(&(peer, w)) {
            Some(n) if n == "n/a" => "n/a".into(),
            Some(_) => "failed".into(),
            None => "-".into(),
        },
    };
    let _ = writeln!(s, "# paragram benchmark results\n");
    let _ = writeln!(
        s,
        "{} cores, {} repetitions (interleaved), medians. Sizes: W1 {} round trips, W2 {} messages, \
         W3 {} processes, W4 chain of {}, W5 {} idle processes, W6 {} messages, W7 {} processes. Total run time {:.0} s.\n",
        cores(),
        cfg.reps,
        cfg.w1,
        cfg.w2,
        cfg.w3,
        cfg.w4,
        cfg.w5,
        cfg.w6,
        cfg.w7,
        elapsed.as_secs_f64()
    );
    table(&mut s, names, |w| format!("{w} {}", w.unit()), cell);
    let _ = writeln!(
        s,
        "\nRatio peer / paragram (medians; W2 is a rate, higher is better; all others lower is better):\n"
    );
    let ratio = |peer: &str, w: W| {
        let ratio = match (med(peer, w), med("paragram", w)) {
            (Some(p), Some(base)) if base > 0.0 => format!("{:.2}x", p / base),
            _ => cell(peer, w)
                .replace(|c: char| c.is_ascii_digit() || c == '.', "")
                .trim()
                .to_owned(),
        };
        if ratio.is_empty() { "-".into() } else { ratio }
    };
    table(&mut s, names, |w| w.to_string(), ratio);
    if names.contains(&OS_PEER) && names.contains(&FLOOR_PEER) {
        let _ = writeln!(
            s,
            "\nOS processes, {OS_PEER} / {FLOOR_PEER} (cost over the bare frames on the same socket; \
             W1 time per round trip, W2 the floor's rate over paragram's, so above 1 is slower for both):\n"
        );
        let _ = writeln!(
            s,
            "| workload | {OS_PEER} | {FLOOR_PEER} | ratio |\n|---|---:|---:|---:|"
        );
        for w in [W::W1, W::W2] {
            if let (Some(os), Some(floor)) = (med(OS_PEER, w), med(FLOOR_PEER, w)) {
                let slower = if w.higher_is_better() {
                    floor / os
                } else {
                    os / floor
                };
                let _ = writeln!(
                    s,
                    "| {w} {} | {} | {} | {slower:.2}x |",
                    w.unit(),
                    fmt_num(os),
                    fmt_num(floor)
                );
            }
        }
    }
    let _ = writeln!(s, "\n## Per workload: median / min / max\n");
    for w in W::ALL {
        let better = if w.higher_is_better() {
            "higher is better"
        } else {
            "lower is better"
        };
        let _ = writeln!(s, "{} ({}, {better}):\n", w.title(), w.unit());
        let _ = writeln!(
            s,
            "| peer | median | min | max | runs |\n|---|---:|---:|---:|---:|"
        );
        for peer in names {
            match figures.get(peer).and_then(|m| m.get(&w)) {
                Some(v) => {
                    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let _ = writeln!(
                        s,
                        "| {peer} | {} | {} | {} | {} |",
                        fmt_num(median(v)),
                        fmt_num(min),
                        fmt_num(max),
                        v.len()
                    );
                }
                None => {
                    let _ = writeln!(s, "| {peer} | {} | | | 0 |", cell(peer, w));
                }
            }
        }
        s.push('\n');
    }
    let failures: Vec<_> = notes.iter().filter(|(_, n)| n.as_str() != "n/a").collect();
    if !failures.is_empty() {
        let _ = writeln!(s, "Failures:\n");
        for ((peer, w), why) in failures {
            let _ = writeln!(s, "- {peer} {w}: {why}");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "{extra}");
    let _ = writeln!(s, "Notes:\n");
    if let Some(why) = erlang_skip {
        let _ = writeln!(s, "- erlang: skipped ({why}).");
    }
    let _ = writeln!(
        s,
        "- flume and crossbeam are std threads with unbounded channels and blocking recv (the floor). \
         They, and actix, have no links: their W4 figure is the same chain where each thread/actor \
         holds the only sender to the next and ends when its own channel disconnects (or it is killed), \
         the cheapest way to spread a death along a chain.\n\
         - ractor: tokio multi-thread runtime, default features minus per-message tracing spans; W4 uses \
         supervision (each actor supervises the one before it; a failed child stops its supervisor); W3 uses drain().\n\
         - kameo: tokio multi-thread runtime, unbounded mailboxes; W4 uses links and kill(); W3 uses stop_gracefully().\n\
         - actix: one System thread per workload (producers in W2/W6 are std threads using do_send).\n\
         - W2/W6: the clock stops when the receiving process has handled the last message.\n\
         - paragram os-process: W1's pong and W2's counter are `#[derive(Process)]` + serde structs spawned \
         with `Spawn::os_process` (a child OS process, one Unix socket); ping, producers and the clock stay in the bench. \
         raw pipe (floor): the same postcard `Deliver` frames, 4-byte length prefix, over a socket pair that is a \
         re-executed child's stdin, answered by a bare echo (W1) or count (W2, producers batching 64 KiB per write) loop. \
         Both measure W1 and W2 only.\n\
         - W5: each peer in a fresh OS process (VmRSS after - before) / processes; thread peers use the default 2 MiB stack (RSS counts touched pages only)."
    );
    s
}

/// A table with a row per peer and a column per workload: `head(w)`
/// heads a column, `cell(peer, w)` fills a cell.
fn table(
    s: &mut String,
    names: &[&'static str],
    head: impl Fn(W) -> String,
    cell: impl Fn(&str, W) -> String,
) {
    use std::fmt::Write;
    let _ = write!(s, "| peer |");
    for w in W::ALL {
        let _ = write!(s, " {} |", head(w));
    }
    let _ = write!(s, "\n|---|");
    for _ in W::ALL {
        let _ = write!(s, "---:|");
    }
    s.push('\n');
    for peer in names {
        let _ = write!(s, "| {peer} |");
        for w in W::ALL {
            let _ = write!(s, " {} |", cell(peer, w));
        }
        s.push('\n');
    }
}
