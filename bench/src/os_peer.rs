//! paragram's OS-process kind: W1's pong and W2's counter are derived,
//! serializable processes spawned with `Spawn::os_process`, so they run in
//! a child OS process (this binary, re-executed and entered through the
//! hook at the top of `main`). Ping, the producers and the clock stay here;
//! every message crosses the Unix socket as a wire frame.
//!
//! Only W1 and W2 are measured: the others are n/a.

use std::sync::mpsc;
use std::time::Instant;

use paragram::os_process::Registry;
use paragram::{Pid, Root, Spawn};
use serde::{Deserialize, Serialize};

use crate::common::{self, Timed, Workloads, left};
use crate::producers::{self, Producers};
use crate::{Cfg, OrFail, Res, Skip, W};

/// Round trips before W1's clock starts: the child is up and both
/// directions have carried frames.
const WARM_UP: u64 = 100;

/// The peer "paragram os-process".
struct OsProcess;

pub fn run(w: W, cfg: &Cfg) -> Res {
    common::measure(&OsProcess, w, cfg, Instant::now() + cfg.deadline)
}

/// W5 is not measured for this peer.
pub fn w5(_n: usize) -> Res {
    Err(Skip::NotApplicable)
}

/// The types this peer spawns as OS processes: for the hook in `main`.
pub fn register(r: &mut Registry) {
    r.register::<OsPong>();
    r.register::<OsCounter>();
}

impl Workloads for OsProcess {
    fn w1(&self, n: u64, deadline: Instant) -> Timed {
        w1(n, deadline)
    }
    fn w2(&self, total: u64, deadline: Instant) -> Timed {
        w2(total, deadline)
    }
}

/// W1's pong, in the child: bounces every number back to `reply`, which
/// it is told first.
#[derive(paragram::Process, Serialize, Deserialize)]
struct OsPong {
    #[serde(skip)]
    reply: Option<Pid>,
}

#[paragram::process]
impl OsPong {
    #[receive("reply to", Pid)]
    fn reply_to(&mut self, to: Pid) {
        self.reply = Some(to);
    }

    #[receive(u64)]
    fn bounce(&mut self, x: u64) {
        if let Some(reply) = &self.reply {
            let _ = reply.send(x);
        }
    }
}

/// W1's ping, here (a thread): on `("go", n)` plays `n` round trips with
/// pong, then says so on `done`.
#[derive(paragram::Process)]
struct Ping {
    pong: Pid,
    left: u64,
    done: mpsc::Sender<()>,
}

#[paragram::process]
impl Ping {
    #[receive("go", u64)]
    fn go(&mut self, n: u64) {
        self.left = n;
        let _ = self.pong.send(0u64);
    }

    #[receive(u64)]
    fn bounce(&mut self, x: u64) {
        self.left = self.left.saturating_sub(1);
        if self.left == 0 {
            let _ = self.done.send(());
        } else {
            let _ = self.pong.send(x + 1);
        }
    }
}

/// W1: ping (here) and pong (child OS process) bounce a u64 `n` times.
fn w1(n: u64, deadline: Instant) -> Timed {
    let root = Root::new();
    let pong = root
        .spawn(Spawn::os_process(OsPong { reply: None }).name("pong"))
        .or_fail("spawn pong")?;
    let (done, done_rx) = mpsc::channel();
    let ping = root
        .spawn(Ping {
            pong: pong.clone(),
            left: 0,
            done,
        })
        .or_fail("spawn ping")?;
    pong.send(("reply to", ping.clone())).or_fail("introduce")?;
    ping.send(("go", WARM_UP)).or_fail("warm up")?;
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("warm-up did not finish")?;
    let start = Instant::now();
    ping.send(("go", n)).or_fail("kick")?;
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("ping-pong did not finish")?;
    let elapsed = start.elapsed();
    end(&[ping, pong], deadline)?;
    Ok(elapsed)
}

/// W2's counting process, in the child: counts `total` numbers, then
/// says `"done"` to `report` (told first, answered with `"ready"`).
#[derive(paragram::Process, Serialize, Deserialize)]
struct OsCounter {
    total: u64,
    #[serde(skip)]
    seen: u64,
    #[serde(skip)]
    report: Option<Pid>,
}

#[paragram::process]
impl OsCounter {
    #[receive("report to", Pid)]
    fn report_to(&mut self, to: Pid) {
        let _ = to.send("ready");
        self.report = Some(to);
    }

    #[receive(u64)]
    fn count(&mut self, _x: u64) {
        self.seen += 1;
        if self.seen == self.total
            && let Some(report) = &self.report
        {
            let _ = report.send("done");
        }
    }
}

/// Here (a thread): passes the counter's `"ready"` and `"done"` on.
#[derive(paragram::Process)]
struct Listener(mpsc::Sender<()>);

#[paragram::process]
impl Listener {
    #[receive("ready")]
    fn ready(&mut self) {
        let _ = self.0.send(());
    }

    #[receive("done")]
    fn done(&mut self) {
        let _ = self.0.send(());
    }
}

/// W2: two producer threads send `total` u64 to the counter in the child;
/// the clock stops when its `"done"` arrives here.
fn w2(total: u64, deadline: Instant) -> Timed {
    let root = Root::new();
    let (heard, heard_rx) = mpsc::channel();
    let listener = root.spawn(Listener(heard)).or_fail("spawn listener")?;
    let counter = OsCounter {
        total,
        seen: 0,
        report: None,
    };
    let counter = root
        .spawn(Spawn::os_process(counter).name("counter"))
        .or_fail("spawn counter")?;
    counter
        .send(("report to", listener.clone()))
        .or_fail("introduce")?;
    heard_rx
        .recv_timeout(left(deadline))
        .or_fail("counter did not start")?;
    let to = counter.clone();
    let send = move |i: u64| {
        let _ = to.send(i);
    };
    let producers = Producers::spawn(total, false, send, producers::plain)?;
    let elapsed = producers.run_until(&heard_rx, deadline)?;
    end(&[counter, listener], deadline)?;
    Ok(elapsed)
}

/// Terminates `pids` and waits (before `deadline`) for each to end; an
/// OS process's end includes its child being reaped.
fn end(pids: &[Pid], deadline: Instant) -> Result<(), Skip> {
    for pid in pids {
        pid.terminate();
    }
    for pid in pids {
        pid.wait_timeout(left(deadline))
            .or_fail("process did not end before the deadline")?;
    }
    Ok(())
}
