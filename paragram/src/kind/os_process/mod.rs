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

mod child;
mod conn;
mod out;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::exit::Exit;
use crate::kind::thread::Slot;
use crate::message::Message;
use crate::pid::{Core, Pid, lock};
use crate::spawn::{OsInit, SpawnError};
use crate::wire::{Frame, encode_frame};

pub(crate) use child::refuse_without_hook;
pub use child::{Registry, hook};
use conn::{Conn, Side};
pub(crate) use conn::{mirror_link, mirror_watch};

/// The environment variable that marks a child OS process.
const CHILD_ENV: &str = "PARAGRAM_OS_PROCESS";

/// What makes a core a proxy: the connection to the OS process where its
/// process runs, and its id there.
pub(crate) struct Remote {
    conn: Arc<Conn>,
    id: u64,
    /// The end of the process, set by the connection's reader.
    ended: Mutex<Option<Exit>>,
    /// The root whose end ends the child OS process (the parent's proxy
    /// of the child's own process only).
    owner: Option<u64>,
}

impl Remote {
    /// The OS pid of the program the process runs in, and its id there.
    pub(crate) fn home(&self) -> (u32, u64) {
        (self.conn.peer(), self.id)
    }

    /// Sends `message` to the process, straight onto the connection; hands
    /// it back if the proxy has ended.
    pub(crate) fn send(&self, proxy: &Core, message: Message) -> Result<(), Message> {
        if proxy.mailbox.is_closed() {
            return Err(message);
        }
        self.conn.deliver(self.id, message.terms());
        Ok(())
    }

    /// Tells the process to end with `exit`, in order with the messages
    /// sent before; nothing if the proxy has ended.
    pub(crate) fn terminate(&self, proxy: &Core, exit: &Exit) {
        if !proxy.mailbox.is_closed() {
            self.conn.terminate(self.id, exit);
        }
    }
}

/// How a process of the OS-process kind ended when it did not say itself.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OsProcessError {
    /// The child OS process exited with this code before its process ended.
    #[error("OS process exited with code {code}")]
    Exited {
        /// The exit code.
        code: i32,
    },
    /// The child OS process was killed by this signal.
    #[error("OS process killed by signal {signal} ({name})")]
    Signaled {
        /// The signal number.
        signal: i32,
        /// Its name: `SIGKILL`, `SIGSEGV`, `SIGABRT`...
        name: &'static str,
    },
    /// The child sent bytes that are not a frame; it was killed.
    #[error("OS process protocol error: {0}")]
    Protocol(String),
    /// The root the process was spawned under ended; the child was killed.
    #[error("the root process ended; the OS process was killed")]
    RootEnded,
}

impl OsProcessError {
    fn from_status(status: ExitStatus) -> OsProcessError {
        match (status.code(), status.signal()) {
            (Some(code), _) => OsProcessError::Exited { code },
            (None, Some(signal)) => OsProcessError::Signaled {
                signal,
                name: signal_name(signal),
            },
            (None, None) => OsProcessError::Exited { code: -1 },
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => "unknown signal",
    }
}

/// Starts `init` in a child OS process and returns the proxy's `Pid`. The
/// child is killed when `owner` (a root) ends.
pub(crate) fn spawn(
    init: OsInit,
    name: String,
    owner: Option<Arc<Core>>,
) -> Result<Pid, SpawnError> {
    let state = init.state.map_err(SpawnError::Serialize)?;
    // The reader's, the watcher's and the proxy's places among the threads:
    // refused before the child starts.
    let [slot, watcher_slot, proxy_slot] = [Slot::take()?, Slot::take()?, Slot::take()?];
    let (ours, theirs) = UnixStream::pair()?;
    let child = Command::new(std::env::current_exe()?)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()?;
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
    let mut frame = Vec::new();
    let init = Frame::Init {
        type_name: init.type_name.to_owned(),
        state,
        name: name.clone(),
    };
    encode_frame(&init, &mut frame);
    conn.queue(&frame);
    let owner_id = owner.as_ref().map(|o| o.id);
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
        .name(format!("{}-reader", pid.name()))
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
fn abandon(mut child: Child, conn: Option<&Arc<Conn>>, error: SpawnError) -> SpawnError {
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
