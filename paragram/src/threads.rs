//! The OS threads processes run and are stood for on: how many the program
//! may start, a place among them for each, their names, and starting one.
//! Every kind that starts threads starts them here.
//!
//! std aborts the whole program when a new thread cannot map the guard page
//! of its signal stack, which happens once the process runs out of memory
//! maps (`vm.max_map_count`; each thread takes about four). Threads are
//! therefore counted, and a spawn refused with an error well before that
//! point.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};

use crate::runner::quietly_drop;
use crate::spawn::SpawnError;

/// Threads now running, of every kind.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Memory maps each thread takes: stack, guard page, signal stack and its
/// guard page.
const MAPS_PER_THREAD: usize = 4;

/// Memory maps left for everything else the program maps: libraries, heap
/// arenas, files.
const MAPS_RESERVED: usize = 2048;

/// The most threads the program's processes run on at once, read once
/// from the machine's limits: memory maps, the kernel's thread limit and
/// the user's process limit. `PARAGRAM_MAX_THREADS` lowers it.
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

/// A place among the running threads, given back when dropped: taken
/// before a thread is started, so that a spawn past the limit is refused
/// before anything is.
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

/// Starts `run` on a thread named `name`, handing it `slot` to give back
/// when it is done (at the latest, as it returns). Should the thread not
/// start, what `run` holds (a process's state, say) is dropped with any
/// panic in its `Drop` contained, where std would let it unwind out of the
/// spawn.
pub(crate) fn start(
    name: String,
    stack_size: Option<usize>,
    slot: Slot,
    run: impl FnOnce(Slot) + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    let mut builder = thread::Builder::new().name(name);
    if let Some(bytes) = stack_size {
        builder = builder.stack_size(bytes);
    }
    let run = Quietly(Some((run, slot)));
    builder.spawn(move || {
        let mut run = run;
        if let Some((run, slot)) = run.0.take() {
            run(slot);
        }
    })
}

/// Starts `run`, a service of the runtime's own that runs for the whole
/// program (the timer thread), on a thread named `name`: with a place
/// among the threads if one is free, without otherwise (one thread past
/// the count is far inside the limit's margin).
pub(crate) fn start_service(name: String, run: impl FnOnce() + Send + 'static) -> io::Result<()> {
    let slot = Slot::take().ok();
    thread::Builder::new().name(name).spawn(move || {
        let _slot = slot;
        run();
    })?;
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
