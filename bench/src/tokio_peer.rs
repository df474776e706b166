//! The tokio-based actor peers (ractor, kameo): their workloads, each run
//! on a fresh multi-thread runtime.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::common::{self, Timed, Workloads};
use crate::{Cfg, OrFail, Res, Skip, W};

/// A workload on a runtime: the runtime, the size, the deadline.
type On<N> = fn(&Runtime, N, Instant) -> Timed;

/// A tokio peer's workloads.
pub struct TokioPeer {
    pub w1: On<u64>,
    pub w2: On<u64>,
    pub w3: On<usize>,
    pub w4: On<usize>,
    pub w6: On<u64>,
}

/// A tokio peer on the runtime of one workload.
struct OnRuntime<'a>(&'a TokioPeer, &'a Runtime);

impl TokioPeer {
    /// Runs workload `w` on a fresh runtime, shut down afterwards.
    pub fn run(&self, w: W, cfg: &Cfg) -> Res {
        let deadline = Instant::now() + cfg.deadline;
        let rt = runtime()?;
        let res = common::measure(&OnRuntime(self, &rt), w, cfg, deadline);
        rt.shutdown_timeout(Duration::from_secs(5));
        res
    }
}

impl Workloads for OnRuntime<'_> {
    fn w1(&self, n: u64, deadline: Instant) -> Timed {
        (self.0.w1)(self.1, n, deadline)
    }
    fn w2(&self, total: u64, deadline: Instant) -> Timed {
        (self.0.w2)(self.1, total, deadline)
    }
    fn w3(&self, n: usize, deadline: Instant) -> Timed {
        (self.0.w3)(self.1, n, deadline)
    }
    fn w4(&self, n: usize, deadline: Instant) -> Timed {
        (self.0.w4)(self.1, n, deadline)
    }
    fn w6(&self, n: u64, deadline: Instant) -> Timed {
        (self.0.w6)(self.1, n, deadline)
    }
}

/// A fresh tokio multi-thread runtime.
fn runtime() -> Result<Runtime, Skip> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .or_fail("tokio runtime")
}

/// W5 (in a fresh OS process) on a fresh runtime: `spawn`, run on it with
/// W3's shared counter, pushes `n` idle actors onto `keep`, all started.
pub fn w5<K>(
    n: usize,
    spawn: impl AsyncFnOnce(&mut Vec<K>, Arc<AtomicU64>) -> Result<(), Skip>,
) -> Res {
    let rt = runtime()?;
    let handled = Arc::new(AtomicU64::new(0));
    let mut keep = Vec::with_capacity(n);
    let per = crate::rss_per_process(n, || rt.block_on(spawn(&mut keep, handled)));
    std::mem::forget(keep);
    std::mem::forget(rt);
    per
}
