//! What the stress binaries share: sizing, deadlines, drop counting, thread
//! counting and a panic hook that keeps deliberate panics quiet.
// Each stress binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use paragram::{Exit, Pid};

/// Set to run every stress test at full size:
/// `PARAGRAM_FULL=1 cargo nextest run -p paragram-tests --release -E 'test(/^stress_/)'`.
pub const FULL_SIZE_VAR: &str = "PARAGRAM_FULL";

/// How long any single blocking step may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Whether the suite runs at full size.
pub fn full() -> bool {
    std::env::var_os(FULL_SIZE_VAR).is_some()
}

/// `ci` normally, `full` when `PARAGRAM_FULL` is set.
pub fn size(ci: usize, full_size: usize) -> usize {
    if full() { full_size } else { ci }
}

/// Waits for `pid` to end, failing the test after [`DEADLINE`].
#[track_caller]
pub fn wait(pid: &Pid) -> Exit {
    match pid.wait_timeout(DEADLINE) {
        Ok(exit) => exit,
        Err(error) => panic!("{pid:?} still alive after {DEADLINE:?}: {error}"),
    }
}

/// A message element that counts its drops.
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    pub fn new(drops: &Arc<AtomicUsize>) -> DropCounter {
        DropCounter(drops.clone())
    }
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl paragram::Opaque for DropCounter {}

/// A value whose `Drop` panics (deliberately), counting the attempts.
pub struct PanicOnDrop(pub Arc<AtomicUsize>);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("deliberate panic in drop");
    }
}

impl paragram::Opaque for PanicOnDrop {}

/// Starts whatever the default kind keeps running for the whole program
/// (the scheduler kind's workers), so that a thread count taken next is a
/// baseline that only processes move.
pub fn warm_up() {
    let root = paragram::Root::new();
    let pid = root.spawn(|_: &mut paragram::Ctx| {}).unwrap();
    pid.terminate();
    wait(&pid);
    drop(pid);
    // A root's thread takes its name `__main__` when it first runs, which
    // may be after its child has ended: end the root and wait for its exit,
    // so that its thread has run and is counted below until it has unwound.
    root.pid().terminate();
    wait(root.pid());
    drop(root);
    let deadline = Instant::now() + DEADLINE;
    while roots_running() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        roots_running(),
        0,
        "the warm-up root's thread has not ended"
    );
}

/// How many threads of this OS process are named `__main__`, as roots' are.
fn roots_running() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "__main__")
        .count()
}

/// The names of this OS process's threads now, sorted: what a failing
/// thread count prints.
pub fn thread_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect();
    names.sort();
    names
}

/// How many threads this OS process has now.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable")
        .count()
}

/// Waits until this OS process has at most `target` threads, or `within`
/// passes; returns the last count.
///
/// Polling is the only way here: nothing in the runtime can tell a test
/// that a thread it no longer has a handle to has left the kernel's task
/// list, and /proc/self/task is where that shows. The sleep is the polling
/// interval, bounded by the deadline, not a synchronisation.
pub fn await_threads(target: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let now = threads();
        if now <= target || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
