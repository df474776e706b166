//! Helpers shared by the integration tests: waiting with a deadline, a
//! user error type, and strategies that generate terms.

pub mod terms;

use std::error::Error;
use std::fmt;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

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

/// How many threads of this OS process have a name that starts with
/// `prefix` (of at most 15 bytes: the kernel keeps no more of a thread's
/// name). A process's thread is named after the process, so a test that
/// names its processes counts the threads it owns, whatever other tests
/// run beside it in the same OS process.
pub fn threads_named(prefix: &str) -> usize {
    assert!(prefix.len() <= 15, "the kernel keeps 15 bytes of a name");
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable")
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Waits until no thread named with `prefix` is left, or [`DEADLINE`]
/// passes; returns how many are left.
///
/// Polling is the only way here: nothing in the runtime can tell a test
/// that a thread it no longer has a handle to has left the kernel's task
/// list, and /proc/self/task is where that shows. The sleep is the polling
/// interval, bounded by the deadline, not a synchronisation.
pub fn await_no_threads_named(prefix: &str) -> usize {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = threads_named(prefix);
        if left == 0 || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
