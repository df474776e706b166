//! A worker's loop: take a task, run it for its budget, again; when there
//! is none, look a little longer, then sleep until a push wakes the worker.
//!
//! Where a worker takes its next task from, in order: every 61st time, the
//! injector first (so that what comes from outside is never starved by
//! local work); its LIFO slot, unless it has taken it 3 times in a row
//! (two processes that wake each other would otherwise keep the worker to
//! themselves, as tokio's LIFO slot did in tokio #4941); its own deque; the
//! injector; the other workers.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_deque::Worker;
use crossbeam_utils::sync::Parker;

use super::pool::{Pool, Push, Seat};
use super::task::{Ran, Task};
use crate::driver::{self, Blocking};

/// Envelopes a process handles before the worker runs another.
pub(crate) const BUDGET: usize = 64;

/// How often the injector is looked at first.
const INJECTOR_EVERY: u32 = 61;

/// The most times in a row a worker takes its LIFO slot.
const LIFO_RUNS: u32 = 3;

/// Rounds of looking for work before a worker sleeps.
const LOOKS: u32 = 64;

/// What a worker keeps on its own thread.
struct Local {
    pool: &'static Pool,
    deque: Worker<Arc<Task>>,
    seat: Arc<Seat>,
    lifo_runs: Cell<u32>,
    ticks: Cell<u32>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Queues `task` on the calling thread's worker, if it is one: whether a
/// backlog has built (a task waits in the deque, which another worker
/// could take); the task back if the thread is no worker.
pub(crate) fn push_here(task: Arc<Task>, push: Push) -> Result<bool, Arc<Task>> {
    LOCAL.with(|local| {
        let local = local.borrow();
        let Some(local) = local.as_ref() else {
            return Err(task);
        };
        match push {
            Push::Woken => match local.seat.lifo.swap(Some(task)) {
                Some(displaced) => {
                    local.deque.push(displaced);
                    Ok(true)
                }
                None => Ok(false),
            },
            Push::Behind => {
                local.deque.push(task);
                Ok(true)
            }
        }
    })
}

/// What a worker does around paragram's blocking calls: its queue goes to
/// the injector and another worker takes its place until it is back.
struct HandOver;

impl Blocking for HandOver {
    fn enter(&self) -> bool {
        LOCAL.with(|local| {
            let local = local.borrow();
            let Some(local) = local.as_ref() else {
                return false;
            };
            // Given up by the monitor already: it is not counted.
            if local.seat.detached.load(Ordering::SeqCst) {
                return false;
            }
            local.seat.blocked.store(true, Ordering::SeqCst);
            local.pool.hand_over(&local.seat, Some(&local.deque));
            true
        })
    }

    fn leave(&self) {
        LOCAL.with(|local| {
            if let Some(local) = local.borrow().as_ref() {
                local.seat.blocked.store(false, Ordering::SeqCst);
                local.pool.rejoin();
            }
        });
    }
}

/// The worker `index` of `pool`: runs until the program ends.
pub(crate) fn work(
    pool: &'static Pool,
    index: usize,
    seat: Arc<Seat>,
    deque: Worker<Arc<Task>>,
    parker: Parker,
) {
    LOCAL.with(|local| {
        *local.borrow_mut() = Some(Local {
            pool,
            deque,
            seat: seat.clone(),
            lifo_runs: Cell::new(0),
            ticks: Cell::new(0),
        });
    });
    driver::on_blocking(&HandOver);
    seat.tid.store(thread_id(), Ordering::Relaxed);
    let mut runs = 0;
    loop {
        let Some(task) = next(pool, index).or_else(|| idle(pool, index, &seat, &parker)) else {
            continue;
        };
        runs += 2;
        let (task, ran) = run(&seat, task, runs);
        if let Ran::Again = ran {
            let _ = push_here(task, Push::Behind);
        }
        // Given up by the monitor while it ran: done, it counts again.
        if seat.detached.load(Ordering::Relaxed) && seat.detached.swap(false, Ordering::SeqCst) {
            pool.rejoin();
        }
    }
}

/// The calling thread's id in the OS, as `/proc/thread-self` names it
/// (`<pid>/task/<tid>`); 0 where there is no such file.
fn thread_id() -> u32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|path| path.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

/// Runs `task` for its budget, in view of the monitor: [`Seat::run`] is
/// `runs - 1` (odd) while it runs, `runs` after, and the task is in
/// [`Seat::current`] while its process's code runs.
fn run(seat: &Seat, task: Arc<Task>, runs: u64) -> (Arc<Task>, Ran) {
    let Some(mut runner) = task.begin() else {
        return (task, Ran::Parked);
    };
    seat.current.store(Some(task));
    seat.run.store(runs - 1, Ordering::Release);
    let progress = runner.run_ready(BUDGET);
    // The monitor takes the task out only to name it, and puts it back.
    let task = loop {
        if let Some(task) = seat.current.take() {
            break task;
        }
        std::hint::spin_loop();
    };
    let ran = task.end(runner, progress);
    seat.run.store(runs, Ordering::Release);
    (task, ran)
}

/// The next task for worker `index`, if there is one anywhere.
fn next(pool: &Pool, index: usize) -> Option<Arc<Task>> {
    LOCAL.with(|local| {
        let local = local.borrow();
        let local = local.as_ref()?;
        let ticks = local.ticks.get().wrapping_add(1);
        local.ticks.set(ticks);
        if ticks % INJECTOR_EVERY == 0
            && let crossbeam_deque::Steal::Success(task) =
                pool.injector.steal_batch_and_pop(&local.deque)
        {
            return Some(task);
        }
        if local.lifo_runs.get() < LIFO_RUNS {
            if let Some(task) = local.seat.lifo.take() {
                local.lifo_runs.set(local.lifo_runs.get() + 1);
                return Some(task);
            }
        } else if let Some(task) = local.seat.lifo.take() {
            local.deque.push(task);
        }
        local.lifo_runs.set(0);
        local
            .deque
            .pop()
            .or_else(|| pool.steal(index, &local.deque, false))
    })
}

/// No task anywhere: a worker the pool has one too many of becomes a
/// spare; another looks a little longer, spinning then yielding, then
/// sleeps until a push wakes it. Another worker's LIFO slot is looked at
/// only before sleeping: its own worker usually takes it within a few
/// hundred nanoseconds, and a process woken by a send should run where its
/// sender runs; one left there while its worker is busy is taken.
fn idle(pool: &Pool, index: usize, seat: &Seat, parker: &Parker) -> Option<Arc<Task>> {
    if pool.retire(index, seat) {
        while seat.spare.load(Ordering::SeqCst) {
            parker.park();
        }
        return None;
    }
    pool.searching.fetch_add(1, Ordering::SeqCst);
    for look in 0..LOOKS {
        if let Some(task) = look_for_work(pool, index, false) {
            pool.searching.fetch_sub(1, Ordering::SeqCst);
            return Some(task);
        }
        if look < LOOKS / 2 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    pool.sleep(index);
    if let Some(task) = look_for_work(pool, index, true) {
        pool.wake(index);
        return Some(task);
    }
    parker.park();
    pool.wake(index);
    None
}

/// A task from worker `index`'s deque, or from anywhere it could steal one.
fn look_for_work(pool: &Pool, index: usize, lifo: bool) -> Option<Arc<Task>> {
    LOCAL.with(|local| {
        let local = local.borrow();
        let local = local.as_ref()?;
        local
            .deque
            .pop()
            .or_else(|| pool.steal(index, &local.deque, lifo))
    })
}
