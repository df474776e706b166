//! The thread kind: one OS thread per process, which drives it with a
//! loop: run what is ready; when nothing is, wait as a thread waits (a
//! short spin, a few yields, then parked until a send wakes it); at the
//! exit, the exit steps. The thread is joined before `wait` returns.

use crate::driver::{Driver, Launch};
use crate::link;
use crate::pid::Pid;
use crate::runner::{Progress, Runner};
use crate::spawn::SpawnError;
use crate::threads::{self, Slot, thread_name};

/// The thread kind's driver.
pub(crate) struct PerThread;

impl Driver for PerThread {
    fn name(&self) -> &'static str {
        "Thread"
    }

    fn start(&self, launch: Launch) -> Result<Pid, SpawnError> {
        let slot = Slot::take()?;
        let stack_size = launch.stack_size;
        let (runner, core, link) = Runner::launch(launch, self.name());
        link(&core)?;
        let pid = Pid::from_core(core.clone());
        let name = thread_name(&core.name, "");
        match threads::start(name, stack_size, slot, move |_slot| drive(runner)) {
            Ok(handle) => {
                core.set_reaper(Box::new(move || {
                    // The thread has finished the exit steps; joining only
                    // waits for it to unwind its last frame.
                    let _ = handle.join();
                }));
                Ok(pid)
            }
            Err(error) => {
                link::detach(&core);
                Err(SpawnError::Os(error))
            }
        }
    }
}

/// Runs the process on the calling thread, from start-up to its last exit
/// step.
fn drive(mut runner: Runner) {
    loop {
        match runner.run_ready(usize::MAX) {
            Progress::Idle | Progress::Yielded => runner.wait(),
            Progress::Exited(exit) => return runner.finish(exit),
        }
    }
}
