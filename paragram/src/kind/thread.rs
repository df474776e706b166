//! The thread kind: one OS thread per process.
//!
//! std aborts the whole program when a new thread cannot map the guard page
//! of its signal stack, which happens once the process runs out of memory
//! maps (`vm.max_map_count`; each thread takes about four). The thread kind
//! therefore counts its threads and refuses a spawn, with an error, well
//! before that point.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::runner::{Runner, quietly_drop};
use crate::spawn::SpawnError;

/// Threads of this kind now running.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Memory maps each thread takes: stack, guard page, signal stack and its
/// guard page.
const MAPS_PER_THREAD: usize = 4;

/// Memory maps left for everything else the program maps: libraries, heap
/// arenas, files.
const MAPS_RESERVED: usize = 2048;

/// The most threads of this kind that run at once, read once from the
/// machine's limits: memory maps, the kernel's thread limit and the user's
/// process limit. `PARAGRAM_MAX_THREADS` lowers it.
pub fn thread_limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let maps = read_number("/proc/sys/vm/max_map_count")
            .map(|n| n.saturating_sub(MAPS_RESERVED) / MAPS_PER_THREAD);
        let kernel = read_number("/proc/sys/kernel/threads-max");
        let user = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| soft_limit(&limits, "Max processes"));
        let configured = std::env::var("PARAGRAM_MAX_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok());
        [maps, kernel, user, configured]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(usize::MAX)
    })
}

fn read_number(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The soft limit on the line of `/proc/self/limits` that starts with `name`.
fn soft_limit(limits: &str, name: &str) -> Option<usize> {
    let line = limits.lines().find(|line| line.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// A place among the running threads, given back when dropped. The
/// OS-process kind's connection threads take one each too.
pub(crate) struct Slot;

impl Slot {
    /// A place, or [`SpawnError::ThreadLimit`] if every place is taken.
    pub(crate) fn take() -> Result<Slot, SpawnError> {
        let limit = thread_limit();
        let taken = RUNNING.fetch_add(1, Ordering::SeqCst);
        if taken >= limit {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            return Err(SpawnError::ThreadLimit { limit });
        }
        Ok(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The name of a thread that runs or stands for the process `name`: the
/// process's name without the NUL bytes a thread name cannot hold (a
/// process's name can), cut to leave room for `suffix` within 63 bytes
/// (Linux shows the first 15).
pub(crate) fn thread_name(name: &str, suffix: &str) -> String {
    const MOST: usize = 63;
    let room = MOST.saturating_sub(suffix.len());
    let mut thread = String::with_capacity(MOST);
    for c in name.chars().filter(|&c| c != '\0') {
        if thread.len() + c.len_utf8() > room {
            break;
        }
        thread.push(c);
    }
    thread.push_str(suffix);
    thread
}

/// Starts `runner` on a thread of its own, named after the process.
pub(crate) fn start(runner: Runner, stack_size: Option<usize>) -> Result<(), SpawnError> {
    let slot = Slot::take()?;
    let core = runner.core().clone();
    let mut builder = thread::Builder::new().name(thread_name(runner.name(), ""));
    if let Some(bytes) = stack_size {
        builder = builder.stack_size(bytes);
    }
    // Should the thread not start, std drops what it was given, process
    // state and all, where a `Drop` that panics would unwind out of
    // `spawn`: it is dropped quietly instead.
    let runner = Quietly(Some(runner));
    let handle = builder.spawn(move || {
        let _slot = slot;
        let mut runner = runner;
        if let Some(runner) = runner.0.take() {
            runner.run();
        }
    })?;
    core.set_reaper(Box::new(move || {
        // The thread has finished the exit steps; joining only waits for it
        // to unwind its last frame. A panic there was already contained.
        let _ = handle.join();
    }));
    Ok(())
}

/// A value dropped with any panic in its `Drop` contained.
struct Quietly<T>(Option<T>);

impl<T> Drop for Quietly<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            quietly_drop(value);
        }
    }
}
