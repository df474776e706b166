//! Helpers shared by the integration tests: waiting with a deadline, a
//! user error type, and strategies that generate terms.

pub mod terms;

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
        .unwrap_or_else(|e| panic!("{pid:?} did not end within {DEADLINE:?}: {e}"))
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

/// Keeps the default panic hook's report for every panic but the
/// deliberate ones: those whose message starts with `deliberate`, and
/// non-string payloads. A failing assertion still prints.
pub fn quiet_deliberate_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        match message {
            Some(message) if !message.starts_with("deliberate") => report(info),
            _ => {}
        }
    }));
}
