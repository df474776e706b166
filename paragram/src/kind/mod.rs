//! Kinds: what runs a process, and where it lives. Each kind is a leaf
//! under this module that knows no other kind: a [`Driver`] that starts
//! processes (and, for a kind that runs them elsewhere, a route that
//! reaches them). This is the one place that lists them; adding a kind is
//! its file and its line here.
//!
//! [`Driver`]: crate::driver::Driver

pub(crate) mod os_process;
mod scheduler;
mod thread;

use std::sync::OnceLock;

use crate::driver::Kind;

pub use os_process::Registry;

impl Kind {
    /// One OS thread per process, named after the process.
    pub const THREAD: Kind = Kind::of(&thread::PerThread);

    /// A child OS process running this same program, for isolation from
    /// crashes, aborts and global state; spawn with
    /// [`Spawn::os_process`](crate::Spawn::os_process).
    pub const OS_PROCESS: Kind = Kind::of(&os_process::OsProcess);

    /// Many processes on a few worker threads (one per core unless
    /// [`set_scheduler_workers`] says), each run for a batch of messages at
    /// a time: for processes by the thousand or the million.
    pub const SCHEDULER: Kind = Kind::of(&scheduler::Scheduling);

    /// Every kind.
    pub(crate) const ALL: [Kind; 3] = [Kind::THREAD, Kind::OS_PROCESS, Kind::SCHEDULER];

    /// The kind that gives each process a thread of its own: what a root
    /// runs on, and what a process that asks for a stack size gets.
    pub(crate) const OWN_THREAD: Kind = Kind::THREAD;
}

impl Default for Kind {
    /// [`Kind::THREAD`], unless the `PARAGRAM_KIND` variable names another
    /// kind (`Thread`, `Scheduler`, any case): the default of a root made
    /// with [`Root::new`](crate::Root::new), so that a program's (or a test
    /// suite's) processes can be run on another kind without a change.
    fn default() -> Kind {
        static DEFAULT: OnceLock<Kind> = OnceLock::new();
        *DEFAULT.get_or_init(|| {
            let named = std::env::var("PARAGRAM_KIND").unwrap_or_default();
            Kind::ALL
                .into_iter()
                .filter(|kind| *kind != Kind::OS_PROCESS)
                .find(|kind| kind.name().eq_ignore_ascii_case(named.trim()))
                .unwrap_or(Kind::THREAD)
        })
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

/// Sets how many worker threads the scheduler kind runs its processes on;
/// only before its first process starts (later, it changes nothing).
/// Unset, `PARAGRAM_WORKERS` says, else one per core.
pub fn set_scheduler_workers(workers: usize) {
    scheduler::set_workers(workers);
}

/// How long a process of the scheduler kind may hold its worker in one go
/// (a handler that blocks in its own code, or computes for long) before
/// the scheduler's monitor reports it, once (see [`system_monitor`]). Its
/// worker's other processes do not wait that long: after 20 ms of one run,
/// a spare worker takes them. Time the OS kept the worker waiting for a
/// core does not count: a worker preempted on a busy machine is not a
/// process holding it.
pub const LONG_SCHEDULE: std::time::Duration = scheduler::LONG_SCHEDULE;

/// Sets the process that hears of long schedules, as Erlang's
/// `erlang:system_monitor(Pid, [{long_schedule, 100}])` does, and returns
/// the one set before. A process of the scheduler kind that holds its
/// worker for over [`LONG_SCHEDULE`] is reported to it once, as the message
/// `("monitor", Pid, "long_schedule", u64)`: the process, and how many
/// milliseconds it had held the worker when seen. Unset (or if the send
/// fails), the report is a line on stderr.
///
/// ```
/// use paragram::{Pid, Root, pattern};
/// let root = Root::new();
/// let watcher = root
///     .spawn(|ctx: &mut paragram::Ctx| {
///         ctx.receive(
///             pattern!("monitor", Pid, "long_schedule", u64),
///             |_, (pid, ms): (Pid, u64)| eprintln!("{pid} held its worker {ms} ms"),
///         )
///     })
///     .unwrap();
/// paragram::system_monitor(Some(watcher));
/// ```
pub fn system_monitor(pid: Option<crate::pid::Pid>) -> Option<crate::pid::Pid> {
    scheduler::set_system_monitor(pid)
}
