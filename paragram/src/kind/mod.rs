//! Kinds: what runs a process, and where it lives. Each kind is a leaf
//! under this module that knows no other kind: a [`Driver`] that starts
//! processes (and, for a kind that runs them elsewhere, a route that
//! reaches them). This is the one place that lists them; adding a kind is
//! its file and its line here.
//!
//! [`Driver`]: crate::driver::Driver

pub(crate) mod os_process;
mod thread;

use crate::driver::Kind;

pub use os_process::Registry;

impl Kind {
    /// One OS thread per process, named after the process.
    pub const THREAD: Kind = Kind::of(&thread::PerThread);

    /// A child OS process running this same program, for isolation from
    /// crashes, aborts and global state; spawn with
    /// [`Spawn::os_process`](crate::Spawn::os_process).
    pub const OS_PROCESS: Kind = Kind::of(&os_process::OsProcess);

    /// Every kind.
    pub(crate) const ALL: [Kind; 2] = [Kind::THREAD, Kind::OS_PROCESS];
}

impl Default for Kind {
    /// [`Kind::THREAD`].
    fn default() -> Kind {
        Kind::THREAD
    }
}

/// The hook that makes this program able to run OS-process children: call
/// it first thing in `main`, registering every type spawned with
/// [`Spawn::os_process`](crate::Spawn::os_process) and every function
/// spawned with [`Spawn::os_process_fn`](crate::Spawn::os_process_fn). In
/// the parent it notes what is registered (a spawn of anything else is
/// refused with
/// [`SpawnError::NotRegistered`](crate::SpawnError::NotRegistered)) and
/// returns; in a child it runs the process and exits when the process ends
/// or the parent goes away, never returning.
///
/// ```no_run
/// # #[derive(paragram::Process, serde::Serialize, serde::Deserialize)]
/// # struct Worker;
/// # #[paragram::process] impl Worker {}
/// fn main() {
///     paragram::os_process::hook(|r| {
///         r.register::<Worker>();
///     });
///     // ... the program as usual
/// }
/// ```
///
/// A child's own process runs on the thread kind.
pub fn hook(register: impl FnOnce(&mut os_process::Registry)) {
    os_process::hook(register, Kind::THREAD);
}

/// Marks the calling thread as running the test `name` of `module_path`
/// until the guard is dropped: OS processes spawned from it are the test
/// binary run on that test.
pub(crate) fn os_test(module_path: &str, name: &str) -> os_process::TestThread {
    os_process::TestThread::enter(module_path, name)
}
