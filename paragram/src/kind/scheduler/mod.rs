//! The scheduler kind: many processes on a few worker threads, as Erlang's
//! schedulers run its processes, with no thread, no stack and no future
//! per process. A process never blocks inside a receive: it is state, a
//! mailbox and a dispatch, so a worker runs it for a batch of messages,
//! then another.
//!
//! `task.rs`: a process as the scheduler sees it, and its wake-up.
//! `pool.rs`: the workers, their run queues and their sleep protocol.
//! `worker.rs`: a worker's loop, and what it does around a blocking call.
//! `monitor.rs`: the thread that finds a worker held by one process.

mod monitor;
mod pool;
mod task;
mod worker;

use crate::driver::{Driver, Launch};
use crate::pid::Pid;
use crate::spawn::SpawnError;

pub(crate) use monitor::{LONG_SCHEDULE, set_system_monitor};
pub(crate) use pool::set_workers;

/// The scheduler kind's driver.
pub(crate) struct Scheduling;

impl Driver for Scheduling {
    fn name(&self) -> &'static str {
        "Scheduler"
    }

    fn own_stack(&self) -> bool {
        false
    }

    fn start(&self, launch: Launch) -> Result<Pid, SpawnError> {
        pool::ready()?;
        let (pid, task) = task::new(launch, self.name())?;
        pool::schedule(task, pool::Push::Behind);
        Ok(pid)
    }
}
