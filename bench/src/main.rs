//! paragram benchmark harness: paragram against raw channels, actor crates
//! and Erlang, on the six workloads of the performance issue.
//!
//! Run (from the repository root):
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- [--quick] [--reps N] [--peers a,b,..]
//! ```
//!
//! Repetitions are interleaved: every repetition runs every peer once. W5
//! (memory per idle process) and the idle-CPU check run in fresh child OS
//! processes (this binary, re-executed with a hidden subcommand).
//!
//! "paragram os-process" runs W1's pong and W2's counter as paragram
//! OS-process children (this binary, entered through the hook at the top of
//! `main`); "raw pipe (floor)" moves the same frames over the same kind of
//! socket to a child running a bare loop (the hidden `__raw_floor`).

mod actix_peer;
mod alloc;
mod chan;
mod common;
mod erlang_peer;
mod kameo_peer;
mod os_peer;
mod paragram_peer;
mod producers;
mod ractor_peer;
mod raw_pipe;
mod report;
mod rss;
mod side;
mod threads_peer;
mod tokio_peer;

use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chan::{Crossbeam, Flume};
use report::{cores, report};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Sizes and limits of one run.
#[derive(Clone, Debug)]
pub struct Cfg {
    /// W1: round trips.
    pub w1: u64,
    /// W2: messages in total, from two producers.
    pub w2: u64,
    /// W3: processes spawned, sent to and terminated.
    pub w3: usize,
    /// W4: length of the linked chain.
    pub w4: usize,
    /// W5: idle processes alive while memory is read.
    pub w5: usize,
    /// W6: messages through the 10-receiver process.
    pub w6: u64,
    /// W7: processes alive at once, each answering one message.
    pub w7: usize,
    /// Idle CPU: idle paragram processes of the thread kind.
    pub idle: usize,
    /// Idle CPU: idle paragram processes of the scheduler kind.
    pub idle_scheduler: usize,
    pub reps: usize,
    /// Longest any single wait may take before the peer is marked failed.
    pub deadline: Duration,
}

impl Cfg {
    fn full() -> Cfg {
        Cfg {
            w1: 100_000,
            w2: 1_000_000,
            w3: 10_000,
            w4: 1_000,
            w5: 10_000,
            w6: 200_000,
            w7: 1_000_000,
            idle: 1_000,
            idle_scheduler: 100_000,
            reps: 7,
            deadline: Duration::from_secs(60),
        }
    }

    fn quick() -> Cfg {
        Cfg {
            w1: 10_000,
            w2: 100_000,
            w3: 1_000,
            w4: 100,
            w5: 1_000,
            w6: 20_000,
            w7: 100_000,
            idle: 1_000,
            idle_scheduler: 100_000,
            reps: 3,
            deadline: Duration::from_secs(20),
        }
    }
}

/// Why a workload has no figure.
pub enum Skip {
    /// The peer cannot express the workload.
    NotApplicable,
    /// The run failed or passed its deadline.
    Failed(String),
}

/// One figure of one workload, in the workload's unit.
pub type Res = Result<f64, Skip>;

/// `?` on any error: the peer failed, with what it was doing.
pub trait OrFail<T> {
    fn or_fail(self, what: &str) -> Result<T, Skip>;
}

impl<T, E: Debug> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> Result<T, Skip> {
        self.map_err(|e| Skip::Failed(format!("{what}: {e:?}")))
    }
}

impl<T> OrFail<T> for Option<T> {
    fn or_fail(self, what: &str) -> Result<T, Skip> {
        self.ok_or_else(|| Skip::Failed(what.to_owned()))
    }
}

/// Receives `n` items from `rx`, all before `deadline`.
pub fn recv_n<T>(
    rx: &mpsc::Receiver<T>,
    n: usize,
    deadline: Instant,
    what: &str,
) -> Result<(), Skip> {
    for _ in 0..n {
        let left = deadline.saturating_duration_since(Instant::now());
        rx.recv_timeout(left).or_fail(what)?;
    }
    Ok(())
}

/// Per unit: nanoseconds per item.
pub fn ns_per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}

/// The workloads, in column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum W {
    W1,
    W2,
    W3,
    W4,
    W5,
    W6,
    W7,
}

impl W {
    const ALL: [W; 7] = [W::W1, W::W2, W::W3, W::W4, W::W5, W::W6, W::W7];

    fn title(self) -> &'static str {
        match self {
            W::W1 => "W1 ping-pong",
            W::W2 => "W2 2 producers -> 1 counter",
            W::W3 => "W3 spawn+send+terminate+wait",
            W::W4 => "W4 linked chain death",
            W::W5 => "W5 RSS per idle process",
            W::W6 => "W6 10-receiver dispatch",
            W::W7 => "W7 a million processes",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            W::W1 => "ns/round trip",
            W::W2 => "M msg/s",
            W::W3 => "µs/process",
            W::W4 => "ms",
            W::W5 => "KiB/process",
            W::W6 => "ns/message",
            W::W7 => "s",
        }
    }

    fn higher_is_better(self) -> bool {
        self == W::W2
    }
}

impl fmt::Display for W {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A peer: its name and how it runs the in-process workloads (W5 runs
/// through `child_w5` in a fresh OS process).
struct Peer {
    name: &'static str,
    run: fn(W, &Cfg) -> Res,
    w5: fn(usize) -> Res,
}

fn peers() -> Vec<Peer> {
    vec![
        Peer {
            name: "paragram",
            run: paragram_peer::run,
            w5: paragram_peer::w5,
        },
        Peer {
            name: "paragram compiled",
            run: paragram_peer::run_compiled,
            w5: paragram_peer::w5_compiled,
        },
        Peer {
            name: "paragram scheduler",
            run: paragram_peer::run_scheduler,
            w5: paragram_peer::w5_scheduler,
        },
        Peer {
            name: "paragram scheduler compiled",
            run: paragram_peer::run_scheduler_compiled,
            w5: paragram_peer::w5_compiled,
        },
        Peer {
            name: "flume",
            run: threads_peer::run::<Flume>,
            w5: threads_peer::w5::<Flume>,
        },
        Peer {
            name: "crossbeam",
            run: threads_peer::run::<Crossbeam>,
            w5: threads_peer::w5::<Crossbeam>,
        },
        Peer {
            name: "ractor",
            run: ractor_peer::run,
            w5: ractor_peer::w5,
        },
        Peer {
            name: "kameo",
            run: kameo_peer::run,
            w5: kameo_peer::w5,
        },
        Peer {
            name: "actix",
            run: actix_peer::run,
            w5: actix_peer::w5,
        },
        Peer {
            name: OS_PEER,
            run: os_peer::run,
            w5: os_peer::w5,
        },
        Peer {
            name: FLOOR_PEER,
            run: raw_pipe::run,
            w5: raw_pipe::w5,
        },
    ]
}

/// The OS-process peer and its floor (W1 and W2 only).
pub const OS_PEER: &str = "paragram os-process";
pub const FLOOR_PEER: &str = "raw pipe (floor)";

const HIDDEN_W5: &str = "__w5";
pub const HIDDEN_IDLE: &str = "__idle";

fn main() {
    // First thing: in an OS-process child (W1's pong, W2's counter of the
    // "paragram os-process" peer) this runs the process and exits.
    paragram::os_process::hook(os_peer::register);
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(HIDDEN_W5) => return child_w5(&args[1..]),
        Some(HIDDEN_IDLE) => return side::child_idle(&args[1..]),
        Some(raw_pipe::HIDDEN) => return raw_pipe::child(&args[1..]),
        _ => {}
    }
    let mut cfg = Cfg::full();
    let mut only: Option<Vec<String>> = None;
    let mut reps = None;
    let mut workloads: Vec<W> = W::ALL.to_vec();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => cfg = Cfg::quick(),
            "--reps" => reps = it.next().and_then(|n| n.parse().ok()),
            "--workloads" => {
                let list = it.next().map(String::as_str).unwrap_or("");
                workloads = W::ALL
                    .into_iter()
                    .filter(|w| list.split(',').any(|x| x == w.to_string()))
                    .collect();
            }
            "--peers" => only = it.next().map(|p| p.split(',').map(str::to_owned).collect()),
            "-h" | "--help" => {
                println!(
                    "usage: paragram-bench [--quick] [--reps N] [--peers paragram,flume,crossbeam,ractor,kameo,actix,\"paragram os-process\",\"raw pipe (floor)\",erlang] [--workloads W1,..,W7]"
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other:?} (try --help)");
                std::process::exit(2);
            }
        }
    }
    if let Some(reps) = reps {
        cfg.reps = reps;
    }
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|p| p == name));
    let peers: Vec<Peer> = peers().into_iter().filter(|p| wanted(p.name)).collect();
    let erlang = if wanted("erlang") {
        erlang_peer::find()
    } else {
        Err("not selected".into())
    };

    let mut names: Vec<&'static str> = peers.iter().map(|p| p.name).collect();
    if erlang.is_ok() {
        names.push("erlang");
    }
    // figures[peer][workload] = every repetition's figure.
    let mut figures: BTreeMap<&str, BTreeMap<W, Vec<f64>>> = BTreeMap::new();
    let mut notes: BTreeMap<(&str, W), String> = BTreeMap::new();
    let mut record =
        |peer: &'static str, w: W, res: Res, notes: &mut BTreeMap<(&str, W), String>| match res {
            Ok(v) => figures
                .entry(peer)
                .or_default()
                .entry(w)
                .or_default()
                .push(v),
            Err(Skip::NotApplicable) => {
                notes.insert((peer, w), "n/a".into());
            }
            Err(Skip::Failed(why)) => {
                eprintln!("  {peer} {w} FAILED: {why}");
                notes.insert((peer, w), format!("failed: {why}"));
            }
        };

    let started = Instant::now();
    eprintln!("paragram-bench: {cfg:?}; cores: {}", cores());
    for rep in 1..=cfg.reps {
        for peer in &peers {
            for &w in &workloads {
                eprint!("rep {rep}/{} {:<10} {w} ... ", cfg.reps, peer.name);
                let res = if w == W::W5 {
                    run_child_w5(peer.name, cfg.w5, cfg.deadline)
                } else {
                    (peer.run)(w, &cfg)
                };
                match &res {
                    Ok(v) => eprintln!("{v:.3} {}", w.unit()),
                    Err(Skip::NotApplicable) => eprintln!("n/a"),
                    Err(Skip::Failed(_)) => eprintln!("failed"),
                }
                record(peer.name, w, res, &mut notes);
            }
        }
        if let Ok(escript) = &erlang {
            eprint!("rep {rep}/{} erlang     W1-W7 ... ", cfg.reps);
            let results = erlang_peer::run(escript, &cfg);
            eprintln!("done");
            for (w, res) in results.into_iter().filter(|(w, _)| workloads.contains(w)) {
                record("erlang", w, res, &mut notes);
            }
        }
    }

    // Allocation counts and idle CPU: separate passes, not timed.
    let mut extra = String::new();
    if wanted("paragram") {
        extra += &side::allocation_report(&cfg);
        extra += &side::dispatch_report(&cfg);
        extra += &side::idle_report("thread", cfg.idle);
    }
    if wanted("paragram scheduler") {
        extra += &side::idle_report("scheduler", cfg.idle_scheduler);
        extra += &side::timers_report(100_000);
    }
    let elapsed = started.elapsed();

    let out = report(
        &cfg,
        &names,
        &figures,
        &notes,
        erlang.as_ref().err(),
        &extra,
        elapsed,
    );
    println!("{out}");
}

// ---------------------------------------------------------------- W5 child

/// Runs W5 for `peer` in a fresh OS process and reads its figure.
fn run_child_w5(peer: &str, n: usize, deadline: Duration) -> Res {
    let exe = std::env::current_exe().or_fail("current_exe")?;
    let args = [HIDDEN_W5.to_owned(), peer.to_owned(), n.to_string()];
    let out = run_with_deadline(Command::new(exe).args(args), deadline)?;
    parse_figure(&out, "W5")
}

/// Runs `cmd`, killing it if it outlives `deadline`; its stdout.
pub fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> Result<String, Skip> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .or_fail("spawn child")?;
    let mut stdout = child.stdout.take().or_fail("child stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    match rx.recv_timeout(deadline) {
        Ok(s) => {
            let status = child.wait().or_fail("wait child")?;
            if !status.success() {
                return Err(Skip::Failed(format!("child exited with {status}: {s}")));
            }
            Ok(s)
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(Skip::Failed("child passed its deadline; killed".into()))
        }
    }
}

/// The number after `tag` on a line `tag value` of `out`.
pub fn parse_figure(out: &str, tag: &str) -> Res {
    for line in out.lines() {
        let mut parts = line.split_whitespace();
        if parts.next() == Some(tag) {
            return match parts.next() {
                Some("n/a") => Err(Skip::NotApplicable),
                Some(v) => v.parse().or_fail(tag),
                None => Err(Skip::Failed(format!("{tag}: no value"))),
            };
        }
    }
    Err(Skip::Failed(format!("no {tag} line in output: {out:?}")))
}

fn child_w5(args: &[String]) {
    let peer = args.first().map(String::as_str).unwrap_or("");
    let n: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let res = match peers().into_iter().find(|p| p.name == peer) {
        Some(p) => (p.w5)(n),
        None => Err(Skip::Failed(format!("unknown peer {peer}"))),
    };
    match res {
        Ok(v) => println!("W5 {v}"),
        Err(Skip::NotApplicable) => println!("W5 n/a"),
        Err(Skip::Failed(why)) => {
            println!("W5 failed");
            eprintln!("W5 {peer}: {why}");
        }
    }
    // Do not wait for 10,000 idle processes to unwind: the figure is out.
    std::process::exit(0);
}

/// Reads (after - before) VmRSS per process: `spawn` must leave `n` idle
/// processes alive (all started) when it returns.
pub fn rss_per_process(n: usize, spawn: impl FnOnce() -> Result<(), Skip>) -> Res {
    let before = rss::vm_rss_kib();
    spawn()?;
    let after = rss::vm_rss_kib();
    Ok(after.saturating_sub(before) as f64 / n as f64)
}
