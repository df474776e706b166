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

pub fn child_idle(args: &[String]) {
    let n: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let kind = match args.get(1).map(String::as_str) {
        Some("scheduler") => paragram::Kind::SCHEDULER,
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
    // Let start-up settle (spins end, threads park), then measure 5 s.
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
    drop(keep);
    std::process::exit(0);
}
