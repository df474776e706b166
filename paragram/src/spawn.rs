//! Spawning: what to run and how, and the errors a spawn can return.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::ctx::Ctx;
use crate::kind::{self, Kind, os_process};
use crate::link;
use crate::mailbox::mailbox;
use crate::pid::{Core, Pid};
use crate::process::{FnProcess, Outcome, Process};
use crate::runner::{Runner, quietly_drop};
use crate::wire::{decode_state, encode_state};

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
    /// How long an OS process has to end once told to, before it is killed.
    pub(crate) shutdown: Duration,
    /// The serialized form, for the OS-process kind.
    pub(crate) os: Option<OsInit>,
}

impl Spawn {
    /// What `process` spawns as, with default options.
    pub fn new(process: impl IntoSpawn) -> Spawn {
        process.into_spawn()
    }

    /// A process whose start-up code is the closure `start`, with default
    /// options. `spawn` takes a closure as it is too, but `from_fn` is
    /// where its argument's type is inferred: `|ctx| ...` rather than
    /// `|ctx: &mut Ctx| ...`.
    ///
    /// ```
    /// use paragram::{Root, Spawn, pattern};
    /// let root = Root::new();
    /// let pid = root
    ///     .spawn(Spawn::from_fn(|ctx| ctx.receive(pattern!("ping"), |_, ()| {})).name("ponger"))
    ///     .unwrap();
    /// # pid.terminate();
    /// ```
    pub fn from_fn<F, R>(start: F) -> Spawn
    where
        F: FnOnce(&mut Ctx) -> R + Send + 'static,
        R: Outcome,
    {
        Spawn::process(FnProcess::new(start))
    }

    /// A [`Process`] value, with default options.
    pub fn process(process: impl Process) -> Spawn {
        Spawn {
            process: Box::new(process),
            name: None,
            link_to: Vec::new(),
            kind: Kind::default(),
            stack_size: None,
            shutdown: DEFAULT_SHUTDOWN,
            os: None,
        }
    }

    /// A process that runs in a child OS process ([`Kind::OsProcess`]): its
    /// state is serialized now and rebuilt in the child, which must register
    /// the type in [`os_process::hook`](crate::os_process::hook). `.kind(..)`
    /// can still choose another kind.
    ///
    /// The state crosses encoded with postcard, which cannot decode what
    /// needs serde's `deserialize_any` (untagged and internally tagged
    /// enums, `#[serde(flatten)]`): a state that does not decode from its
    /// own encoding is refused at `spawn` with [`SpawnError::Serialize`],
    /// naming the type.
    pub fn os_process<P>(process: P) -> Spawn
    where
        P: Process + Serialize + DeserializeOwned,
    {
        let os = OsInit::new(std::any::type_name::<P>(), serialize(&process));
        Spawn {
            kind: Kind::OsProcess,
            os: Some(os),
            ..Spawn::process(process)
        }
    }

    /// A process that runs in a child OS process ([`Kind::OsProcess`]) from
    /// a function: `start(ctx, arg)` is its start-up code, as a closure's
    /// is for a process of the thread kind. `arg` (the state a closure
    /// would capture) is serialized now and rebuilt in the child, which
    /// must register the function with
    /// [`Registry::register_fn`](crate::os_process::Registry::register_fn).
    /// `.kind(..)` can still choose another kind.
    ///
    /// `start` must be a named function: the child finds it by its path.
    /// A closure that captures state is refused at compile time (its state
    /// would be left behind), and one that captures nothing at `spawn`
    /// with [`SpawnError::Serialize`] (closures have no name the child can
    /// tell apart; nor has a function defined inside a closure).
    ///
    /// ```no_run
    /// use paragram::{Ctx, PatternError, Root, Spawn, pattern};
    ///
    /// fn adder(ctx: &mut Ctx, base: i64) -> Result<(), PatternError> {
    ///     ctx.receive(pattern!(i64), move |_, (n,): (i64,)| println!("{}", base + n))
    /// }
    ///
    /// fn main() {
    ///     paragram::os_process::hook(|r| {
    ///         r.register_fn(adder);
    ///     });
    ///     let root = Root::new();
    ///     let pid = root.spawn(Spawn::os_process_fn(adder, 40)).unwrap();
    ///     pid.send(2i64).unwrap();
    /// }
    /// ```
    pub fn os_process_fn<F, A, R>(start: F, arg: A) -> Spawn
    where
        F: Fn(&mut Ctx, A) -> R + Send + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Outcome,
    {
        const {
            assert!(
                std::mem::size_of::<F>() == 0,
                "`Spawn::os_process_fn` takes a named function: a closure's captured state \
                 cannot cross to the child (pass it as the argument)"
            );
        }
        let type_name = std::any::type_name::<F>();
        let state = if type_name.contains("{{closure}}") {
            Err(format!(
                "`{type_name}` is a closure, which the child cannot find by name: \
                 spawn a named function"
            ))
        } else {
            serialize(&arg)
        };
        Spawn {
            kind: Kind::OsProcess,
            os: Some(OsInit::new(type_name, state)),
            ..Spawn::process(FnProcess::new(move |ctx: &mut Ctx| start(ctx, arg)))
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

    /// Sets how long an OS process has to end once its root (or the OS
    /// process it was spawned in) has ended and told it to, before it is
    /// killed (default: 5 s, as OTP gives a worker). The terminate it is
    /// told with is queued behind every message already sent to it; the
    /// kill, should it come, is reaped like any other end. Other kinds
    /// have nothing to kill, and ignore it.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Spawn {
        self.shutdown = timeout;
        self
    }
}

/// How long an OS process has to end once told to, unless its spawn says.
pub const DEFAULT_SHUTDOWN: Duration = Duration::from_secs(5);

/// The longest name a process can have, in bytes. Names are for people
/// and for printing; a longer one is refused at `spawn`, which keeps every
/// exit text and every frame that names a process small.
pub const MAX_NAME: usize = 4096;

/// `value`'s state as it crosses to a child OS process, with the `Pid`s it
/// names, checked to decode back into a `T` there.
fn serialize<T: Serialize + DeserializeOwned>(value: &T) -> Result<(Vec<u8>, Vec<Pid>), String> {
    let type_name = std::any::type_name::<T>();
    let (bytes, pids) = encode_state(value).map_err(|e| format!("`{type_name}`: {e}"))?;
    match decode_state::<T>(&bytes, pids.clone()) {
        Ok(copy) => {
            quietly_drop(copy);
            Ok((bytes, pids))
        }
        Err(error) => Err(format!(
            "`{type_name}` does not decode from its own encoding ({error}): the state \
             crosses to the child encoded with postcard, which cannot decode types that \
             need `deserialize_any`, such as untagged or internally tagged enums and \
             `#[serde(flatten)]`"
        )),
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
    /// The program would pass the number of threads the machine can start
    /// without aborting it ([`thread_limit`](crate::thread_limit)). Each
    /// process of the thread kind (a root included) takes one; each OS
    /// process three in its parent (its connection's reader and watcher,
    /// and its proxy), and one more per other process of it whose `Pid`
    /// the parent holds.
    #[error(
        "too many threads: the program runs {limit}, its limit (one per process of the thread \
         kind, three per OS process and one per other process of it this program holds a `Pid` to)"
    )]
    ThreadLimit {
        /// The most threads this program starts.
        limit: usize,
    },
    /// The OS-process kind was asked to run a type or function that a
    /// child of this program could not run: `main` does not call
    /// [`os_process::hook`](crate::os_process::hook), or the hook does not
    /// register it. No child was started.
    #[error("{}", not_registered(type_name, *hooked))]
    NotRegistered {
        /// The process type's (or function's) name.
        type_name: &'static str,
        /// Whether this program called the hook at all.
        hooked: bool,
    },
    /// The name is longer than [`MAX_NAME`] bytes.
    #[error("a process name of {len} bytes is longer than the {MAX_NAME} a name can have")]
    NameTooLong {
        /// The name's length, in bytes.
        len: usize,
    },
    /// The root spawned from has ended: a child linked to it would be dead
    /// on arrival, and an OS process spawned under it killed.
    #[error("the root process has ended")]
    RootEnded,
    /// The operating system refused to start the thread or process.
    #[error("the operating system refused to start the process: {0}")]
    Os(#[from] std::io::Error),
    /// The OS-process kind was chosen for a process without a serialized
    /// form: spawn it with [`Spawn::os_process`].
    #[error("the OS-process kind needs a process spawned with `Spawn::os_process`")]
    NotSerializable,
    /// Serializing the process's state failed.
    #[error("cannot serialize the process's state: {0}")]
    Serialize(String),
}

fn not_registered(type_name: &str, hooked: bool) -> String {
    if hooked {
        format!(
            "`{type_name}` is not registered in `paragram::os_process::hook`: add \
             `r.register::<T>()` (a process type) or `r.register_fn(f)` (a function) there"
        )
    } else {
        format!(
            "`{type_name}` cannot run as an OS process: `main` does not call \
             `paragram::os_process::hook` first, so a child of this program could run nothing"
        )
    }
}

/// A process's serialized form: its registered type name, and its state
/// with the `Pid`s it names.
pub(crate) struct OsInit {
    pub(crate) type_name: &'static str,
    pub(crate) state: Result<Vec<u8>, String>,
    pub(crate) pids: Vec<Pid>,
}

impl OsInit {
    fn new(type_name: &'static str, state: Result<(Vec<u8>, Vec<Pid>), String>) -> OsInit {
        let (state, pids) = match state {
            Ok((bytes, pids)) => (Ok(bytes), pids),
            Err(error) => (Err(error), Vec::new()),
        };
        OsInit {
            type_name,
            state,
            pids,
        }
    }
}

/// A number no other process of this program has.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Spawns `spawn` from `spawner` (`None`: a root), linked both ways to
/// `parent` if given.
pub(crate) fn spawn(
    spawn: Spawn,
    parent: Option<&Arc<Core>>,
    spawner: Option<&Arc<Core>>,
) -> Result<Pid, SpawnError> {
    let Spawn {
        process,
        name,
        link_to,
        kind,
        stack_size,
        shutdown,
        os,
    } = spawn;
    if let Some(name) = &name
        && name.len() > MAX_NAME
    {
        return Err(SpawnError::NameTooLong { len: name.len() });
    }
    // Only a root can be asked to spawn once it has ended; `link_new`
    // below closes the race for a linked child.
    if spawner.is_some_and(|s| s.exit().is_some()) {
        return Err(SpawnError::RootEnded);
    }
    let id = next_id();
    let name = name.unwrap_or_else(|| format!("{}-{id}", kind.name()));
    // The root a process belongs to: its spawner's, or the spawner itself.
    let owner = spawner.map(|s| s.owner.get().cloned().unwrap_or_else(|| Arc::downgrade(s)));
    if kind == Kind::OsProcess {
        // It runs from its serialized form; this copy's `Drop` is user code.
        quietly_drop(process);
        let os = os.ok_or(SpawnError::NotSerializable)?;
        let pid = os_process::spawn(os, name, owner.and_then(|o| o.upgrade()), shutdown)?;
        if let Some(parent) = parent {
            link::link(parent, pid.core());
        }
        for watcher in &link_to {
            link::watch_mirrored(pid.core(), watcher.core());
        }
        return Ok(pid);
    }
    let (mailbox, inbox) = mailbox();
    let core = Arc::new(Core::new(id, name, kind.name(), mailbox));
    if let Some(owner) = owner {
        let _ = core.owner.set(owner);
    }
    if let Some(parent) = parent
        && !link::link_new(parent, &core)
    {
        return Err(SpawnError::RootEnded);
    }
    for watcher in &link_to {
        link::watch_mirrored(&core, watcher.core());
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
