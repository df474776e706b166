//! Who runs a process: the driver each kind provides, the `Kind` that
//! names one, and what starting a process hands it. The kinds themselves
//! are listed once, in `kind/mod.rs`; nothing here knows them.
//!
//! A driver is given a [`Launch`]: the process and its options, and the
//! links to make once the process's core exists. A kind that runs the
//! process here builds its runner with [`Runner::launch`], makes the links,
//! then drives it: a loop of [`Runner::run_ready`] until it reports the
//! exit, then [`Runner::finish`]. A kind that runs it elsewhere gives its
//! core a [`Route`](crate::route::Route) instead.
//!
//! [`Runner::launch`]: crate::runner::Runner::launch
//! [`Runner::run_ready`]: crate::runner::Runner::run_ready
//! [`Runner::finish`]: crate::runner::Runner::finish

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::pid::{Core, Pid};
use crate::process::Process;
use crate::spawn::SpawnError;

/// What a kind does: start processes, and see each root as it is made.
pub(crate) trait Driver: Sync + 'static {
    /// The kind's name: a process's default name starts with it.
    fn name(&self) -> &'static str;

    /// Starts the process `launch` describes, and returns its `Pid`. On an
    /// error, nothing of the process is left: no thread, no link.
    fn start(&self, launch: Launch) -> Result<Pid, SpawnError>;

    /// Whether each process of this kind runs on a stack of its own, so
    /// that a spawn's stack size means something to it. A spawn that sets
    /// one on a kind without runs on the thread kind instead.
    fn own_stack(&self) -> bool {
        true
    }

    /// Sees a root just made, before it is used.
    fn root_made(&self, root: &Arc<Core>) {
        let _ = root;
    }
}

/// What runs a process: one OS thread per process ([`Kind::THREAD`], the
/// default), a pool of worker threads shared by many processes
/// ([`Kind::SCHEDULER`]), or a child OS process ([`Kind::OS_PROCESS`]).
#[derive(Clone, Copy)]
pub struct Kind(&'static dyn Driver);

impl Kind {
    /// The kind of `driver`.
    pub(crate) const fn of(driver: &'static dyn Driver) -> Kind {
        Kind(driver)
    }

    /// The kind's name, used in default process names: `Thread`,
    /// `Scheduler`, `OsProcess`.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub(crate) fn driver(self) -> &'static dyn Driver {
        self.0
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Kind {}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A process to start, and what its kind needs to start it.
pub(crate) struct Launch {
    /// Its id, which no other process of this program has.
    pub(crate) id: u64,
    pub(crate) name: Arc<str>,
    pub(crate) process: Box<dyn Process>,
    /// The root it was spawned under, if any.
    pub(crate) owner: Option<Arc<Core>>,
    /// The kind of what it spawns, unless a spawn says.
    pub(crate) default_kind: Kind,
    /// For a process on a thread of its own: the thread's stack size.
    pub(crate) stack_size: Option<usize>,
    /// How long it has to end once told to, before it is killed, where
    /// its kind can kill it.
    pub(crate) shutdown: Duration,
    /// Its serialized form, for a kind that runs it elsewhere.
    pub(crate) serialized: Option<Serialized>,
    /// Makes the links the spawn asked for, once the process's core exists
    /// and before it runs (where the kind can wait for that); an error
    /// means the process must not start.
    pub(crate) link: LinkUp,
}

/// What links a new process, given its core.
pub(crate) type LinkUp = Box<dyn FnOnce(&Arc<Core>) -> Result<(), SpawnError> + Send>;

/// A process's serialized form: its type's (or function's) name, and its
/// state with the `Pid`s it names.
pub(crate) struct Serialized {
    pub(crate) type_name: &'static str,
    pub(crate) state: Result<Vec<u8>, String>,
    pub(crate) pids: Vec<Pid>,
}

/// What a kind whose threads run many processes does around one of
/// paragram's own calls that may block the calling thread (`Pid::wait`, a
/// send that waits for room on a connection): hand the thread's other work
/// to another thread before, take its place back after.
pub(crate) trait Blocking: Sync {
    /// About to block; whether [`Blocking::leave`] is to be called after.
    fn enter(&self) -> bool;
    /// No longer blocked.
    fn leave(&self);
}

thread_local! {
    /// What the kind that runs the calling thread's processes does around
    /// a blocking call, if anything.
    static BLOCKING: Cell<Option<&'static dyn Blocking>> = const { Cell::new(None) };
}

/// Makes `hook` what the calling thread does around blocking calls.
pub(crate) fn on_blocking(hook: &'static dyn Blocking) {
    BLOCKING.with(|cell| cell.set(Some(hook)));
}

/// Runs `call`, which may block the calling thread for long, inside the
/// calling thread's kind's [`Blocking`] section, if it has one.
pub(crate) fn blocking<R>(call: impl FnOnce() -> R) -> R {
    struct Leave(&'static dyn Blocking);
    impl Drop for Leave {
        fn drop(&mut self) {
            self.0.leave();
        }
    }
    let Some(hook) = BLOCKING.with(Cell::get) else {
        return call();
    };
    let _leave = hook.enter().then_some(Leave(hook));
    call()
}
