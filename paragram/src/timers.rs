//! Timers: `send_after`, `send_interval`, `cancel_timer`, and the wake-ups
//! of receive timeouts, all on one timer thread for the whole program (not
//! a thread per timer). Pending timers sit in a slab, and their deadlines
//! in a min-heap of 16-byte entries; the thread sleeps until the earliest
//! deadline, or for good while none is pending, so idle timers cost no
//! CPU.
//!
//! No lock is held while a message is sent or dropped: the thread takes
//! what is due under the lock, then sends it after.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::message::{IntoMessage, Message};
use crate::pid::{Core, Pid, lock};
use crate::runner::Envelope;
use crate::term::Opaque;
use crate::threads;

/// A pending timer: what [`send_after`] and [`send_interval`] return, for
/// [`cancel_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerRef {
    slot: u32,
    generation: u32,
}

/// The message a process receives when its receive timeout
/// ([`Ctx::set_receive_timeout`](crate::Ctx::set_receive_timeout)) has
/// passed with nothing taken, as `(ReceiveTimeout,)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveTimeout {
    pub(crate) after: Duration,
}

impl ReceiveTimeout {
    /// The timeout that passed.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl Opaque for ReceiveTimeout {}

/// A slot of the timers' slab: free, or a pending timer, what it does
/// when it fires and to whom; either way the generation the slot is at,
/// which a [`TimerRef`] must match. Each variant starts with the
/// generation, so that it shares the tag's word: a slot is 80 bytes.
enum Slot {
    Free(u32),
    /// Sends this message, once. The handle keeps the process reachable
    /// until then.
    Once(u32, Pid, Message),
    /// Sends what this makes, every period.
    Every(u32, Pid, Maker, Duration),
    /// Wakes the process's receive timeout, armed as the `u64`; the
    /// process's own, so it holds no handle.
    Timeout(u32, Weak<Core>, u64),
    /// Rings an alarm, if it is still wanted.
    Alarm(u32, Weak<dyn Alarm>),
}

impl Slot {
    fn generation(&self) -> u32 {
        match self {
            Slot::Free(generation)
            | Slot::Once(generation, ..)
            | Slot::Every(generation, ..)
            | Slot::Timeout(generation, ..)
            | Slot::Alarm(generation, ..) => *generation,
        }
    }

    fn is_free(&self) -> bool {
        matches!(self, Slot::Free(_))
    }
}

/// A timer to add: a [`Slot`] without its generation.
enum Entry {
    Once(Pid, Message),
    Every(Pid, Maker, Duration),
    Timeout(Weak<Core>, u64),
    Alarm(Weak<dyn Alarm>),
}

/// What a timer of the runtime's own rings: an async call's timeout.
pub(crate) trait Alarm: Send + Sync {
    /// The time is up. Runs on the timer thread, outside its lock.
    fn ring(&self);
}

/// What makes an interval's message each time: the user's `Clone`, called
/// outside the lock.
type Maker = Arc<dyn Fn() -> Message + Send + Sync>;

/// The timers, under one lock.
struct Timers {
    /// Pending timers by slot.
    slots: Vec<Slot>,
    /// How many slots hold a pending timer.
    pending: usize,
    /// Slots free for reuse.
    free: Vec<u32>,
    /// Deadlines (nanoseconds after `base`), slot and generation, earliest
    /// first; a cancelled timer's stays until it comes up.
    due: BinaryHeap<Reverse<(u64, u32, u32)>>,
}

/// The service: its timers, its clock's origin, and the thread's wake-up.
struct Service {
    timers: Mutex<Timers>,
    base: Instant,
    changed: Condvar,
}

fn service() -> &'static Service {
    static SERVICE: OnceLock<&'static Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let service: &'static Service = Box::leak(Box::new(Service {
            timers: Mutex::new(Timers {
                slots: Vec::new(),
                pending: 0,
                free: Vec::new(),
                due: BinaryHeap::new(),
            }),
            base: Instant::now(),
            changed: Condvar::new(),
        }));
        // One thread for every timer of the program; without a place
        // among the threads it starts all the same (one more than counted
        // is far from the limit's margin).
        let started = threads::start_service("paragram-timers".into(), move || run(service));
        if let Err(error) = started {
            eprintln!("paragram: the timer thread could not start, no timer will fire: {error}");
        }
        service
    })
}

impl Service {
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Adds a timer that fires after `delay`.
    fn add(&self, delay: Duration, entry: Entry) -> TimerRef {
        // A delay past the clock's end never comes.
        let deadline = Instant::now()
            .checked_add(delay)
            .map_or(u64::MAX, |at| self.nanos(at));
        let mut timers = lock(&self.timers);
        let slot = match timers.free.pop() {
            Some(slot) => slot,
            None => {
                timers.slots.push(Slot::Free(0));
                u32::try_from(timers.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let place = &mut timers.slots[slot as usize];
        let generation = place.generation().wrapping_add(1);
        *place = match entry {
            Entry::Once(to, message) => Slot::Once(generation, to, message),
            Entry::Every(to, make, period) => Slot::Every(generation, to, make, period),
            Entry::Timeout(to, armed) => Slot::Timeout(generation, to, armed),
            Entry::Alarm(alarm) => Slot::Alarm(generation, alarm),
        };
        timers.pending += 1;
        let earliest = timers
            .due
            .peek()
            .is_none_or(|Reverse((at, ..))| deadline < *at);
        timers.due.push(Reverse((deadline, slot, generation)));
        drop(timers);
        if earliest {
            self.changed.notify_one();
        }
        TimerRef { slot, generation }
    }

    /// Takes the pending timer `timer` out, if it still is.
    fn take(&self, timer: TimerRef) -> Option<Slot> {
        let mut timers = lock(&self.timers);
        let taken = timers.free_slot(timer.slot, timer.generation)?;
        // A cancelled timer's deadline stays in the heap until it comes
        // up; were those to outnumber the pending ones, the heap is
        // rebuilt without them, so that cancelling costs no memory.
        if timers.due.len() > 2 * timers.pending + 1024 {
            let Timers { slots, due, .. } = &mut *timers;
            due.retain(|Reverse((_, slot, generation))| {
                let place = &slots[*slot as usize];
                !place.is_free() && place.generation() == *generation
            });
        }
        Some(taken)
    }
}

impl Timers {
    /// Frees `slot` if it holds the pending timer of `generation`, and
    /// returns what it held.
    fn free_slot(&mut self, slot: u32, generation: u32) -> Option<Slot> {
        let place = self.slots.get_mut(slot as usize)?;
        if place.is_free() || place.generation() != generation {
            return None;
        }
        let taken = std::mem::replace(place, Slot::Free(generation));
        self.free.push(slot);
        self.pending -= 1;
        Some(taken)
    }
}

/// What the timer thread does: sleep until the earliest deadline, then
/// send what is due.
fn run(service: &'static Service) {
    let mut timers = lock(&service.timers);
    loop {
        let now = service.nanos(Instant::now());
        let mut fired = Vec::new();
        while let Some(&Reverse((at, slot, generation))) = timers.due.peek() {
            if at > now {
                break;
            }
            timers.due.pop();
            match timers.slots.get(slot as usize) {
                Some(Slot::Every(current, to, make, period)) if *current == generation => {
                    let timer = TimerRef { slot, generation };
                    fired.push(Fired::Again(to.clone(), make.clone(), timer));
                    let next =
                        at.saturating_add(u64::try_from(period.as_nanos()).unwrap_or(u64::MAX));
                    timers.due.push(Reverse((next.max(now), slot, generation)));
                }
                _ => {
                    if let Some(taken) = timers.free_slot(slot, generation) {
                        fired.push(Fired::Once(taken));
                    }
                }
            }
        }
        let wait = timers
            .due
            .peek()
            .map(|Reverse((at, ..))| Duration::from_nanos(at.saturating_sub(now)));
        if !fired.is_empty() {
            drop(timers);
            for fired in fired {
                fired.send();
            }
            timers = lock(&service.timers);
            continue;
        }
        timers = match wait {
            Some(wait) => {
                service
                    .changed
                    .wait_timeout(timers, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => service
                .changed
                .wait(timers)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

/// A timer that has fired, to act on outside the lock.
enum Fired {
    Once(Slot),
    Again(Pid, Maker, TimerRef),
}

impl Fired {
    fn send(self) {
        match self {
            Fired::Once(Slot::Once(_, to, message)) => {
                let _ = to.send(message);
            }
            Fired::Once(Slot::Timeout(_, to, armed)) => {
                if let Some(core) = to.upgrade() {
                    let _ = core.mailbox.push(Envelope::Timeout(armed));
                }
            }
            Fired::Once(Slot::Alarm(_, alarm)) => {
                if let Some(alarm) = alarm.upgrade() {
                    alarm.ring();
                }
            }
            Fired::Once(Slot::Every(..) | Slot::Free(_)) => {}
            Fired::Again(to, make, timer) => {
                // The process has ended: the interval ends with it.
                if to.send(make()).is_err() {
                    cancel_timer(timer);
                }
            }
        }
    }
}

/// Sends `message` to `pid` after `delay`, as Erlang's
/// `erlang:send_after/3`; [`cancel_timer`] takes it back before then. A
/// pending timer holds a handle to its process, which therefore runs on
/// until it fires.
///
/// ```
/// use std::time::Duration;
/// use paragram::{Root, pattern};
/// let root = Root::new();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let pid = root
///     .spawn(move |ctx: &mut paragram::Ctx| {
///         ctx.receive(pattern!("wake up"), move |_, ()| tx.send(()).unwrap())
///     })
///     .unwrap();
/// paragram::send_after(Duration::from_millis(10), &pid, "wake up");
/// rx.recv_timeout(Duration::from_secs(5)).unwrap();
/// # pid.terminate();
/// ```
pub fn send_after(delay: Duration, pid: &Pid, message: impl IntoMessage) -> TimerRef {
    service().add(delay, Entry::Once(pid.clone(), message.into_message()))
}

/// Sends `message` to `pid` every `period`, the first time after one
/// period, until [`cancel_timer`] or the process's end, as the `timer`
/// module's `send_interval/3`. A period shorter than a millisecond is
/// taken as a millisecond.
pub fn send_interval(
    period: Duration,
    pid: &Pid,
    message: impl IntoMessage + Clone + Send + Sync + 'static,
) -> TimerRef {
    let period = period.max(Duration::from_millis(1));
    service().add(
        period,
        Entry::Every(
            pid.clone(),
            Arc::new(move || message.clone().into_message()),
            period,
        ),
    )
}

/// Cancels `timer`, as Erlang's `cancel_timer/1`: true if it was pending
/// (for an interval: running), false if it had fired or been cancelled
/// already. A message the timer was sending as the cancel came may still
/// arrive, as in Erlang; none is sent after.
pub fn cancel_timer(timer: TimerRef) -> bool {
    // Dropped outside the lock: a message's `Drop` is user code.
    service().take(timer).is_some()
}

/// Arms a receive timeout's wake-up for `core`'s process, after `delay`.
pub(crate) fn arm_timeout(delay: Duration, core: &Arc<Core>, generation: u64) -> TimerRef {
    service().add(delay, Entry::Timeout(Arc::downgrade(core), generation))
}

/// Rings `alarm` after `delay`, unless it is gone by then.
pub(crate) fn alarm(delay: Duration, alarm: Weak<dyn Alarm>) -> TimerRef {
    service().add(delay, Entry::Alarm(alarm))
}

#[cfg(test)]
mod tests {
    use super::Slot;

    #[test]
    fn a_slot_is_eighty_bytes() {
        assert!(
            std::mem::size_of::<Slot>() <= 80,
            "{}",
            std::mem::size_of::<Slot>()
        );
    }
}
