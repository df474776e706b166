//! Exit values and the errors a process can die of.

use std::error::Error as StdError;
use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use thiserror::Error;

use crate::pid::{Pid, ProcessId};
use crate::text::{self, EXIT_LIMIT, PART_LIMIT};

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
///
/// Its text (`Display`) is the error's, made once, when the exit is made:
/// at most 4 KiB, cut with `… N bytes more` beyond, and with
/// `<panicked while formatting>` where the error's own `Display` panicked.
/// Printing an exit, sending it to another OS process or naming it in a
/// linked exit therefore never runs the error's code again. (The text of
/// a [`LinkedExit`] the runtime makes, whose `Display` is paragram's own,
/// is made the first time it is asked for: a cascade through a thousand
/// processes formats nothing.)
#[derive(Clone, Default)]
pub struct Exit {
    error: Option<Arc<Failure>>,
}

/// An exit's error and its text.
struct Failure {
    error: SharedError,
    /// Made with the exit for a user's error; on first use for one of
    /// paragram's own, whose `Display` cannot panic.
    text: OnceLock<Box<str>>,
}

impl Failure {
    fn text(&self) -> &str {
        self.text
            .get_or_init(|| text::display(EXIT_LIMIT, &*self.error).into_boxed_str())
    }
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
            Err(error) => {
                let text = text::display(EXIT_LIMIT, &error).into_boxed_str();
                Exit {
                    error: Some(Arc::new(Failure {
                        error: Arc::from(error),
                        text: OnceLock::from(text),
                    })),
                }
            }
        }
    }

    /// An end with `error`, one of paragram's own, whose text is made when
    /// first asked for.
    pub(crate) fn with_own_error(error: impl StdError + Send + Sync + 'static) -> Exit {
        Exit {
            error: Some(Arc::new(Failure {
                error: Arc::new(error),
                text: OnceLock::new(),
            })),
        }
    }

    /// The error, or `None` for a normal end.
    pub fn error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.error.as_deref().map(|failure| &*failure.error)
    }

    /// The shared error, to keep or pass on without copying it.
    pub fn shared_error(&self) -> Option<&SharedError> {
        self.error.as_deref().map(|failure| &failure.error)
    }

    /// Whether this is a normal end.
    pub fn is_normal(&self) -> bool {
        self.error.is_none()
    }

    /// The error as `E`, if it is one.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.error()?.downcast_ref()
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
            .map_or(0, |failure| Arc::as_ptr(failure) as usize)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            None => f.write_str("normal"),
            Some(failure) => f.write_str(failure.text()),
        }
    }
}

impl fmt::Debug for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            None => f.write_str("Exit(normal)"),
            Some(failure) => write!(f, "Exit({})", failure.text()),
        }
    }
}

impl StdError for Exit {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error().map(|e| e as &(dyn StdError + 'static))
    }
}

/// A process ended because it was killed ([`Pid::kill`]): it could not
/// handle or observe it, and its links and monitors hear `killed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("killed")]
pub struct Killed;

/// A process ended because a handler or its start-up code panicked.
#[derive(Debug, Clone, Error)]
#[error("process panicked: {message}")]
pub struct Panicked {
    /// The panic message (its first KiB, with `… N bytes more` beyond), or
    /// a fixed text for a payload that is not a string.
    pub message: String,
}

impl Panicked {
    /// The text used for a panic payload that is neither `&str` nor `String`.
    pub const NON_STRING: &'static str = "panic payload is not a string";

    pub(crate) fn from_payload(payload: &(dyn std::any::Any + Send)) -> Panicked {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            text::display(PART_LIMIT, *s)
        } else if let Some(s) = payload.downcast_ref::<String>() {
            text::display(PART_LIMIT, s)
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
    /// The message, printed as a Rust tuple: `(2,)`; its first KiB, with
    /// `… N bytes more` beyond.
    pub message: String,
}

impl UnhandledMessage {
    /// The error for `message`, printed within the limit.
    pub(crate) fn new(message: &crate::message::Message) -> UnhandledMessage {
        UnhandledMessage {
            message: text::bounded(PART_LIMIT, |w| write!(w, "{message:?}")),
        }
    }
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

/// How a process of the OS-process kind ended when it did not say itself,
/// or was told to by the runtime.
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
    /// One side sent the other bytes that are not a frame; the child was
    /// killed (or, reading its parent's, ended).
    #[error("OS process protocol error: {0}")]
    Protocol(String),
    /// The root the process was spawned under (or the process of the OS
    /// process it was spawned in) ended, and the process was told to end,
    /// after the messages already sent to it.
    #[error("the root process ended")]
    RootEnded,
    /// Told to end, the OS process did not end within its shutdown
    /// timeout ([`Spawn::shutdown_timeout`](crate::Spawn::shutdown_timeout)),
    /// and was killed.
    #[error("the OS process did not end within {timeout:?} of being told to, and was killed")]
    ShutdownTimeout {
        /// The time it had.
        timeout: Duration,
    },
    /// The parent OS process ended (the child's side of the connection
    /// read its end); the child's process ends after the messages already
    /// received.
    #[error("the parent OS process ended")]
    ParentEnded,
}

impl OsProcessError {
    /// How a child OS process that exited or was killed with `status` ended.
    pub(crate) fn from_status(status: ExitStatus) -> OsProcessError {
        match (status.code(), status.signal()) {
            (Some(code), _) => OsProcessError::Exited { code },
            (None, Some(signal)) => OsProcessError::Signaled {
                signal,
                name: signal_name(signal),
            },
            (None, None) => OsProcessError::Exited { code: -1 },
        }
    }

    /// `Signaled` for `signal`, with its name.
    pub(crate) fn signaled(signal: i32) -> OsProcessError {
        OsProcessError::Signaled {
            signal,
            name: signal_name(signal),
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
