//! paragram: one OS thread per process, runtime receivers (`ctx.receive`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use paragram::{Ctx, Elem, Kind, Pattern, Pid, Root, Spawn, SpawnError, pattern};

use crate::common::{self, Counted, Tally, Timed, Workloads, left};
use crate::producers::{self, Producers};
use crate::{Cfg, OrFail, Res, Skip, W, ns_per, recv_n};

/// The kind the processes of the peer now running are spawned on.
static KIND: Mutex<Option<Kind>> = Mutex::new(None);

/// A root whose processes run on the peer's kind.
fn root() -> Root {
    let kind = KIND
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or(Kind::THREAD);
    Root::with_kind(kind)
}

/// Runs `f` with the processes it spawns on `kind`.
fn on<T>(kind: Kind, f: impl FnOnce() -> T) -> T {
    *KIND.lock().unwrap_or_else(|e| e.into_inner()) = Some(kind);
    let result = f();
    *KIND.lock().unwrap_or_else(|e| e.into_inner()) = None;
    result
}

/// The runtime-receiver peer on the scheduler kind.
pub fn run_scheduler(w: W, cfg: &Cfg) -> Res {
    on(Kind::SCHEDULER, || run(w, cfg))
}

/// The compiled-dispatch peer on the scheduler kind.
pub fn run_scheduler_compiled(w: W, cfg: &Cfg) -> Res {
    on(Kind::SCHEDULER, || run_compiled(w, cfg))
}

/// W5 on the scheduler kind.
pub fn w5_scheduler(n: usize) -> Res {
    on(Kind::SCHEDULER, || w5(n))
}

/// Runtime receivers (`ctx.receive`).
struct Receivers;

/// Compiled dispatch: the message workloads W1, W2 and W6 with
/// `#[derive(Process)]` processes (W3-W5 do not depend on dispatch).
struct Compiled;

pub fn run(w: W, cfg: &Cfg) -> Res {
    common::measure(&Receivers, w, cfg, Instant::now() + cfg.deadline)
}

/// Runs the compiled-dispatch peer.
pub fn run_compiled(w: W, cfg: &Cfg) -> Res {
    common::measure(&Compiled, w, cfg, Instant::now() + cfg.deadline)
}

/// Allocations counted over the timed part of W1 / W2, and messages sent
/// and handled there.
pub fn count_allocs(w: W, cfg: &Cfg) -> Result<(u64, u64), Skip> {
    common::count_allocs(w, cfg, w1, w2)
}

impl Workloads for Receivers {
    fn w1(&self, n: u64, deadline: Instant) -> Timed {
        w1(n, deadline).map(|(d, _)| d)
    }
    fn w2(&self, total: u64, deadline: Instant) -> Timed {
        w2(total, deadline).map(|(d, _)| d)
    }
    fn w3(&self, n: usize, deadline: Instant) -> Timed {
        w3(n, deadline)
    }
    fn w4(&self, n: usize, deadline: Instant) -> Timed {
        w4(n, deadline)
    }
    fn w6(&self, n: u64, deadline: Instant) -> Timed {
        w6_runtime(n, deadline)
    }
    fn w7(&self, n: usize, deadline: Instant) -> Timed {
        w7(n, deadline)
    }
}

impl Workloads for Compiled {
    fn w1(&self, n: u64, deadline: Instant) -> Timed {
        w1_derived(n, deadline)
    }
    fn w2(&self, total: u64, deadline: Instant) -> Timed {
        w2_derived(total, deadline)
    }
    fn w6(&self, n: u64, deadline: Instant) -> Timed {
        w6_derived(n, deadline)
    }
}

/// Waits for every process in `pids` to end, all before `deadline`.
fn wait_all(pids: &[Pid], deadline: Instant) -> Result<(), Skip> {
    for pid in pids {
        pid.wait_timeout(left(deadline))
            .or_fail("process did not end before the deadline")?;
    }
    Ok(())
}

/// W1: ping and pong bounce a u64 `n` times. Returns the time and the
/// allocations counted meanwhile.
fn w1(n: u64, deadline: Instant) -> Counted {
    let root = root();
    let (done_tx, done_rx) = mpsc::channel();
    let ping_slot: Arc<OnceLock<Pid>> = Arc::new(OnceLock::new());
    let slot = ping_slot.clone();
    let pong = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!(u64), move |_, (x,): (u64,)| {
                if let Some(ping) = slot.get() {
                    let _ = ping.send(x);
                }
            })
        })
        .or_fail("spawn pong")?;
    let to_pong = pong.clone();
    let ping = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!(u64), move |_, (x,): (u64,)| {
                if x >= n {
                    let _ = done_tx.send(());
                } else {
                    let _ = to_pong.send(x + 1);
                }
            })
        })
        .or_fail("spawn ping")?;
    let _ = ping_slot.set(ping.clone());
    let kick = || {
        let start = Instant::now();
        ping.send(0u64).or_fail("kick")?;
        Ok(start)
    };
    let (elapsed, allocs) = common::clocked(kick, &done_rx, deadline, "ping-pong did not finish")?;
    ping.terminate();
    pong.terminate();
    wait_all(&[ping, pong], deadline)?;
    Ok((elapsed, allocs))
}

/// W2: two producer threads send `total` u64 to one counting process.
fn w2(total: u64, deadline: Instant) -> Counted {
    let root = root();
    let (done_tx, done_rx) = mpsc::channel();
    let counter = root
        .spawn(move |ctx: &mut Ctx| {
            let mut seen = 0u64;
            ctx.receive(pattern!(u64), move |_, (_x,): (u64,)| {
                seen += 1;
                if seen == total {
                    let _ = done_tx.send(());
                }
            })
        })
        .or_fail("spawn counter")?;
    // Producers report ready, then wait for the clock to start.
    let producers = Producers::spawn(total, true, sender(&counter), producers::plain)?;
    let go = || producers.start(deadline);
    let what = "counter did not see every message";
    let (elapsed, allocs) = common::clocked(go, &done_rx, deadline, what)?;
    producers.join()?;
    counter.terminate();
    wait_all(&[counter], deadline)?;
    Ok((elapsed, allocs))
}

/// What a W2 producer sends with: `pid.send(i)`.
fn sender(pid: &Pid) -> impl Fn(u64) + Clone + Send + 'static {
    let pid = pid.clone();
    move |i| {
        let _ = pid.send(i);
    }
}

/// W3: spawn `n` processes, send each a message, terminate each (queued
/// behind the message), wait for all.
fn w3(n: usize, deadline: Instant) -> Timed {
    let root = root();
    let handled = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut pids = Vec::with_capacity(n);
    for i in 0..n {
        let handled = handled.clone();
        let pid = root
            .spawn(move |ctx: &mut Ctx| {
                ctx.receive(pattern!(u64), move |_, (_x,): (u64,)| {
                    handled.fetch_add(1, Ordering::Relaxed);
                })
            })
            .or_fail("spawn")?;
        pid.send(i as u64).or_fail("send")?;
        pid.terminate();
        pids.push(pid);
    }
    wait_all(&pids, deadline)?;
    let elapsed = start.elapsed();
    let handled = handled.load(Ordering::SeqCst);
    if handled != n as u64 {
        return Err(Skip::Failed(format!("{handled} of {n} messages handled")));
    }
    Ok(elapsed)
}

/// W7: `n` processes spawned and alive at once, each answering one
/// message `("ping", Pid)` with `"pong"` to a counting process, then each
/// terminated and waited for. Only where the kind can hold that many
/// processes: not on threads.
fn w7(n: usize, deadline: Instant) -> Timed {
    let root = root();
    if KIND.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
        return Err(Skip::NotApplicable);
    }
    let (done_tx, done_rx) = mpsc::channel();
    let counter = root
        .spawn(move |ctx: &mut Ctx| {
            let mut seen = 0;
            ctx.receive(pattern!("pong"), move |_, ()| {
                seen += 1;
                if seen == n {
                    let _ = done_tx.send(());
                }
            })
        })
        .or_fail("spawn counter")?;
    let start = Instant::now();
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        let pid = root
            .spawn(|ctx: &mut Ctx| {
                ctx.receive(pattern!("ping", Pid), |_, (from,): (Pid,)| {
                    let _ = from.send("pong");
                })
            })
            .or_fail("spawn")?;
        pids.push(pid);
    }
    let spawned = start.elapsed();
    for pid in &pids {
        pid.send(("ping", counter.clone())).or_fail("send")?;
    }
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("not every process answered")?;
    let answered = start.elapsed();
    for pid in &pids {
        pid.terminate();
    }
    wait_all(&pids, deadline)?;
    let elapsed = start.elapsed();
    eprint!(
        "(spawned {:.3} s, answered {:.3} s, ended {:.3} s) ",
        spawned.as_secs_f64(),
        answered.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    if pids.iter().any(|p| p.exit().is_none_or(|e| !e.is_normal())) {
        return Err(Skip::Failed("a process did not end normally".into()));
    }
    counter.terminate();
    wait_all(&[counter], deadline)?;
    Ok(elapsed)
}

/// Start-up code of a process, boxed so that it can name itself.
type StartUp = Box<dyn FnOnce(&mut Ctx) -> Result<(), SpawnError> + Send>;

/// Start-up code of chain member: reports itself, spawns the next linked.
fn chain_member(remaining: usize, report: mpsc::Sender<Pid>) -> StartUp {
    Box::new(move |ctx: &mut Ctx| {
        let _ = report.send(ctx.me());
        if remaining > 1 {
            ctx.spawn_link(chain_member(remaining - 1, report))?;
        }
        Ok(())
    })
}

/// W4: a chain of `n` processes, each linked to the next; kill the first
/// with an error and time until all are dead.
fn w4(n: usize, deadline: Instant) -> Timed {
    let root = root();
    let (tx, rx) = mpsc::channel();
    let first = root.spawn(chain_member(n, tx)).or_fail("spawn chain")?;
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        pids.push(rx.recv_timeout(left(deadline)).or_fail("chain not built")?);
    }
    let start = Instant::now();
    first.terminate_with("killed");
    wait_all(&pids, deadline)?;
    let elapsed = start.elapsed();
    if pids.iter().any(|p| p.exit().is_none_or(|e| e.is_normal())) {
        return Err(Skip::Failed("a chain member ended normally".into()));
    }
    Ok(elapsed)
}

/// `n` idle processes of `kind`, as [`spawn_idle`].
pub fn spawn_idle_on(kind: Kind, n: usize, deadline: Instant) -> Result<(Root, Vec<Pid>), Skip> {
    on(kind, || spawn_idle(n, deadline))
}

/// `n` idle processes, each with one receiver, all started; dropping the
/// result lets them end.
pub fn spawn_idle(n: usize, deadline: Instant) -> Result<(Root, Vec<Pid>), Skip> {
    let root = root();
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        let ready = ready_tx.clone();
        let pid = root
            .spawn(move |ctx: &mut Ctx| {
                ctx.receive(pattern!(u64), |_, (_x,): (u64,)| {})?;
                let _ = ready.send(());
                Ok::<(), paragram::BoxError>(())
            })
            .or_fail("spawn idle")?;
        pids.push(pid);
    }
    recv_n(&ready_rx, n, deadline, "idle processes did not start")?;
    Ok((root, pids))
}

/// W5 (in a fresh OS process): RSS growth per idle process.
pub fn w5(n: usize) -> Res {
    let mut keep = None;
    let per = crate::rss_per_process(n, || {
        keep = Some(spawn_idle(n, Instant::now() + Duration::from_secs(60))?);
        Ok(())
    });
    // The child process exits right after printing; nothing to tear down.
    std::mem::forget(keep);
    per
}

/// W6, runtime receivers: 10 receivers registered with `ctx.receive`
/// (`("r1", u64)` .. `("r10", u64)`), every message matching the last.
fn w6_runtime(n: u64, deadline: Instant) -> Timed {
    let root = root();
    let (done_tx, done_rx) = mpsc::channel();
    let sink = root
        .spawn(move |ctx: &mut Ctx| {
            for i in 1..=9 {
                let pattern = Pattern::new(vec![Elem::lit(format!("r{i}")), Elem::of::<u64>()])?;
                ctx.receive(pattern, |_, (_x,): (u64,)| {})?;
            }
            let mut seen = 0u64;
            ctx.receive(pattern!("r10", u64), move |_, (_x,): (u64,)| {
                seen += 1;
                if seen == n {
                    let _ = done_tx.send(());
                }
            })?;
            Ok::<(), paragram::BoxError>(())
        })
        .or_fail("spawn 10-receiver process")?;
    let start = Instant::now();
    for i in 0..n {
        sink.send(("r10", i)).or_fail("send")?;
    }
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("not every message handled")?;
    let elapsed = start.elapsed();
    sink.terminate();
    wait_all(&[sink], deadline)?;
    Ok(elapsed)
}

/// The 10-receiver process of W6 in compiled form: the same patterns as
/// `w6_runtime`, turned by the macros into one static `match`.
#[derive(paragram::Process)]
struct TenReceivers(Tally<mpsc::Sender<()>>, Option<mpsc::Receiver<()>>);

#[paragram::process]
impl TenReceivers {
    #[receive("r1", u64)]
    fn r1(&mut self, _x: u64) {}
    #[receive("r2", u64)]
    fn r2(&mut self, _x: u64) {}
    #[receive("r3", u64)]
    fn r3(&mut self, _x: u64) {}
    #[receive("r4", u64)]
    fn r4(&mut self, _x: u64) {}
    #[receive("r5", u64)]
    fn r5(&mut self, _x: u64) {}
    #[receive("r6", u64)]
    fn r6(&mut self, _x: u64) {}
    #[receive("r7", u64)]
    fn r7(&mut self, _x: u64) {}
    #[receive("r8", u64)]
    fn r8(&mut self, _x: u64) {}
    #[receive("r9", u64)]
    fn r9(&mut self, _x: u64) {}
    #[receive("r10", u64)]
    fn r10(&mut self, _x: u64) {
        self.0.count();
    }
    /// Holds the process until the mailbox is filled (dispatch-only runs).
    #[receive("gate")]
    fn gate(&mut self) {
        if let Some(gate) = self.1.take() {
            let _ = gate.recv();
        }
    }
}

/// W1's pong, compiled: bounces every number back to ping.
#[derive(paragram::Process)]
struct Pong {
    ping: Arc<OnceLock<Pid>>,
}

#[paragram::process]
impl Pong {
    #[receive(u64)]
    fn bounce(&mut self, x: u64) {
        if let Some(ping) = self.ping.get() {
            let _ = ping.send(x);
        }
    }
}

/// W1's ping, compiled: sends the number on until it reaches `n`.
#[derive(paragram::Process)]
struct Ping {
    pong: Pid,
    n: u64,
    done: mpsc::Sender<()>,
}

#[paragram::process]
impl Ping {
    #[receive(u64)]
    fn bounce(&mut self, x: u64) {
        if x >= self.n {
            let _ = self.done.send(());
        } else {
            let _ = self.pong.send(x + 1);
        }
    }
}

/// W1 with compiled processes.
fn w1_derived(n: u64, deadline: Instant) -> Timed {
    let root = root();
    let (done, done_rx) = mpsc::channel();
    let slot = Arc::new(OnceLock::new());
    let pong = root
        .spawn(Pong { ping: slot.clone() })
        .or_fail("spawn pong")?;
    let ping = root
        .spawn(Ping {
            pong: pong.clone(),
            n,
            done,
        })
        .or_fail("spawn ping")?;
    let _ = slot.set(ping.clone());
    let start = Instant::now();
    ping.send(0u64).or_fail("kick")?;
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("ping-pong did not finish")?;
    let elapsed = start.elapsed();
    ping.terminate();
    pong.terminate();
    wait_all(&[ping, pong], deadline)?;
    Ok(elapsed)
}

/// W2's counting process, compiled.
#[derive(paragram::Process)]
struct Counter(Tally<mpsc::Sender<()>>);

#[paragram::process]
impl Counter {
    #[receive(u64)]
    fn count(&mut self, _x: u64) {
        self.0.count();
    }
}

/// W2 with a compiled counting process.
fn w2_derived(total: u64, deadline: Instant) -> Timed {
    let root = root();
    let (done, done_rx) = mpsc::channel();
    let counter = root
        .spawn(Counter(Tally::new(total, done)))
        .or_fail("spawn counter")?;
    let producers = Producers::spawn(total, false, sender(&counter), producers::plain)?;
    let elapsed = producers.run_until(&done_rx, deadline)?;
    counter.terminate();
    wait_all(&[counter], deadline)?;
    Ok(elapsed)
}

/// W5 has no compiled variant: the process is the same size.
pub fn w5_compiled(_n: usize) -> Res {
    Err(Skip::NotApplicable)
}

/// W6, compiled dispatch: the same 10 receivers as a `#[derive(Process)]`
/// struct, every message matching the last.
fn w6_derived(n: u64, deadline: Instant) -> Timed {
    let root = root();
    let (done, done_rx) = mpsc::channel();
    let sink = root
        .spawn(TenReceivers(Tally::new(n, done), None))
        .or_fail("spawn 10-receiver process")?;
    let start = Instant::now();
    for i in 0..n {
        sink.send(("r10", i)).or_fail("send")?;
    }
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("not every message handled")?;
    let elapsed = start.elapsed();
    sink.terminate();
    wait_all(&[sink], deadline)?;
    Ok(elapsed)
}

/// The cost of dispatch alone through the 10-receiver process of W6: the
/// process is held at a gate while `n` messages are queued, then released;
/// the time from release to the last message handled, per message. Runtime
/// receivers against the compiled `match`, in ns per message.
pub fn dispatch_only(n: u64, deadline: Instant) -> Result<(f64, f64), Skip> {
    let runtime = gated(n, deadline, |done, gate| {
        Spawn::new(move |ctx: &mut Ctx| {
            for i in 1..=9 {
                let pattern = Pattern::new(vec![Elem::lit(format!("r{i}")), Elem::of::<u64>()])?;
                ctx.receive(pattern, |_, (_x,): (u64,)| {})?;
            }
            let mut tally = Tally::new(n, done);
            ctx.receive(pattern!("r10", u64), move |_, (_x,): (u64,)| tally.count())?;
            let mut gate = Some(gate);
            ctx.receive(pattern!("gate"), move |_, ()| {
                if let Some(gate) = gate.take() {
                    let _ = gate.recv();
                }
            })?;
            Ok::<(), paragram::BoxError>(())
        })
    })?;
    let compiled = gated(n, deadline, |done, gate| {
        Spawn::new(TenReceivers(Tally::new(n, done), Some(gate)))
    })?;
    Ok((ns_per(runtime, n), ns_per(compiled, n)))
}

/// Spawns what `make` builds, queues the gate and `n` messages behind it,
/// opens the gate and times until the last one is handled.
fn gated(
    n: u64,
    deadline: Instant,
    make: impl FnOnce(mpsc::Sender<()>, mpsc::Receiver<()>) -> Spawn,
) -> Timed {
    let root = root();
    let (done, done_rx) = mpsc::channel();
    let (open, gate) = mpsc::channel();
    let sink = root
        .spawn(make(done, gate))
        .or_fail("spawn 10-receiver process")?;
    sink.send("gate").or_fail("send")?;
    for i in 0..n {
        sink.send(("r10", i)).or_fail("send")?;
    }
    let start = Instant::now();
    open.send(()).or_fail("open the gate")?;
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("not every message handled")?;
    let elapsed = start.elapsed();
    sink.terminate();
    wait_all(&[sink], deadline)?;
    Ok(elapsed)
}
