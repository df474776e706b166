//! Exit values and the errors a process can die of.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::pid::{Pid, ProcessId};

/// Any error a process can end with: what `terminate_with`, a handler's
/// `Err` and [`Exit::with_error`] take, through `Into`.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error inside an [`Exit`], shared by every holder of the exit value.
pub type SharedError = Arc<dyn StdError + Send + Sync + 'static>;

/// How a process ended: normally (`error() == None`) or with an error.
///
/// `Exit` is both the value [`Pid::wait`] returns and the first element of
/// the `(Exit, Pid)` message a linked process receives. It is itself an
/// error, so a handler can return `Err(Exit::...)` to end its process at
/// once; an `Exit` inside an `Exit` is unwrapped, never nested.
#[derive(Clone, Default)]
pub struct Exit {
    error: Option<SharedError>,
}

impl Exit {
    /// A normal end.
    pub fn normal() -> Exit {
        Exit { error: None }
    }

    /// An end with `error`. An `Exit` passed in is returned as it is.
    pub fn with_error(error: impl Into<BoxError>) -> Exit {
        let error: BoxError = error.into();
        match error.downcast::<Exit>() {
            Ok(exit) => *exit,
            Err(error) => Exit {
                error: Some(Arc::from(error)),
            },
        }
    }

    /// The error, or `None` for a normal end.
    pub fn error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.error.as_deref()
    }

    /// The shared error, to keep or pass on without copying it.
    pub fn shared_error(&self) -> Option<&SharedError> {
        self.error.as_ref()
    }

    /// Whether this is a normal end.
    pub fn is_normal(&self) -> bool {
        self.error.is_none()
    }

    /// The error as `E`, if it is one.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.error.as_deref()?.downcast_ref()
    }

    /// The root cause this exit carries: for a death by linked exit, the
    /// exit of the process where the failure began; otherwise `self`.
    pub fn root_cause(&self) -> &Exit {
        match self.downcast_ref::<LinkedExit>() {
            Some(linked) => &linked.cause,
            None => self,
        }
    }

    /// The identity terms use to compare exit values: the shared error's
    /// address, or 0 for a normal end.
    pub(crate) fn identity(&self) -> usize {
        self.error
            .as_ref()
            .map_or(0, |e| Arc::as_ptr(e).cast::<u8>() as usize)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            None => f.write_str("normal"),
            Some(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl fmt::Debug for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            None => f.write_str("Exit(normal)"),
            Some(error) => write!(f, "Exit({error})"),
        }
    }
}

impl StdError for Exit {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A process ended because a handler or its start-up code panicked.
#[derive(Debug, Clone, Error)]
#[error("process panicked: {message}")]
pub struct Panicked {
    /// The panic message, or a fixed text for a payload that is not a string.
    pub message: String,
}

impl Panicked {
    /// The text used for a panic payload that is neither `&str` nor `String`.
    pub const NON_STRING: &'static str = "panic payload is not a string";

    pub(crate) fn from_payload(payload: &(dyn std::any::Any + Send)) -> Panicked {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            Panicked::NON_STRING.to_owned()
        };
        Panicked { message }
    }
}

/// A process ended because a message matched none of its receivers.
#[derive(Debug, Clone, Error)]
#[error("unhandled message: {message}")]
pub struct UnhandledMessage {
    /// The message, printed as a Rust tuple: `(2,)`.
    pub message: String,
}

/// A process ended because a linked process ended and nothing handled the
/// `(Exit, Pid)` notification.
///
/// The cause is the root cause, passed on flat: when a chain of linked
/// processes dies one after another, the last one's `LinkedExit` names its
/// own peer and carries the first failure, never a nested chain.
#[derive(Debug, Clone, Error)]
#[error("linked process {peer:?} exited: {cause}")]
pub struct LinkedExit {
    /// The linked process whose exit notification ended this one (an
    /// identity, not a handle: a chain of linked exits holds no processes).
    pub peer: ProcessId,
    /// The exit the failure began with.
    pub cause: Exit,
}

impl LinkedExit {
    /// The linked-exit error for a notification from `peer` with `exit`,
    /// carrying `exit`'s root cause.
    pub fn new(peer: &Pid, exit: &Exit) -> LinkedExit {
        LinkedExit {
            peer: ProcessId::from(peer),
            cause: exit.root_cause().clone(),
        }
    }
}
