//! A process of the scheduler kind: its runner, kept here while no worker
//! runs it, and its state, which says who may run it next.
//!
//! The states, and who moves a task between them:
//! - `SCHEDULED`: in a run queue or a LIFO slot. Set by a wake-up of an
//!   `IDLE` task (which then queues it), by the spawn, or by the worker
//!   that ran it and found more to do.
//! - `RUNNING`: a worker has taken its runner. Set by that worker.
//! - `NOTIFIED`: running, and woken meanwhile. Set by a wake-up of a
//!   `RUNNING` task; the worker that runs it queues it again.
//! - `IDLE`: asleep on its mailbox, its runner back here. Set by the worker
//!   that ran it, after it has put the runner back, so that a wake-up that
//!   queues it always finds the runner.
//! - `DONE`: it has ended. Set by the worker that ran its exit steps.
//!
//! The mailbox calls the wake-up after every send: while the task runs
//! it costs the first sender one compare-and-swap, and every other a load.
//! No wake-up is lost: a worker that finds the mailbox empty puts the task
//! to sleep only if no send has notified it since it took it.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Weak};

use crossbeam_utils::atomic::AtomicCell;

use super::pool::{self, Push};
use crate::driver::Launch;
use crate::mailbox::{Wake, Waker};
use crate::pid::{Core, Pid};
use crate::runner::{Progress, Runner};
use crate::spawn::SpawnError;

const SCHEDULED: u8 = 0;
const RUNNING: u8 = 1;
const NOTIFIED: u8 = 2;
const IDLE: u8 = 3;
const DONE: u8 = 4;

/// A process, as the scheduler sees it.
pub(crate) struct Task {
    state: AtomicU8,
    /// The runner, while no worker runs it: one pointer, taken and put
    /// back with an atomic swap.
    runner: AtomicCell<Option<Box<Runner>>>,
    /// Itself, to queue when a send wakes it.
    me: Weak<Task>,
    /// Its process, for the monitor to name it.
    core: Weak<Core>,
    /// Whether the monitor has reported it.
    reported: AtomicBool,
}

/// What became of a task a worker ran.
pub(crate) enum Ran {
    /// It has more to do: the worker queues it again.
    Again,
    /// It sleeps until a send wakes it, or it has ended.
    Parked,
}

/// The task of `launch`'s process, and its `Pid`; queued, it runs its
/// start-up code.
pub(crate) fn new(launch: Launch, tag: &'static str) -> Result<(Pid, Arc<Task>), SpawnError> {
    let (runner, core, link) = Runner::launch(launch, tag);
    link(&core)?;
    let pid = Pid::from_core(core.clone());
    let task = Arc::new_cyclic(|me| Task {
        state: AtomicU8::new(SCHEDULED),
        runner: AtomicCell::new(Some(Box::new(runner))),
        me: me.clone(),
        core: Arc::downgrade(&core),
        reported: AtomicBool::new(false),
    });
    core.mailbox.set_waker(Waker::Call(task.clone()));
    Ok((pid, task))
}

impl Wake for Task {
    fn wake(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                DONE => return true,
                _ => return false,
            };
            match self
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next == SCHEDULED => {
                    if let Some(me) = self.me.upgrade() {
                        pool::schedule(me, Push::Woken);
                    }
                    return false;
                }
                Ok(_) => return false,
                Err(now) => state = now,
            }
        }
    }
}

impl Task {
    /// A handle to its process, unless it is gone, the first time this is
    /// asked for: the monitor reports a process once.
    pub(crate) fn report(&self) -> Option<Pid> {
        if self.reported.swap(true, Ordering::Relaxed) {
            return None;
        }
        self.core.upgrade().map(Pid::from_core)
    }

    /// Runs the process for up to `budget` envelopes on the calling worker.
    #[cfg(test)]
    pub(crate) fn run(&self, budget: usize) -> Ran {
        let Some(mut runner) = self.begin() else {
            return Ran::Parked;
        };
        let progress = runner.run_ready(budget);
        self.end(runner, progress)
    }

    /// Takes the runner, to run the process on the calling worker.
    pub(crate) fn begin(&self) -> Option<Box<Runner>> {
        self.state.store(RUNNING, Ordering::Release);
        self.runner.take()
    }

    /// What a run of the process came to: its exit steps if it ended; its
    /// runner back, and whether it is to run again, if not.
    pub(crate) fn end(&self, runner: Box<Runner>, progress: Progress) -> Ran {
        match progress {
            Progress::Exited(exit) => {
                self.state.store(DONE, Ordering::Release);
                (*runner).finish(exit);
                Ran::Parked
            }
            Progress::Yielded => self.again(runner),
            Progress::Idle => {
                self.runner.store(Some(runner));
                match self.state.compare_exchange(
                    RUNNING,
                    IDLE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => Ran::Parked,
                    // Woken while it ran: it runs again.
                    Err(_) => {
                        self.state.store(SCHEDULED, Ordering::Release);
                        Ran::Again
                    }
                }
            }
        }
    }

    fn again(&self, runner: Box<Runner>) -> Ran {
        self.runner.store(Some(runner));
        self.state.store(SCHEDULED, Ordering::Release);
        Ran::Again
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{Ran, new};
    use crate::ctx::Ctx;
    use crate::driver::{Kind, Launch};
    use crate::pid::next_id;
    use crate::process::FnProcess;
    use crate::runner::Envelope;
    use crate::spawn::DEFAULT_SHUTDOWN;

    /// A flooded process gives its worker back after its budget, every
    /// run, until it has caught up: the others get their turn between.
    #[test]
    fn a_run_handles_at_most_its_budget() {
        const QUEUED: usize = 200;
        const BUDGET: usize = 64;
        let launch = Launch {
            id: next_id(),
            name: "flooded".into(),
            process: Box::new(FnProcess::new(|_: &mut Ctx| {})),
            owner: None,
            default_kind: Kind::SCHEDULER,
            stack_size: None,
            shutdown: DEFAULT_SHUTDOWN,
            serialized: None,
            link: Box::new(|_| Ok(())),
        };
        let (pid, task) = new(launch, "Scheduler").unwrap();
        let handled = Arc::new(AtomicUsize::new(0));
        for _ in 0..QUEUED {
            let handled = handled.clone();
            let run = Envelope::Run(Box::new(move |_| {
                handled.fetch_add(1, Ordering::SeqCst);
            }));
            assert!(pid.core().mailbox.push(run).is_ok());
        }
        let mut runs = Vec::new();
        loop {
            let before = handled.load(Ordering::SeqCst);
            let ran = task.run(BUDGET);
            runs.push(handled.load(Ordering::SeqCst) - before);
            if let Ran::Parked = ran {
                break;
            }
        }
        assert_eq!(runs, [64, 64, 64, 8], "envelopes handled per run");
        // The terminate wakes it onto the pool's queue, where a worker
        // may run it first; either way it ends.
        pid.terminate();
        assert!(matches!(task.run(BUDGET), Ran::Parked));
        let exit = pid.wait_timeout(std::time::Duration::from_secs(10));
        assert!(exit.is_ok_and(|exit| exit.is_normal()));
    }
}
