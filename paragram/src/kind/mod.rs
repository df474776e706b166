//! Kinds: what drives a process. The process logic is the same whatever
//! the kind; a kind only starts the runner and feeds it its mailbox.

pub(crate) mod os_process;
mod thread;

use crate::runner::Runner;
use crate::spawn::SpawnError;

pub use thread::thread_limit;

/// What runs a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Kind {
    /// One OS thread per process, named after the process.
    #[default]
    Thread,
    /// A child OS process running this same program, for isolation from
    /// crashes, aborts and global state; spawn with
    /// [`Spawn::os_process`](crate::Spawn::os_process).
    OsProcess,
}

impl Kind {
    /// The kind's name, used in default process names and `Debug` output.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Thread => "Thread",
            Kind::OsProcess => "OsProcess",
        }
    }
}

/// Starts `runner` under `kind`.
pub(crate) fn start(
    kind: Kind,
    runner: Runner,
    stack_size: Option<usize>,
) -> Result<(), SpawnError> {
    match kind {
        Kind::Thread => thread::start(runner, stack_size),
        // Spawned by `os_process::spawn`, never through a runner here.
        Kind::OsProcess => Err(SpawnError::NotSerializable),
    }
}
