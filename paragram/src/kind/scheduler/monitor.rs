//! The monitor: a thread that looks at each worker every few milliseconds
//! and finds one that has run the same task for long (a handler that
//! blocks in its own code, or computes for long). After [`HAND_OVER`] it
//! gives that worker up: its queue goes to the injector and a spare (or
//! new) worker takes its place, so the other processes run on. After
//! [`LONG_SCHEDULE`] it reports the process, once, to the system monitor
//! if one is set, else on stderr. With every worker asleep it sleeps too,
//! until a push wakes a worker.
//!
//! A run's worker is given up once the run has lasted [`HAND_OVER`],
//! whatever kept it; its process is reported only once the run has *held*
//! the worker that long: the time its thread was blocked or on a core,
//! from `/proc/self/task/<tid>/stat`, looked at every tick. On a machine
//! with more runnable threads than cores, a worker preempted in the middle
//! of a short run holds nothing, and its process is not blamed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::pool::{Pool, Seat};
use crate::pid::{Pid, lock};
use crate::threads::{self, Slot};

/// How long a worker may run one task before the monitor gives it up.
const HAND_OVER: Duration = Duration::from_millis(20);

/// How long a task may hold its worker before the monitor reports it.
pub const LONG_SCHEDULE: Duration = Duration::from_millis(100);

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

/// What the monitor has seen of a worker's run.
#[derive(Clone, Copy)]
struct Seen {
    run: u64,
    /// When the run was first seen.
    since: Instant,
    /// When it was last looked at, and the thread's CPU time then.
    last: Instant,
    cpu: Option<Duration>,
    /// How long, of the time the run has been looked at, its thread was
    /// blocked or on a core: the time the OS kept it waiting for a core
    /// left out.
    held: Duration,
    /// Whether its worker has been given up, and the process reported.
    given_up: bool,
    reported: bool,
}

impl Seen {
    fn new(run: u64, now: Instant) -> Seen {
        Seen {
            run,
            since: now,
            last: now,
            cpu: None,
            held: Duration::ZERO,
            given_up: false,
            reported: false,
        }
    }

    /// Adds what the worker's thread did since the last look: the whole
    /// interval if it is blocked (or the OS does not say), its CPU time
    /// if it is runnable (on a core, or preempted and waiting for one).
    fn look(&mut self, now: Instant, seat: &Seat) {
        let interval = now.duration_since(self.last);
        match thread_stat(seat) {
            Some((state, cpu)) => {
                self.held += match (state, self.cpu) {
                    ('R', Some(before)) => cpu.saturating_sub(before).min(interval),
                    ('R', None) => Duration::ZERO,
                    _ => interval,
                };
                self.cpu = Some(cpu);
            }
            None => self.held += interval,
        }
        self.last = now;
    }
}

/// The state letter of the worker's thread (`R` runnable, `S` or `D`
/// blocked) and its CPU time so far, from `/proc/self/task/<tid>/stat`.
fn thread_stat(seat: &Seat) -> Option<(char, Duration)> {
    /// Linux counts a thread's CPU time there in ticks of 1/100 s.
    const TICK: Duration = Duration::from_millis(10);
    let tid = seat.tid.load(Ordering::Relaxed);
    if tid == 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The name, in parentheses, may hold spaces: fields count from after it.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let mut fields = fields.skip(10);
    let user: u32 = fields.next()?.parse().ok()?;
    let system: u32 = fields.next()?.parse().ok()?;
    Some((state, TICK * user.saturating_add(system)))
}

fn watch(pool: &'static Pool) {
    let mut seen: Vec<Option<Seen>> = Vec::new();
    loop {
        // Asleep with the workers, unless one it watches is still in a run
        // (a worker given up is not counted among them).
        let watching = seen.iter().any(Option::is_some);
        if !watching && pool.all_asleep() {
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
            let run = seat.run.load(Ordering::Acquire);
            let watched = run % 2 == 1
                && !seat.blocked.load(Ordering::SeqCst)
                && !seat.spare.load(Ordering::SeqCst);
            match seen {
                Some(seen) if watched && run == seen.run => {
                    seen.look(now, seat);
                    // Its other processes wait: another worker takes them
                    // once the run has lasted, whatever held it.
                    if !seen.given_up && now.duration_since(seen.since) >= HAND_OVER {
                        seen.given_up = true;
                        give_up(pool, seat);
                    }
                    if !seen.reported && seen.held >= LONG_SCHEDULE {
                        seen.reported = true;
                        report_run(seat, run, seen.held);
                    }
                }
                _ => *seen = watched.then(|| Seen::new(run, now)),
            }
        }
    }
}

/// The worker of `seat` has run one task for long: another takes its
/// place.
fn give_up(pool: &'static Pool, seat: &Seat) {
    if !seat.detached.swap(true, Ordering::SeqCst) {
        pool.hand_over(seat, None);
    }
}

/// The task the worker of `seat` runs has held it for `held`: its process
/// is reported, unless it has been already. The task is in the seat while
/// its process's code runs (not during its exit steps), and the worker
/// waits for it to be back before it goes on.
fn report_run(seat: &Seat, run: u64, held: Duration) {
    let Some(task) = seat.current.take() else {
        return;
    };
    let same = seat.run.load(Ordering::Acquire) == run;
    let pid = if same { task.report() } else { None };
    seat.current.store(Some(task));
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
