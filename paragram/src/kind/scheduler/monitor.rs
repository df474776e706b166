//! The monitor: a thread that looks at each worker every few milliseconds
//! and finds one that has run the same task for longer than
//! [`LONG_SCHEDULE`] (a handler that blocks in its own code, or computes
//! for long). It gives that worker up: its queue goes to the injector and
//! a spare (or new) worker takes its place, so the other processes run on;
//! and it reports the process, once, to the system monitor if one is set,
//! else on stderr. With every worker asleep it sleeps too, until a push
//! wakes a worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::pool::{Pool, Seat};
use crate::pid::{Pid, lock};
use crate::threads::{self, Slot};

/// How long a worker may run one task before the monitor gives it up and
/// reports the process.
pub const LONG_SCHEDULE: Duration = Duration::from_millis(20);

/// How often the monitor looks.
const TICK: Duration = Duration::from_millis(5);

/// The monitor's thread, once started.
static THREAD: OnceLock<Thread> = OnceLock::new();

/// Whether the monitor sleeps until a worker is woken.
static PARKED: AtomicBool = AtomicBool::new(false);

/// Where long schedules are reported, if anywhere but stderr.
static SYSTEM_MONITOR: Mutex<Option<Pid>> = Mutex::new(None);

/// Sets where long schedules are reported; returns the previous.
pub(crate) fn set_system_monitor(pid: Option<Pid>) -> Option<Pid> {
    std::mem::replace(&mut *lock(&SYSTEM_MONITOR), pid)
}

/// Starts the monitor of `pool`. Without a place among the threads, the
/// pool runs without one.
pub(crate) fn start(pool: &'static Pool) {
    let Ok(slot) = Slot::take() else {
        return;
    };
    let started = threads::start("paragram-monitor".into(), None, slot, move |_slot| {
        watch(pool);
    });
    if let Ok(handle) = started {
        let _ = THREAD.set(handle.thread().clone());
    }
}

/// Wakes the monitor if it sleeps: a worker has just been woken.
pub(crate) fn wake() {
    if PARKED.load(Ordering::SeqCst)
        && PARKED.swap(false, Ordering::SeqCst)
        && let Some(thread) = THREAD.get()
    {
        thread.unpark();
    }
}

/// What the monitor last saw of a worker.
#[derive(Clone, Copy)]
struct Seen {
    run: u64,
    since: Instant,
}

fn watch(pool: &'static Pool) {
    let mut seen: Vec<Option<Seen>> = Vec::new();
    loop {
        if pool.all_asleep() {
            PARKED.store(true, Ordering::SeqCst);
            if pool.all_asleep() {
                std::thread::park();
                continue;
            }
            PARKED.store(false, Ordering::SeqCst);
        }
        std::thread::park_timeout(TICK);
        let seats = pool.seats.read().unwrap_or_else(|e| e.into_inner()).clone();
        seen.resize(seats.len(), None);
        let now = Instant::now();
        for (seat, seen) in seats.iter().zip(&mut seen) {
            let run = seat.run.load(Ordering::SeqCst);
            let given_up = seat.blocked.load(Ordering::SeqCst)
                || seat.detached.load(Ordering::SeqCst)
                || seat.spare.load(Ordering::SeqCst);
            match *seen {
                Some(before) if !given_up && run % 2 == 1 && run == before.run => {
                    let held = now.duration_since(before.since);
                    if held >= LONG_SCHEDULE {
                        give_up(pool, seat, run, held);
                        *seen = None;
                    }
                }
                _ => *seen = Some(Seen { run, since: now }),
            }
        }
    }
}

/// The worker of `seat` has run one task for `held`: another takes its
/// place, and the process is reported.
fn give_up(pool: &'static Pool, seat: &Seat, run: u64, held: Duration) {
    if seat.detached.swap(true, Ordering::SeqCst) {
        return;
    }
    pool.hand_over(seat, None);
    // The task in the seat is the one that runs, if the run has not
    // changed meanwhile; it goes back after, unless a newer one is there.
    let Some(task) = seat.current.take() else {
        return;
    };
    let same = seat.run.load(Ordering::SeqCst) == run;
    let pid = if same { task.report() } else { None };
    if let Some(newer) = seat.current.swap(Some(task)) {
        drop(seat.current.swap(Some(newer)));
    }
    if let Some(pid) = pid {
        report(pid, held);
    }
}

fn report(pid: Pid, held: Duration) {
    let ms = u64::try_from(held.as_millis()).unwrap_or(u64::MAX);
    let to = lock(&SYSTEM_MONITOR).clone();
    if let Some(to) = to
        && to
            .send(("monitor", pid.clone(), "long_schedule", ms))
            .is_ok()
    {
        return;
    }
    eprintln!(
        "paragram: process {pid:?} has held a scheduler worker for {ms} ms without returning \
         (a handler that blocks, or computes for long); its worker's other processes were moved \
         to another. Give it a thread of its own: spawn it with `.kind(Kind::THREAD)`."
    );
}
