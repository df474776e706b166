//! Helpers shared by the integration tests: waiting with a deadline, and
//! a user error type.

use std::error::Error;
use std::fmt;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use paragram::{Exit, Pid};

/// How long a test waits for anything before it fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The next value on `rx`, failing the test after [`DEADLINE`].
pub fn recv<T>(rx: &Receiver<T>) -> T {
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|e| panic!("no report within {DEADLINE:?}: {e}"))
}

/// `pid`'s exit value, failing the test if it does not end within
/// [`DEADLINE`].
pub fn ended(pid: &Pid) -> Exit {
    pid.wait_timeout(DEADLINE)
        .unwrap_or_else(|| panic!("{pid:?} did not end within {DEADLINE:?}"))
}

/// A user error type, written by hand (no derive), to show that any
/// `std::error::Error` survives as the exit value.
#[derive(Debug, PartialEq, Eq)]
pub struct Fault {
    /// Tells one fault from another.
    pub code: u32,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault {}", self.code)
    }
}

impl Error for Fault {}
