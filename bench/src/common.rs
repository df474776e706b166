//! What every peer shares: the workload dispatch ([`Workloads`],
//! [`measure`]), deadlines, the timed wait with allocation counting, the
//! counting of W2/W6's receiver ([`Tally`]) and W6's ten-variant message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::{Cfg, OrFail, Res, Skip, W, alloc, ns_per};

/// A workload's measured time.
pub type Timed = Result<Duration, Skip>;

/// A workload's measured time and the allocations counted meanwhile.
pub type Counted = Result<(Duration, u64), Skip>;

/// How long is left until `deadline`.
pub fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// A peer's in-process workloads (W5 runs in a child process): each gets
/// its size and deadline and returns the measured time.
pub trait Workloads {
    fn w1(&self, n: u64, deadline: Instant) -> Timed;
    fn w2(&self, total: u64, deadline: Instant) -> Timed;
    fn w3(&self, _n: usize, _deadline: Instant) -> Timed {
        Err(Skip::NotApplicable)
    }
    fn w4(&self, _n: usize, _deadline: Instant) -> Timed {
        Err(Skip::NotApplicable)
    }
    fn w6(&self, _n: u64, _deadline: Instant) -> Timed {
        Err(Skip::NotApplicable)
    }
    fn w7(&self, _n: usize, _deadline: Instant) -> Timed {
        Err(Skip::NotApplicable)
    }
}

/// Runs workload `w` of `peer` with the sizes of `cfg`; its figure, in
/// `w.unit()`.
pub fn measure(peer: &impl Workloads, w: W, cfg: &Cfg, deadline: Instant) -> Res {
    match w {
        W::W1 => peer.w1(cfg.w1, deadline).map(|d| ns_per(d, cfg.w1)),
        W::W2 => peer
            .w2(cfg.w2, deadline)
            .map(|d| cfg.w2 as f64 / d.as_secs_f64() / 1e6),
        W::W3 => peer
            .w3(cfg.w3, deadline)
            .map(|d| ns_per(d, cfg.w3 as u64) / 1e3),
        W::W4 => peer.w4(cfg.w4, deadline).map(|d| d.as_secs_f64() * 1e3),
        W::W5 => Err(Skip::Failed("W5 runs in a child process".into())),
        W::W6 => peer.w6(cfg.w6, deadline).map(|d| ns_per(d, cfg.w6)),
        W::W7 => peer.w7(cfg.w7, deadline).map(|d| d.as_secs_f64()),
    }
}

/// Allocations counted over the timed part of W1 / W2 (run by `w1` /
/// `w2`), and messages sent and handled there.
pub fn count_allocs(
    w: W,
    cfg: &Cfg,
    w1: impl FnOnce(u64, Instant) -> Counted,
    w2: impl FnOnce(u64, Instant) -> Counted,
) -> Result<(u64, u64), Skip> {
    let deadline = Instant::now() + cfg.deadline;
    match w {
        W::W1 => w1(cfg.w1, deadline).map(|(_, a)| (a, 2 * cfg.w1)),
        W::W2 => w2(cfg.w2, deadline).map(|(_, a)| (a, cfg.w2)),
        _ => Err(Skip::NotApplicable),
    }
}

/// W3's result: `elapsed`, if `handled` counted all `n` messages.
pub fn all_handled(elapsed: Duration, handled: &AtomicU64, n: usize) -> Timed {
    if handled.load(Ordering::SeqCst) != n as u64 {
        return Err(Skip::Failed("not every message handled".into()));
    }
    Ok(elapsed)
}

/// Counts allocations while `go` starts the clock (returning when it
/// started) and `done` is awaited (before `deadline`); the time from that
/// start to `done`, and the allocations.
pub fn clocked<T>(
    go: impl FnOnce() -> Result<Instant, Skip>,
    done: &mpsc::Receiver<T>,
    deadline: Instant,
    what: &str,
) -> Counted {
    alloc::start();
    let start = go()?;
    let done = done.recv_timeout(left(deadline));
    let elapsed = start.elapsed();
    let allocs = alloc::stop();
    done.or_fail(what)?;
    Ok((elapsed, allocs))
}

/// Told once, when a count is complete.
pub trait Notify {
    fn notify(&mut self);
}

impl Notify for mpsc::Sender<()> {
    fn notify(&mut self) {
        let _ = self.send(());
    }
}

impl Notify for Option<oneshot::Sender<()>> {
    fn notify(&mut self) {
        if let Some(done) = self.take() {
            let _ = done.send(());
        }
    }
}

/// Counts the messages a receiver handles; notifies `done` at the
/// `total`-th.
pub struct Tally<D> {
    seen: u64,
    total: u64,
    done: D,
}

impl<D: Notify> Tally<D> {
    pub fn new(total: u64, done: D) -> Tally<D> {
        Tally {
            seen: 0,
            total,
            done,
        }
    }

    #[inline]
    pub fn count(&mut self) {
        self.seen += 1;
        if self.seen == self.total {
            self.done.notify();
        }
    }
}

/// W6's message for the peers that dispatch on an enum: ten variants,
/// every message sent is `R10`.
#[allow(dead_code)] // only R10 is sent: the match still has ten arms
pub enum Ten {
    R1(u64),
    R2(u64),
    R3(u64),
    R4(u64),
    R5(u64),
    R6(u64),
    R7(u64),
    R8(u64),
    R9(u64),
    R10(u64),
}
