//! Spawning: what to run and how, and the errors a spawn can return.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::ctx::Ctx;
use crate::driver::{Kind, Launch, Serialized};
use crate::link;
use crate::pid::{Core, Pid, next_id};
use crate::process::{FnProcess, Outcome, Process};

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
    /// What runs the process; unset, the spawner's default (its root's).
    pub(crate) kind: Option<Kind>,
    pub(crate) stack_size: Option<usize>,
    /// How long an OS process has to end once told to, before it is killed.
    pub(crate) shutdown: Duration,
    /// The serialized form, for a kind that runs the process elsewhere.
    pub(crate) serialized: Option<Serialized>,
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
            kind: None,
            stack_size: None,
            shutdown: DEFAULT_SHUTDOWN,
            serialized: None,
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

    /// Chooses what runs the process (default: the root's default kind,
    /// [`Root::with_kind`](crate::Root::with_kind)).
    pub fn kind(mut self, kind: Kind) -> Spawn {
        self.kind = Some(kind);
        self
    }

    /// Gives the process a thread of its own with a stack of `bytes`. A
    /// process of the thread kind always has one; one of the scheduler
    /// kind, which runs on its worker's stack, is run on the thread kind
    /// instead when its spawn sets a stack size. An OS process's own
    /// process runs on its child's thread of the default size.
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
    /// the parent holds; the scheduler kind its workers, its monitor and
    /// its spare workers, and no more however many processes it runs.
    #[error(
        "too many threads: the program runs {limit}, its limit (one per process of the thread \
         kind, three per OS process and one per other process of it this program holds a `Pid` \
         to, and the scheduler kind's workers)"
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

/// Spawns `spawn` from `spawner` (`None`: a root), linked both ways to
/// `parent` if given, of the kind it names or else `default_kind` (the
/// spawner's default, which the new process inherits): what every kind's
/// spawn has in common, before its driver starts the process.
pub(crate) fn spawn(
    spawn: Spawn,
    parent: Option<&Arc<Core>>,
    spawner: Option<&Arc<Core>>,
    default_kind: Kind,
) -> Result<Pid, SpawnError> {
    let Spawn {
        process,
        name,
        link_to,
        kind,
        stack_size,
        shutdown,
        serialized,
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
    let mut kind = kind.unwrap_or(default_kind);
    if stack_size.is_some() && !kind.driver().own_stack() {
        kind = Kind::OWN_THREAD;
    }
    let id = next_id();
    let name = match name {
        Some(name) => Arc::from(name),
        None => default_name(kind.name(), id),
    };
    // The root a process belongs to: its spawner's, or the spawner itself.
    let owner = spawner.map(|s| s.owner().unwrap_or_else(|| s.clone()));
    let parent = parent.cloned();
    let link = move |core: &Arc<Core>| {
        if let Some(parent) = &parent
            && !link::link_new(parent, core)
        {
            return Err(SpawnError::RootEnded);
        }
        for watcher in &link_to {
            link::watch_mirrored(core, watcher.core());
        }
        Ok(())
    };
    kind.driver().start(Launch {
        id,
        name,
        process,
        owner,
        default_kind,
        stack_size,
        shutdown,
        serialized,
        link: Box::new(link),
    })
}

/// `<kind>-<id>`, written on the stack and allocated once, in the `Arc`.
fn default_name(kind: &str, id: u64) -> Arc<str> {
    use std::fmt::Write;

    /// Room for a kind's name, a dash and any `u64`.
    struct Buffer {
        bytes: [u8; 64],
        len: usize,
    }

    impl Write for Buffer {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.len + s.len();
            let room = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
            room.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    let mut buffer = Buffer {
        bytes: [0; 64],
        len: 0,
    };
    // Whole `str`s are copied in, so the bytes are UTF-8; a name longer
    // than the buffer goes through a `String`.
    if write!(buffer, "{kind}-{id}").is_ok()
        && let Ok(name) = std::str::from_utf8(&buffer.bytes[..buffer.len])
    {
        return Arc::from(name);
    }
    Arc::from(format!("{kind}-{id}"))
}
