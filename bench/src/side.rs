//! The untimed side reports of a run: allocations per message (counting
//! allocator) and the CPU used by idle paragram processes, the latter in a
//! fresh child OS process (the hidden subcommand `__idle`).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::chan::Flume;
use crate::{
    Cfg, HIDDEN_IDLE, Skip, W, paragram_peer, parse_figure, rss, run_with_deadline, threads_peer,
};

pub fn allocation_report(cfg: &Cfg) -> String {
    let mut s = String::from(
        "Allocations per message sent and handled (counting allocator, separate untimed pass):\n\n",
    );
    s += "| peer | W1 allocs/message | W2 allocs/message |\n|---|---:|---:|\n";
    for (name, f) in [
        (
            "paragram",
            paragram_peer::count_allocs as fn(W, &Cfg) -> Result<(u64, u64), Skip>,
        ),
        ("flume", threads_peer::count_allocs::<Flume>),
    ] {
        let mut row = format!("| {name} |");
        for w in [W::W1, W::W2] {
            match f(w, cfg) {
                Ok((allocs, messages)) => {
                    row += &format!(
                        " {:.2} ({allocs} / {messages}) |",
                        allocs as f64 / messages as f64
                    )
                }
                Err(_) => row += " failed |",
            }
        }
        s += &row;
        s.push('\n');
    }
    s += "\n(W1 counts both directions: 2 messages per round trip.)\n\n";
    s
}

/// W6's dispatch alone, runtime receivers against compiled ones: medians
/// of the run's repetitions.
pub fn dispatch_report(cfg: &Cfg) -> String {
    let deadline = Instant::now() + cfg.deadline;
    let mut runtime = Vec::new();
    let mut compiled = Vec::new();
    for _ in 0..cfg.reps {
        match paragram_peer::dispatch_only(cfg.w6, deadline) {
            Ok((r, c)) => {
                runtime.push(r);
                compiled.push(c);
            }
            Err(_) => return "W6 dispatch only: failed\n\n".into(),
        }
    }
    let (r, c) = (
        crate::report::median(&runtime),
        crate::report::median(&compiled),
    );
    format!(
        "W6 dispatch only (the 10-receiver process held at a gate while {} messages queue, then timed from release to the last handled; median of {}): runtime receivers {r:.1} ns/message, compiled receivers {c:.1} ns/message, compiled / runtime {:.2}x.\n\n",
        cfg.w6,
        cfg.reps,
        c / r
    )
}

/// The CPU `n` idle processes of `kind` (`thread` or `scheduler`) use,
/// measured in a fresh OS process.
pub fn idle_report(kind: &str, n: usize) -> String {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return format!("Idle CPU: failed ({e})\n\n"),
    };
    let mut cmd = Command::new(exe);
    cmd.args([HIDDEN_IDLE.to_owned(), n.to_string(), kind.to_owned()]);
    match run_with_deadline(&mut cmd, Duration::from_secs(60)) {
        Ok(out) => {
            let stat = parse_figure(&out, "IDLE_STAT").ok();
            let sched = parse_figure(&out, "IDLE_SCHED").ok();
            let verdict = match sched.or(stat) {
                Some(p) if p < 1.0 => "PASS (< 1% of one core)",
                Some(_) => "FAIL (>= 1% of one core)",
                None => "unknown",
            };
            format!(
                "Idle CPU, {n} idle paragram processes of the {kind} kind over 5 s, fresh OS process: \
                 {} % of one core by /proc/self/stat utime+stime (10 ms ticks), \
                 {} % by the sum of /proc/self/task/*/schedstat (ns, measuring thread excluded): {verdict}\n\n",
                stat.map_or("?".into(), |p| format!("{p:.3}")),
                sched.map_or("?".into(), |p| format!("{p:.4}")),
            )
        }
        Err(Skip::Failed(why)) => format!("Idle CPU: failed ({why})\n\n"),
        Err(Skip::NotApplicable) => String::new(),
    }
}

/// The memory and CPU `n` pending timers (`send_after` of an integer an
/// hour ahead, to one idle process) cost, measured in a fresh OS process.
pub fn timers_report(n: usize) -> String {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return format!("Pending timers: failed ({e})\n\n"),
    };
    let mut cmd = Command::new(exe);
    cmd.args([HIDDEN_IDLE.to_owned(), n.to_string(), "timers".to_owned()]);
    match run_with_deadline(&mut cmd, Duration::from_secs(60)) {
        Ok(out) => {
            let rss = parse_figure(&out, "TIMERS_RSS_KIB").ok();
            let sched = parse_figure(&out, "IDLE_SCHED").ok();
            let stat = parse_figure(&out, "IDLE_STAT").ok();
            let verdict = match (rss, sched.or(stat)) {
                (Some(kib), Some(p)) if kib < 10.0 * 1024.0 && p < 1.0 => {
                    "PASS (< 10 MB, < 1% of one core)"
                }
                (Some(_), Some(_)) => "FAIL",
                _ => "unknown",
            };
            format!(
                "Pending timers, {n} `send_after` an hour ahead, fresh OS process: \
                 {} KiB of RSS for all of them ({} bytes each); over 5 s idle \
                 {} % of one core by /proc/self/stat, {} % by schedstat: {verdict}\n\n",
                rss.map_or("?".into(), |k| format!("{k:.0}")),
                rss.map_or("?".into(), |k| format!("{:.0}", k * 1024.0 / n as f64)),
                stat.map_or("?".into(), |p| format!("{p:.3}")),
                sched.map_or("?".into(), |p| format!("{p:.4}")),
            )
        }
        Err(Skip::Failed(why)) => format!("Pending timers: failed ({why})\n\n"),
        Err(Skip::NotApplicable) => String::new(),
    }
}

pub fn child_idle(args: &[String]) {
    let n: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let kind = match args.get(1).map(String::as_str) {
        Some("scheduler") => paragram::Kind::SCHEDULER,
        Some("timers") => return child_timers(n),
        _ => paragram::Kind::THREAD,
    };
    let spawned = paragram_peer::spawn_idle_on(kind, n, Instant::now() + Duration::from_secs(60));
    let keep = match spawned {
        Ok(keep) => keep,
        Err(_) => {
            println!("IDLE_STAT failed");
            std::process::exit(0);
        }
    };
    idle_cpu();
    drop(keep);
    std::process::exit(0);
}

/// Arms `n` timers an hour ahead to one idle process, prints the RSS they
/// took, then the idle CPU.
fn child_timers(n: usize) {
    let spawned = paragram_peer::spawn_idle_on(
        paragram::Kind::SCHEDULER,
        1,
        Instant::now() + Duration::from_secs(60),
    );
    let Ok((root, pids)) = spawned else {
        println!("IDLE_STAT failed");
        std::process::exit(0);
    };
    // The timer thread and its first allocations exist before the count.
    paragram::cancel_timer(paragram::send_after(
        Duration::from_secs(3600),
        &pids[0],
        "warm",
    ));
    std::thread::sleep(Duration::from_millis(100));
    let before = rss::vm_rss_kib();
    // The references are not kept: what is counted is the timers alone.
    for i in 0..n {
        paragram::send_after(Duration::from_secs(3600), &pids[0], i as u64);
    }
    let after = rss::vm_rss_kib();
    println!("TIMERS_RSS_KIB {}", after.saturating_sub(before));
    idle_cpu();
    drop((pids, root));
    std::process::exit(0);
}

/// Lets start-up settle (spins end, threads park), then measures the CPU
/// this OS process uses over 5 s.
fn idle_cpu() {
    std::thread::sleep(Duration::from_millis(500));
    let me = std::process::id();
    let window = Duration::from_secs(5);
    let (t0, s0, c0) = (Instant::now(), rss::task_cpu_ns(me), rss::cpu_ticks());
    std::thread::sleep(window);
    let (c1, s1, t1) = (rss::cpu_ticks(), rss::task_cpu_ns(me), Instant::now());
    let wall = (t1 - t0).as_secs_f64();
    // Linux reports /proc/self/stat times in USER_HZ = 100 ticks a second.
    println!("IDLE_STAT {}", (c1 - c0) as f64 / 100.0 / wall * 100.0);
    if let (Some(s0), Some(s1)) = (s0, s1) {
        println!(
            "IDLE_SCHED {}",
            s1.saturating_sub(s0) as f64 / 1e9 / wall * 100.0
        );
    }
}
