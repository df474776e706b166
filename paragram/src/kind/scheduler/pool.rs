//! The workers and their run queues: a global injector for what comes from
//! outside the pool, a FIFO deque per worker that the others steal from,
//! and a LIFO slot per worker for the process a worker's own send has just
//! woken (as Go's runnext and tokio's), which the others may steal too.
//!
//! Sleeping workers are woken only when a backlog builds: a push to the
//! injector, or to a worker's deque, wakes one if any sleeps; a push to a
//! LIFO slot wakes none (its worker runs it next).
//!
//! The sleep protocol, so that no wake-up is lost: a worker that finds no
//! work registers as a sleeper and stops searching, then (a sequentially
//! consistent fence between) looks for work once more, and only then
//! parks. A pusher pushes, then (a fence between) reads the number of
//! sleepers and of searchers, and unparks a sleeper if there is one and no
//! worker searches. One of the two always sees the other: a searcher that
//! the pusher counted on looks again after it stops searching.
//!
//! How many workers run: the pool keeps as many *active* as it was asked
//! for. A worker that blocks in one of paragram's own calls, or that the
//! monitor finds held by one process for too long, stops counting: its
//! queue goes to the injector and a spare thread (or a new one) takes its
//! place. Back, it counts again; the pool then has one worker too many,
//! and the first to find nothing to do becomes a spare, parked until a
//! place is free.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::atomic::AtomicCell;
use crossbeam_utils::sync::{Parker, Unparker};

use super::task::Task;
use super::{monitor, worker};
use crate::pid::lock;
use crate::spawn::SpawnError;
use crate::threads::{self, Slot};

/// How a task comes to be queued.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// A send woke it: on a worker, it goes to that worker's LIFO slot.
    Woken,
    /// Spawned, or run for its budget and not done: behind the others.
    Behind,
}

/// What the other workers, the monitor and pushers from outside see of a
/// worker.
pub(crate) struct Seat {
    pub(crate) stealer: Stealer<Arc<Task>>,
    pub(crate) lifo: AtomicCell<Option<Arc<Task>>>,
    unparker: Unparker,
    /// Odd while the worker runs a task, and one more at each start and
    /// end of a run: the monitor sees a run that lasts.
    pub(crate) run: AtomicU64,
    /// The task whose process's code the worker runs, if any.
    pub(crate) current: AtomicCell<Option<Arc<Task>>>,
    /// Inside one of paragram's blocking calls: not counted as active.
    pub(crate) blocked: AtomicBool,
    /// Given up by the monitor while it ran one task for too long: not
    /// counted as active until the worker, done with it, counts again.
    pub(crate) detached: AtomicBool,
    /// Parked as a spare, until a place is free.
    pub(crate) spare: AtomicBool,
    /// The worker's thread id, once it runs (0 until then, or where the
    /// OS does not say).
    pub(crate) tid: AtomicU32,
}

impl Seat {
    /// Unparks the worker.
    pub(crate) fn unpark(&self) {
        self.unparker.unpark();
    }
}

/// The pool of workers.
pub(crate) struct Pool {
    pub(crate) injector: Injector<Arc<Task>>,
    pub(crate) seats: RwLock<Vec<Arc<Seat>>>,
    /// The indices of the workers parked, or about to park.
    sleepers: Mutex<Vec<usize>>,
    /// How many there are, read without the lock.
    sleeping: AtomicUsize,
    /// How many workers are looking for work, not yet registered as
    /// sleepers: one of them will find what is pushed, so a push wakes
    /// no sleeper while this is not zero.
    pub(crate) searching: AtomicUsize,
    /// How many workers the pool keeps active.
    wanted: AtomicUsize,
    /// How many are: neither blocked, nor detached, nor spare.
    active: AtomicUsize,
    /// The indices of the spare workers.
    spares: Mutex<Vec<usize>>,
    /// Held while workers are started.
    starting: Mutex<()>,
}

/// The number of workers the pool starts with, if set before it starts.
static WORKERS: AtomicUsize = AtomicUsize::new(0);

/// The pool; its workers are started by [`ready`].
pub(crate) fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        injector: Injector::new(),
        seats: RwLock::new(Vec::new()),
        sleepers: Mutex::new(Vec::new()),
        sleeping: AtomicUsize::new(0),
        searching: AtomicUsize::new(0),
        wanted: AtomicUsize::new(0),
        active: AtomicUsize::new(0),
        spares: Mutex::new(Vec::new()),
        starting: Mutex::new(()),
    })
}

/// Starts the pool's workers and its monitor, if none runs yet: an error
/// if not one worker could be started (the program is at its thread
/// limit), so that a process is never queued where no worker will run it.
pub(crate) fn ready() -> Result<(), SpawnError> {
    static STARTED: OnceLock<()> = OnceLock::new();
    if STARTED.get().is_some() {
        return Ok(());
    }
    let pool = pool();
    let _starting = lock(&pool.starting);
    if STARTED.get().is_some() {
        return Ok(());
    }
    pool.wanted.store(workers(), Ordering::SeqCst);
    pool.fill()?;
    monitor::start(pool);
    let _ = STARTED.set(());
    Ok(())
}

/// How many workers the pool has: as set, else `PARAGRAM_WORKERS`, else
/// one per core.
pub(crate) fn workers() -> usize {
    match WORKERS.load(Ordering::Relaxed) {
        0 => std::env::var("PARAGRAM_WORKERS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        n => n,
    }
}

/// Sets the number of workers, before the pool starts.
pub(crate) fn set_workers(n: usize) {
    WORKERS.store(n.max(1), Ordering::Relaxed);
}

/// Queues `task` to run: from a worker, on that worker; from anywhere
/// else, on the injector.
pub(crate) fn schedule(task: Arc<Task>, push: Push) {
    match worker::push_here(task, push) {
        Ok(backlog) => {
            if backlog {
                pool().wake_one();
            }
        }
        Err(task) => {
            let pool = pool();
            pool.injector.push(task);
            pool.wake_one();
        }
    }
}

impl Pool {
    /// Brings the active workers up to the number wanted: spares first,
    /// then new threads. An error only if none is active after (a thread
    /// that cannot be had otherwise leaves the pool a worker short).
    fn fill(&'static self) -> Result<(), SpawnError> {
        loop {
            let active = self.active.load(Ordering::SeqCst);
            if active >= self.wanted.load(Ordering::SeqCst) {
                return Ok(());
            }
            if self
                .active
                .compare_exchange(active, active + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                continue;
            }
            let spare = lock(&self.spares).pop();
            let added = match spare.and_then(|index| self.seat(index)) {
                Some(seat) => {
                    seat.spare.store(false, Ordering::SeqCst);
                    seat.unpark();
                    Ok(())
                }
                None => self.add_worker(),
            };
            if let Err(error) = added {
                let before = self.active.fetch_sub(1, Ordering::SeqCst);
                return if before == 1 { Err(error) } else { Ok(()) };
            }
        }
    }

    /// Starts a worker thread, with its place among the threads.
    fn add_worker(&'static self) -> Result<(), SpawnError> {
        let slot = Slot::take()?;
        let deque = Worker::new_fifo();
        let parker = Parker::new();
        let seat = Arc::new(Seat {
            stealer: deque.stealer(),
            lifo: AtomicCell::new(None),
            unparker: parker.unparker().clone(),
            run: AtomicU64::new(0),
            current: AtomicCell::new(None),
            blocked: AtomicBool::new(false),
            detached: AtomicBool::new(false),
            spare: AtomicBool::new(false),
            tid: AtomicU32::new(0),
        });
        let index = {
            let mut seats = self.seats.write().unwrap_or_else(|e| e.into_inner());
            seats.push(seat.clone());
            seats.len() - 1
        };
        let name = format!("paragram-worker-{index}");
        let started = threads::start(name, None, slot, move |_slot| {
            worker::work(self, index, seat, deque, parker);
        });
        // Should the thread not start, its seat stays, empty: nothing is
        // pushed to a seat but by its own worker, and it is never a spare.
        started.map(drop).map_err(SpawnError::Os)
    }

    /// A worker stops counting as active (it blocks, or the monitor gave
    /// it up): what it had queued goes to the injector, and another takes
    /// its place.
    pub(crate) fn hand_over(&'static self, seat: &Seat, deque: Option<&Worker<Arc<Task>>>) {
        if let Some(task) = seat.lifo.take() {
            self.injector.push(task);
        }
        match deque {
            Some(deque) => {
                while let Some(task) = deque.pop() {
                    self.injector.push(task);
                }
            }
            None => loop {
                match seat.stealer.steal() {
                    Steal::Success(task) => self.injector.push(task),
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            },
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
        let _ = self.fill();
        self.wake_one();
    }

    /// A worker counts as active again.
    pub(crate) fn rejoin(&self) {
        self.active.fetch_add(1, Ordering::SeqCst);
    }

    /// Makes worker `index` a spare if the pool has more active workers
    /// than it wants: true if it is one now, and must park until
    /// [`Seat::spare`] is cleared.
    pub(crate) fn retire(&self, index: usize, seat: &Seat) -> bool {
        let wanted = self.wanted.load(Ordering::SeqCst);
        let mut active = self.active.load(Ordering::SeqCst);
        loop {
            if active <= wanted {
                return false;
            }
            match self.active.compare_exchange(
                active,
                active - 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(now) => active = now,
            }
        }
        seat.spare.store(true, Ordering::SeqCst);
        lock(&self.spares).push(index);
        true
    }

    /// Unparks one sleeping worker, if any sleeps and none is looking for
    /// work (which, registering as a sleeper, looks once more).
    pub(crate) fn wake_one(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) == 0 || self.searching.load(Ordering::SeqCst) > 0 {
            return;
        }
        let index = {
            let mut sleepers = lock(&self.sleepers);
            let index = sleepers.pop();
            self.sleeping.store(sleepers.len(), Ordering::SeqCst);
            index
        };
        if let Some(index) = index
            && let Some(seat) = self.seat(index)
        {
            seat.unpark();
            monitor::wake();
        }
    }

    pub(crate) fn seat(&self, index: usize) -> Option<Arc<Seat>> {
        let seats = self.seats.read().unwrap_or_else(|e| e.into_inner());
        seats.get(index).cloned()
    }

    /// Whether every active worker sleeps.
    pub(crate) fn all_asleep(&self) -> bool {
        self.sleeping.load(Ordering::SeqCst) >= self.active.load(Ordering::SeqCst)
    }

    /// Registers worker `index` as a sleeper, no longer searching.
    pub(crate) fn sleep(&self, index: usize) {
        let mut sleepers = lock(&self.sleepers);
        if !sleepers.contains(&index) {
            sleepers.push(index);
        }
        self.sleeping.store(sleepers.len(), Ordering::SeqCst);
        drop(sleepers);
        self.searching.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Unregisters worker `index`, if it is still registered.
    pub(crate) fn wake(&self, index: usize) {
        let mut sleepers = lock(&self.sleepers);
        sleepers.retain(|&i| i != index);
        self.sleeping.store(sleepers.len(), Ordering::SeqCst);
    }

    /// A task from the injector (a batch of them moved to `deque`), or
    /// from another worker's deque, or (with `lifo`) its LIFO slot.
    pub(crate) fn steal(
        &self,
        index: usize,
        deque: &Worker<Arc<Task>>,
        lifo: bool,
    ) -> Option<Arc<Task>> {
        loop {
            match self.injector.steal_batch_and_pop(deque) {
                Steal::Success(task) => return Some(task),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
        let seats = self.seats.read().unwrap_or_else(|e| e.into_inner());
        let count = seats.len();
        for offset in 1..count {
            let seat = &seats[(index + offset) % count];
            loop {
                match seat.stealer.steal_batch_and_pop(deque) {
                    Steal::Success(task) => return Some(task),
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
            if lifo && let Some(task) = seat.lifo.take() {
                return Some(task);
            }
        }
        None
    }
}
