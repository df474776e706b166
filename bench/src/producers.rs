//! W2's two producer threads: each sends its half of the messages once
//! the clock has started.

use std::sync::{Arc, Barrier, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crate::common::{Timed, left};
use crate::{OrFail, Skip, recv_n};

/// A producer's body, for the peer's way of spawning a thread.
pub type Body = Box<dyn FnOnce() + Send + 'static>;

/// The two producers, parked until [`Producers::start`].
pub struct Producers<H> {
    /// Where the producers report that they have started, if they do.
    ready: Option<mpsc::Receiver<()>>,
    barrier: Arc<Barrier>,
    pub handles: Vec<H>,
}

/// Spawns a plain thread: for [`Producers::spawn`].
pub fn plain(body: Body) -> Result<JoinHandle<()>, Skip> {
    Ok(thread::spawn(body))
}

impl<H> Producers<H> {
    /// Spawns two producers through `spawn`, sending `total / 2` and the
    /// rest with `send(0)`, `send(1)`, ...; with `ready`, each reports
    /// that it has started before it parks.
    pub fn spawn(
        total: u64,
        ready: bool,
        send: impl Fn(u64) + Clone + Send + 'static,
        mut spawn: impl FnMut(Body) -> Result<H, Skip>,
    ) -> Result<Producers<H>, Skip> {
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let barrier = Arc::new(Barrier::new(3));
        let mut handles = Vec::with_capacity(2);
        for count in [total / 2, total - total / 2] {
            let send = send.clone();
            let barrier = barrier.clone();
            let ready = ready.then(|| ready_tx.clone());
            handles.push(spawn(Box::new(move || {
                if let Some(ready) = ready {
                    let _ = ready.send(());
                }
                barrier.wait();
                for i in 0..count {
                    send(i);
                }
            }))?);
        }
        Ok(Producers {
            ready: ready.then_some(ready_rx),
            barrier,
            handles,
        })
    }

    /// Waits (before `deadline`) until both producers have started, if
    /// they report it, then starts the clock and releases them.
    pub fn start(&self, deadline: Instant) -> Result<Instant, Skip> {
        if let Some(ready) = &self.ready {
            recv_n(ready, 2, deadline, "producers not ready")?;
        }
        let start = Instant::now();
        self.barrier.wait();
        Ok(start)
    }
}

impl Producers<JoinHandle<()>> {
    /// Starts the clock and releases the producers (as `start`); the time
    /// until `done` says the receiver has seen every message (before
    /// `deadline`), once both producers are joined.
    pub fn run_until(self, done: &mpsc::Receiver<()>, deadline: Instant) -> Timed {
        let start = self.start(deadline)?;
        done.recv_timeout(left(deadline))
            .or_fail("counter did not see every message")?;
        let elapsed = start.elapsed();
        self.join()?;
        Ok(elapsed)
    }

    /// Joins both producers.
    pub fn join(self) -> Result<(), Skip> {
        for p in self.handles {
            p.join().or_fail("producer panicked")?;
        }
        Ok(())
    }
}
