//! Spawning: what to run and how, and the errors a spawn can return.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

use crate::ctx::Ctx;
use crate::kind::{self, Kind};
use crate::link;
use crate::mailbox::mailbox;
use crate::pid::{Core, Pid};
use crate::process::Process;
use crate::runner::Runner;

/// A process to spawn, with its options.
///
/// ```
/// use paragram::{Ctx, Root, Spawn};
/// let root = Root::new();
/// let pid = root
///     .spawn(Spawn::new(|_ctx: &mut Ctx| {}).name("worker"))
///     .unwrap();
/// assert_eq!(pid.name(), "worker");
/// ```
pub struct Spawn {
    pub(crate) process: Box<dyn Process>,
    pub(crate) name: Option<String>,
    pub(crate) link_to: Vec<Pid>,
    pub(crate) kind: Kind,
    pub(crate) stack_size: Option<usize>,
}

impl Spawn {
    /// What `process` spawns as, with default options.
    pub fn new(process: impl IntoSpawn) -> Spawn {
        process.into_spawn()
    }

    /// A [`Process`] value, with default options.
    pub fn process(process: impl Process) -> Spawn {
        Spawn {
            process: Box::new(process),
            name: None,
            link_to: Vec::new(),
            kind: Kind::default(),
            stack_size: None,
        }
    }

    /// Names the process (default: `<Kind>-<n>`).
    pub fn name(mut self, name: impl Into<String>) -> Spawn {
        self.name = Some(name.into());
        self
    }

    /// Links the process one way to `pid`: when the process ends, `pid`
    /// receives `(Exit, Pid)`; when `pid` ends, the process hears nothing.
    pub fn link_to(mut self, pid: &Pid) -> Spawn {
        self.link_to.push(pid.clone());
        self
    }

    /// Chooses what runs the process.
    pub fn kind(mut self, kind: Kind) -> Spawn {
        self.kind = kind;
        self
    }

    /// Sets the stack size, in bytes, of a process that runs on its own
    /// thread.
    pub fn stack_size(mut self, bytes: usize) -> Spawn {
        self.stack_size = Some(bytes);
        self
    }
}

/// Anything that can be spawned: a [`Spawn`], a start-up closure
/// `FnOnce(&mut Ctx)`, or a struct with `#[derive(Process)]`.
pub trait IntoSpawn {
    /// The process with its options.
    fn into_spawn(self) -> Spawn;
}

impl IntoSpawn for Spawn {
    fn into_spawn(self) -> Spawn {
        self
    }
}

/// Why a spawn failed. Nothing of the process remains: no link, no name.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The thread kind would pass the number of threads the machine can
    /// start without aborting the program.
    #[error("too many threads: {limit} processes of the thread kind are running")]
    ThreadLimit {
        /// The most threads this program starts.
        limit: usize,
    },
    /// The operating system refused to start the thread or process.
    #[error("the operating system refused to start the process: {0}")]
    Os(#[from] std::io::Error),
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Spawns `spawn`, linked both ways to `parent` if given.
pub(crate) fn spawn(spawn: Spawn, parent: Option<&Arc<Core>>) -> Result<Pid, SpawnError> {
    let Spawn {
        process,
        name,
        link_to,
        kind,
        stack_size,
    } = spawn;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let name = name.unwrap_or_else(|| format!("{}-{id}", kind.name()));
    let (mailbox, inbox) = mailbox();
    let core = Arc::new(Core::new(id, name, kind.name(), mailbox));
    if let Some(parent) = parent {
        link::link(parent, &core);
    }
    for watcher in &link_to {
        link::watch(&core, watcher.core());
    }
    let pid = Pid::from_core(core.clone());
    let runner = Runner::new(Ctx::new(core.clone()), inbox, process);
    match kind::start(kind, runner, stack_size) {
        Ok(()) => Ok(pid),
        Err(error) => {
            link::detach(&core);
            Err(error)
        }
    }
}
