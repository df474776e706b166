//! Registered names, as Erlang's `register`, `whereis` and `unregister`:
//! one name per process at most, one process per name, for the whole
//! program (Erlang's are per node; a child OS process is a program of its
//! own, with names of its own).
//!
//! A name is freed when its process ends, before its links and monitors
//! hear of the end, so that a process started again on hearing of it can
//! take the name at once. A name holds a handle to its process: a
//! registered process is never ended as unreachable.
//!
//! Locks: the table's, then the process's links (where its name is kept);
//! never the other way round. A process that ends takes its name from its
//! links under their lock, lets go, then removes it from the table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use thiserror::Error;

use crate::link;
use crate::message::{IntoMessage, Message};
use crate::pid::{Pid, ProcessId, SendError, SendFailure, lock};
use crate::spawn::MAX_NAME;

/// The program's names and their processes.
fn table() -> &'static Mutex<HashMap<Arc<str>, Pid>> {
    static TABLE: OnceLock<Mutex<HashMap<Arc<str>, Pid>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Why [`register`] refused a name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another process holds the name.
    #[error("the name {name:?} is taken by {holder:?}")]
    Taken {
        /// The name.
        name: String,
        /// The process that holds it.
        holder: ProcessId,
    },
    /// The process has a name already (a process has one at most).
    #[error("the process is registered already, as {name:?}")]
    AlreadyRegistered {
        /// Its name.
        name: String,
    },
    /// The process has ended.
    #[error("the process has ended")]
    Ended,
    /// The name is longer than [`MAX_NAME`] bytes.
    #[error("a registered name of {len} bytes is longer than the {MAX_NAME} a name can have")]
    TooLong {
        /// The name's length, in bytes.
        len: usize,
    },
}

/// Registers `pid` under `name`, as Erlang's `register/2`: until the process
/// ends or [`unregister`] is called, [`whereis`] finds it and
/// [`send_named`] reaches it. A process has one name at most, and a name one
/// process; the name is freed when its process ends, before its links and
/// monitors hear of it.
///
/// ```
/// use paragram::{Root, pattern};
/// let root = Root::new();
/// let pid = root.spawn(|ctx: &mut paragram::Ctx| ctx.receive(pattern!("ping"), |_, ()| {})).unwrap();
/// paragram::register("pinged", &pid).unwrap();
/// assert_eq!(paragram::whereis("pinged"), Some(pid.clone()));
/// paragram::send_named("pinged", "ping").unwrap();
/// pid.terminate();
/// pid.wait().unwrap();
/// assert_eq!(paragram::whereis("pinged"), None);
/// ```
pub fn register(name: impl Into<String>, pid: &Pid) -> Result<(), RegisterError> {
    let name: String = name.into();
    if name.len() > MAX_NAME {
        return Err(RegisterError::TooLong { len: name.len() });
    }
    let name: Arc<str> = name.into();
    let mut table = lock(table());
    if let Some(holder) = table.get(&name) {
        return Err(RegisterError::Taken {
            name: name.to_string(),
            holder: ProcessId::from(holder),
        });
    }
    link::claim_name(pid.core(), &name)?;
    table.insert(name, pid.clone());
    Ok(())
}

/// The process registered under `name`, if any: Erlang's `whereis/1`.
pub fn whereis(name: &str) -> Option<Pid> {
    lock(table()).get(name).cloned()
}

/// Frees `name`, returning the process that held it: Erlang's
/// `unregister/1` (which fails where this returns `None`).
pub fn unregister(name: &str) -> Option<Pid> {
    let pid = lock(table()).remove(name)?;
    link::release_name(pid.core(), name);
    Some(pid)
}

/// Every registered name, in no order: Erlang's `registered/0`.
pub fn registered() -> Vec<String> {
    lock(table()).keys().map(|name| name.to_string()).collect()
}

/// Sends `message` to the process registered under `name`, as Erlang's
/// `Name ! Message`; a name nobody holds is
/// [`SendFailure::NotRegistered`], the message handed back.
// The error hands the message back by value, as `Pid::send`'s does.
#[allow(clippy::result_large_err)]
pub fn send_named(name: &str, message: impl IntoMessage) -> Result<(), SendError<Message>> {
    let message = message.into_message();
    match whereis(name) {
        Some(pid) => pid.send(message),
        None => Err(SendError::new(message, SendFailure::NotRegistered)),
    }
}

/// Removes `name` from the table if process `id` still holds it: the
/// process has ended (its links hold the name no more).
pub(crate) fn forget(name: &str, id: u64) {
    let mut table = lock(table());
    if table.get(name).is_some_and(|pid| pid.id() == id) {
        let pid = table.remove(name);
        drop(table);
        drop(pid);
    }
}
