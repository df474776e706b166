//! The OS-process kind: a process that runs in a child OS process, a fresh
//! execution of this same program entered through [`hook`].
//!
//! Parent and child talk over one Unix socket, which is the child's stdin
//! (its stdout and stderr stay the parent's). On each side, a process of
//! the other side is a local *proxy*: a `Core` whose messages and
//! terminations the sending thread writes straight onto the connection
//! (see `out`), and whose driver thread stands for the process until it
//! ends, so `Pid`s, links, `wait` and `terminate` work unchanged. A proxy
//! ends when the process it stands for ends (an `Exited` frame, or the
//! connection's end); links are kept on both sides, each side telling the
//! other of its processes' ends, so every linked process hears of an end
//! exactly once.
//!
//! Ending goes gracefully where it can. When the root a child was spawned
//! under ends (or, in a child, the process that spawned it), the child's
//! process is told to end with a terminate queued behind the messages
//! already sent to it, and killed only if it has not ended within its
//! shutdown timeout. When a child reads the end of its connection (its
//! parent has gone), its process is told the same, and the child exits
//! once it has ended, or once the timeout has passed. A child OS process
//! exits only once every OS process it spawned has been reaped.

mod child;
mod conn;
mod harness;
mod out;
mod reap;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ctx::Ctx;
use crate::driver::{Driver, Kind, Launch, Serialized};
use crate::exit::Exit;
pub use crate::exit::OsProcessError;
use crate::message::Message;
use crate::pid::{Core, Pid, SendError, lock};
use crate::process::{Outcome, Process};
use crate::route::{Home, NodeId, Route};
use crate::runner::quietly_drop;
use crate::spawn::{Spawn, SpawnError};
use crate::threads::{self, Slot, thread_name};
use crate::wire::{Frame, MAX_FRAME, decode_state, encode_frame, encode_state};

pub use child::Registry;
pub(crate) use child::hook;
use conn::{Conn, Side};
pub use harness::TestThread;
use reap::Started;

/// The environment variable that marks a child OS process: set to the
/// parent's OS pid, so that a program started with it set by hand, or
/// started by a child and inheriting it, can tell.
const CHILD_ENV: &str = "PARAGRAM_OS_PROCESS";

/// The OS-process kind's driver.
pub(crate) struct OsProcess;

impl Driver for OsProcess {
    fn name(&self) -> &'static str {
        "OsProcess"
    }

    fn start(&self, launch: Launch) -> Result<Pid, SpawnError> {
        spawn(launch)
    }

    fn root_made(&self, root: &Arc<Core>) {
        child::refuse_without_hook();
        harness::adopt(root);
    }
}

/// What makes a core a proxy: the connection to the OS process where its
/// process runs, and its id there.
pub(crate) struct Proxy {
    conn: Arc<Conn>,
    id: u64,
    /// The end of the process, set by the connection's reader.
    ended: Mutex<Option<Exit>>,
    /// The root whose end ends the child OS process, and how long the
    /// child then has before it is killed (the parent's proxy of the
    /// child's own process only).
    owner: Option<(u64, Duration)>,
}

impl Route for Proxy {
    /// Sends `message` to the process, straight onto the connection; hands
    /// it back if the proxy has ended or the message cannot cross.
    fn send(&self, proxy: &Core, message: Message) -> Result<(), SendError<Message>> {
        if proxy.mailbox.is_closed() {
            return Err(SendError::ended(message));
        }
        match self.conn.deliver(self.id, message.terms()) {
            Ok(()) => Ok(()),
            Err(reason) => Err(SendError::new(message, reason)),
        }
    }

    /// Tells the process to end with `exit`, in order with the messages
    /// sent before; nothing if the proxy has ended.
    fn stop(&self, proxy: &Core, exit: &Exit) {
        if !proxy.mailbox.is_closed() {
            self.conn.terminate(self.id, exit);
        }
    }

    /// Kills the process: the child OS process itself, killed and reaped,
    /// if it is the child's own process and this the parent; else the
    /// process where it runs, told to die before what is queued for it.
    fn kill(&self, proxy: &Core) {
        if proxy.mailbox.is_closed() {
            return;
        }
        if self.owner.is_some() {
            self.conn.kill_child();
        } else {
            self.conn.kill(self.id);
        }
    }

    fn home(&self) -> Home {
        Home {
            node: self.conn.peer(),
            id: self.id,
        }
    }

    fn mirror_link(&self, _proxy: &Arc<Core>, other: &Arc<Core>, add: bool) {
        self.conn.mirror_link(self.id, other, add);
    }

    fn mirror_watch(&self, _proxy: &Arc<Core>, watched: &Arc<Core>) {
        self.conn.mirror_watch(self.id, watched);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The proxy `core` is, if it is one of this kind's.
fn proxy_of(core: &Core) -> Option<&Proxy> {
    core.route.get()?.as_any().downcast_ref()
}

/// Starts `launch`'s process in a child OS process and returns the
/// proxy's `Pid`. The child is told to end when its root ends, and killed
/// if it has not ended `launch.shutdown` later.
fn spawn(launch: Launch) -> Result<Pid, SpawnError> {
    let Launch {
        name,
        process,
        owner,
        shutdown,
        serialized,
        link,
        ..
    } = launch;
    // It runs from its serialized form; this copy's `Drop` is user code.
    quietly_drop(process);
    let Serialized {
        type_name,
        state,
        pids,
    } = serialized.ok_or(SpawnError::NotSerializable)?;
    let state = state.map_err(SpawnError::Serialize)?;
    child::check_registered(type_name)?;
    let too_large = |error| {
        SpawnError::Serialize(format!(
            "`{type_name}`: its state does not fit a frame ({error}; a frame carries at most \
             {MAX_FRAME} bytes)"
        ))
    };
    let mut frame = Frame::Init {
        type_name: type_name.to_owned(),
        state,
        name: name.to_string(),
        shutdown,
        pids: Vec::new(),
    };
    // Measured before the child starts; the `Pid`s the state names, named
    // on the connection once there is one, add a few bytes each.
    encode_frame(&frame, &mut Vec::new()).map_err(too_large)?;
    // The reader's, the watcher's and the proxy's places among the threads:
    // refused before the child starts.
    let [slot, watcher_slot, proxy_slot] = [Slot::take()?, Slot::take()?, Slot::take()?];
    let (ours, theirs) = UnixStream::pair()?;
    let mut command = Command::new(std::env::current_exe()?);
    if let Some(args) = harness::child_args(owner.as_ref()) {
        command.args(args.iter());
    }
    let child = command
        .env(CHILD_ENV, std::process::id().to_string())
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()?;
    let child = Started::new(child);
    let conn = match Conn::new(
        Side::Parent,
        NodeId::here(),
        NodeId(u64::from(child.id())),
        ours,
        watcher_slot,
    ) {
        Ok(conn) => conn,
        Err(error) => return Err(abandon(child, None, error)),
    };
    if let Err(error) = conn.send_init(&mut frame, &pids) {
        return Err(abandon(child, Some(&conn), too_large(error)));
    }
    drop((frame, pids));
    let owner_id = owner.as_ref().map(|o| (o.id, shutdown));
    let pid = match conn.proxy(
        0,
        name.to_string(),
        OsProcess.name().into(),
        None,
        owner_id,
        Some(proxy_slot),
    ) {
        Ok(pid) => pid,
        Err(error) => return Err(abandon(child, Some(&conn), error)),
    };
    if let Err(error) = link(pid.core()) {
        return Err(abandon(child, Some(&conn), error));
    }
    if let Some(owner) = &owner {
        crate::link::watch(owner, pid.core());
    }
    // Taken back, to be killed and reaped, if the reader cannot start.
    let child = Arc::new(Mutex::new(Some(child)));
    let (reader, for_reader) = (conn.clone(), child.clone());
    let handle = threads::start(
        thread_name(pid.name(), "-reader"),
        None,
        slot,
        move |_slot| {
            if let Some(child) = lock(&for_reader).take() {
                reader.run_parent(child);
            }
        },
    );
    match handle {
        Ok(handle) => pid.core().set_reaper(Box::new(move || {
            let _ = handle.join();
        })),
        Err(error) => {
            let error = SpawnError::Os(error);
            return Err(match lock(&child).take() {
                Some(child) => abandon(child, Some(&conn), error),
                None => error,
            });
        }
    }
    Ok(pid)
}

/// Undoes a spawn that failed after the child started: kills and reaps
/// the child, and ends the connection (its proxies and its watcher thread)
/// if there is one. Returns `error`.
fn abandon(mut child: Started, conn: Option<&Arc<Conn>>, error: SpawnError) -> SpawnError {
    let _ = child.kill();
    let _ = child.wait();
    if let Some(conn) = conn {
        conn.shutdown();
        conn.end_all(&Exit::with_error(OsProcessError::Protocol(format!(
            "the spawn failed: {error}"
        ))));
        conn.join_watcher();
    }
    error
}

/// How a process is spawned to run in a child OS process.
impl Spawn {
    /// A process that runs in a child OS process ([`Kind::OS_PROCESS`]): its
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
        let type_name = std::any::type_name::<P>();
        let state = serialize(&process);
        Spawn {
            kind: Some(Kind::OS_PROCESS),
            serialized: Some(serialized(type_name, state)),
            ..Spawn::process(process)
        }
    }

    /// A process that runs in a child OS process ([`Kind::OS_PROCESS`]) from
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
            kind: Some(Kind::OS_PROCESS),
            serialized: Some(serialized(type_name, state)),
            ..Spawn::from_fn(move |ctx: &mut Ctx| start(ctx, arg))
        }
    }
}

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

/// The serialized form of the process `type_name`, from its state and the
/// `Pid`s it names, or why it has none.
fn serialized(type_name: &'static str, state: Result<(Vec<u8>, Vec<Pid>), String>) -> Serialized {
    let (state, pids) = match state {
        Ok((bytes, pids)) => (Ok(bytes), pids),
        Err(error) => (Err(error), Vec::new()),
    };
    Serialized {
        type_name,
        state,
        pids,
    }
}
