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

use crate::exit::Exit;
pub use crate::exit::OsProcessError;
use crate::kind::thread::{Slot, thread_name};
use crate::message::Message;
use crate::pid::{Core, Pid, SendError, lock};
use crate::spawn::{OsInit, SpawnError};
use crate::wire::{Frame, MAX_FRAME, encode_frame};

pub(crate) use child::refuse_without_hook;
pub use child::{Registry, hook};
use conn::{Conn, Side};
pub(crate) use conn::{mirror_link, mirror_watch};
pub use harness::TestThread;
pub(crate) use harness::adopt as adopt_test_root;
use reap::Started;

/// The environment variable that marks a child OS process: set to the
/// parent's OS pid, so that a program started with it set by hand, or
/// started by a child and inheriting it, can tell.
const CHILD_ENV: &str = "PARAGRAM_OS_PROCESS";

/// What makes a core a proxy: the connection to the OS process where its
/// process runs, and its id there.
pub(crate) struct Remote {
    conn: Arc<Conn>,
    id: u64,
    /// The end of the process, set by the connection's reader.
    ended: Mutex<Option<Exit>>,
    /// The root whose end ends the child OS process, and how long the
    /// child then has before it is killed (the parent's proxy of the
    /// child's own process only).
    owner: Option<(u64, Duration)>,
}

impl Remote {
    /// The OS pid of the program the process runs in, and its id there.
    pub(crate) fn home(&self) -> (u32, u64) {
        (self.conn.peer(), self.id)
    }

    /// Sends `message` to the process, straight onto the connection; hands
    /// it back if the proxy has ended or the message cannot cross.
    // The error hands the message back by value, as `Pid::send`'s does.
    #[allow(clippy::result_large_err)]
    pub(crate) fn send(&self, proxy: &Core, message: Message) -> Result<(), SendError<Message>> {
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
    pub(crate) fn terminate(&self, proxy: &Core, exit: &Exit) {
        if !proxy.mailbox.is_closed() {
            self.conn.terminate(self.id, exit);
        }
    }
}

/// Starts `init` in a child OS process and returns the proxy's `Pid`. The
/// child is told to end when `owner` (a root) ends, and killed if it has
/// not ended `shutdown` later.
pub(crate) fn spawn(
    init: OsInit,
    name: String,
    owner: Option<Arc<Core>>,
    shutdown: Duration,
) -> Result<Pid, SpawnError> {
    let OsInit {
        type_name,
        state,
        pids,
    } = init;
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
        name: name.clone(),
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
        std::process::id(),
        child.id(),
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
    let pid = match conn.proxy(0, name, "OsProcess", None, owner_id, Some(proxy_slot)) {
        Ok(pid) => pid,
        Err(error) => return Err(abandon(child, Some(&conn), error)),
    };
    if let Some(owner) = &owner {
        crate::link::watch(owner, pid.core());
    }
    // Taken back, to be killed and reaped, if the reader cannot start.
    let child = Arc::new(Mutex::new(Some(child)));
    let (reader, for_reader) = (conn.clone(), child.clone());
    let handle = std::thread::Builder::new()
        .name(thread_name(pid.name(), "-reader"))
        .spawn(move || {
            let _slot = slot;
            if let Some(child) = lock(&for_reader).take() {
                reader.run_parent(child);
            }
        });
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
