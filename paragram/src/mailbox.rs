//! Mailboxes. A mailbox can be closed by its owner so that nothing enters
//! after the close and everything queued before it is dropped exactly once,
//! at once; and it wakes its owner, whatever drives it, when an item
//! arrives while it sleeps.
//!
//! A channel alone cannot close: a receiver cannot close it while senders
//! live, and a dropped receiver leaves queued items in it until the last
//! sender goes (flume's, which this queue replaced, did). The gate below
//! closes the mailbox from the receiving side. The queue is a mutex around
//! a `VecDeque`, with a count read without the lock; under `--cfg loom` it
//! is the same on loom's primitives, so the gate protocol is
//! model-checked as it runs.
//!
//! The protocol, with a sequentially consistent fence on each side between
//! its write and its read, so that one of the two always sees the other:
//! a send queues its item, then reads the gate; the owner sets a bit in the
//! gate, then reads the queue.
//! - Closing: the owner sets `CLOSED`, then drains the queue. A send that
//!   finds `CLOSED` before queuing hands its item back; one that finds it
//!   only after queuing drains the queue too, so an item that raced the
//!   close is dropped at once by one side or the other, never left behind.
//! - Parking: the owner sets `SLEEPING`, then looks at the queue once more
//!   before it parks; a send that finds `SLEEPING` after queuing unparks it.
//!   No wake-up is lost.
//!
//! A send reads the gate and fences; it never writes to a shared word
//! besides the queue's own lock, so concurrent senders do not contend on
//! the gate.
//!
//! A driver with a wake-up of its own (the scheduler's) does not use the
//! gate to sleep: a send calls its wake-up every time, which keeps the
//! driver's own state (see `kind/scheduler/task.rs`), and tells the sender
//! when the owner has ended, so that the sender drops what it queued
//! should the owner's drain have missed it.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::sync::{
    AtomicU64, Ordering, Thread, current_thread, fence, park, park_timeout, yield_now,
};

/// Set in [`Mailbox::gate`] once the owner has closed the mailbox.
const CLOSED: u64 = 1 << 1;

/// Set in [`Mailbox::gate`] while the owner is parked, or about to park,
/// waiting for an item.
const SLEEPING: u64 = 1;

/// How many times a receiver polls an empty queue before it parks (under
/// loom, a few: how long a receiver spins does not change the protocol, and
/// every poll multiplies the interleavings to explore). Waking a
/// parked thread from another core costs tens of microseconds; a short spin
/// catches a reply that is already on its way.
const SPINS: u32 = if cfg!(loom) { 2 } else { 256 };

/// How many times a receiver yields its core, polling between yields, once
/// the spin is over and before it parks: a sender on the same core gets to
/// run, and a stream of messages keeps the receiver awake instead of paying
/// a wake-up (a system call for the sender) per message. A fresh process
/// skips this on its first wait, so a thousand processes just spawned and
/// waiting for their first message take nothing from the others.
const YIELDS: u32 = if cfg!(loom) { 2 } else { 32 };

/// How many receives in a row must find an item waiting before the
/// receiver takes the rest of the queue in one batch. Below it, items are
/// taken one at a time, under the lock each. A batch swaps the queue's
/// buffer for the receiver's empty one: nothing is copied, whatever the
/// backlog, and the two buffers keep their capacity.
const BACKLOG: u32 = 8;

/// What a mailbox holds: items, one of which can stand for several queued
/// together. The queue holds the items themselves, no wider than they are.
pub(crate) trait Item: Sized {
    /// `items`, in order, as one item.
    fn group(items: Vec<Self>) -> Self;

    /// The items of a group, or `None` for a single item.
    fn group_len(&self) -> Option<usize>;

    /// The items of a group (`group_len` is `Some`).
    fn into_items(self) -> Vec<Self>;
}

/// The sending side of a process's mailbox, shared by every handle.
pub(crate) struct Mailbox<T> {
    queue: queue::Queue<T>,
    /// `CLOSED` and `SLEEPING`; written only by the owner.
    gate: AtomicU64,
    /// How the owner is woken: known once it first waits.
    waker: OnceLock<Waker>,
}

/// How a mailbox wakes whatever drives its process: a thread that parked
/// is unparked when an item arrives while it sleeps; a driver of its own
/// (a scheduler) is called after every send.
pub(crate) enum Waker {
    /// The thread that parked on the mailbox.
    Unpark(Thread),
    /// A driver's own wake-up: one that runs many processes on a thread
    /// (a scheduler) queues the process to run.
    Call(Arc<dyn Wake>),
}

/// A driver's wake-up: what it does when its process has work. It is
/// called after every send, whether the process sleeps or not (the
/// mailbox's gate is not used): it must be cheap while the process runs
/// or is queued to. It returns whether the process has ended, in which
/// case the sender drops what it queued (the owner may have drained the
/// queue already).
pub(crate) trait Wake: Send + Sync {
    fn wake(&self) -> bool;
}

/// The receiving side, owned by whatever drives the process.
pub(crate) struct Inbox<T> {
    /// The rest of the group taken from the queue last, handed out before
    /// anything else.
    group: std::vec::IntoIter<T>,
    /// Items taken from the queue in one batch, not yet handed out.
    batch: VecDeque<T>,
    /// How many receives in a row found an item at once: a backlog.
    streak: u32,
    /// Whether the inbox has waited past its spin before: a fresh process
    /// parks straight after its first spin, every later wait yields a while
    /// before it parks.
    warm: bool,
}

/// A new, open mailbox and its inbox.
pub(crate) fn mailbox<T>() -> (Mailbox<T>, Inbox<T>) {
    let mailbox = Mailbox {
        queue: queue::Queue::new(),

        gate: AtomicU64::new(0),
        waker: OnceLock::new(),
    };
    let inbox = Inbox {
        group: Vec::new().into_iter(),
        batch: VecDeque::new(),
        streak: 0,
        warm: false,
    };
    (mailbox, inbox)
}

impl<T: Item> Mailbox<T> {
    /// Queues `item`, or hands it back if the mailbox is closed, and wakes
    /// the owner if it sleeps. An item that races the close is accepted and
    /// dropped with the rest of the queue.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        self.queue(item)
    }

    /// Queues `items` in their order, as one: they take one turn of the
    /// queue's lock and at most one wake-up. Handed back if the mailbox is
    /// closed.
    pub(crate) fn push_many(&self, mut items: Vec<T>) -> Result<(), Vec<T>> {
        match items.len() {
            0 => Ok(()),
            1 => self
                .push(items.pop().expect("one item"))
                .map_err(|i| vec![i]),
            _ => self.queue(T::group(items)).map_err(T::into_items),
        }
    }

    fn queue(&self, item: T) -> Result<(), T> {
        if self.gate.load(Ordering::Acquire) & CLOSED != 0 {
            return Err(item);
        }
        let extra = extra(&item);
        self.queue.push(item, extra);
        if let Some(Waker::Call(driver)) = self.waker.get() {
            if driver.wake() {
                self.drop_queued();
            }
            return Ok(());
        }
        fence(Ordering::SeqCst);
        let state = self.gate.load(Ordering::SeqCst);
        if state & CLOSED != 0 {
            // What the owner's drain may have missed: drained here.
            self.drop_queued();
        } else if state & SLEEPING != 0
            && let Some(Waker::Unpark(thread)) = self.waker.get()
        {
            thread.unpark();
        }
        Ok(())
    }

    /// Sets how the owner is woken, before it first waits: for a driver
    /// that does not park a thread on the mailbox.
    pub(crate) fn set_waker(&self, waker: Waker) {
        let _ = self.waker.set(waker);
    }

    /// Whether the owner has closed the mailbox.
    pub(crate) fn is_closed(&self) -> bool {
        self.gate.load(Ordering::Acquire) & CLOSED != 0
    }

    /// How many items are queued.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Closes the mailbox and drops everything queued. Only the owner of
    /// `inbox` may call this, once.
    pub(crate) fn close(&self, inbox: &mut Inbox<T>) {
        self.gate.fetch_or(CLOSED, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        drop_all(inbox.group.by_ref());
        drop_all(inbox.batch.drain(..));
        self.drop_queued();
    }

    /// Drops what is queued, one item at a time.
    fn drop_queued(&self) {
        drop_all(std::iter::from_fn(|| self.queue.pop(extra)).flat_map(ungroup));
    }
}

/// How many items `item` stands for beyond one.
fn extra<T: Item>(item: &T) -> usize {
    item.group_len().map_or(0, |len| len.saturating_sub(1))
}

/// The items `item` stands for.
fn ungroup<T: Item>(item: T) -> Ungrouped<T> {
    match item.group_len() {
        None => Ungrouped::One(Some(item)),
        Some(_) => Ungrouped::Many(item.into_items().into_iter()),
    }
}

/// The items one queued item stands for.
enum Ungrouped<T> {
    One(Option<T>),
    Many(std::vec::IntoIter<T>),
}

impl<T> Iterator for Ungrouped<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match self {
            Ungrouped::One(item) => item.take(),
            Ungrouped::Many(items) => items.next(),
        }
    }
}

/// Drops every item, containing a panic in an item's `Drop`: the others
/// are still dropped, and the caller goes on.
fn drop_all<T>(items: impl Iterator<Item = T>) {
    for item in items {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(item))) {
            crate::text::forget_quietly(payload);
        }
    }
}

impl<T: Item> Inbox<T> {
    /// The next item of `mailbox` (this inbox's own), waiting as long as it
    /// takes: a short spin, then a few yields to let a sender on the same
    /// core run, then parked until a send wakes the thread.
    pub(crate) fn recv(&mut self, mailbox: &Mailbox<T>) -> T {
        loop {
            if let Some(item) = self.recv_until(mailbox, None) {
                return item;
            }
        }
    }

    /// Waits as [`Inbox::recv`] does until an item is there, and keeps it
    /// for [`Inbox::try_recv`] to hand out first.
    pub(crate) fn wait(&mut self, mailbox: &Mailbox<T>) {
        if self.group.len() == 0 && self.batch.is_empty() {
            let item = self.recv(mailbox);
            // Handed out first, then the rest of its group if it was one.
            self.batch.push_back(item);
            self.batch.extend(self.group.by_ref());
        }
    }

    /// The next item of `mailbox`, if one is there now: what a driver that
    /// runs a process until its queue is empty takes.
    pub(crate) fn try_recv(&mut self, mailbox: &Mailbox<T>) -> Option<T> {
        if let Some(item) = self.group.next() {
            return Some(item);
        }
        if let Some(item) = self.batch.pop_front() {
            return self.one_of(item);
        }
        if self.streak >= BACKLOG {
            // Under a backlog, take the whole queue in one lock instead of
            // contending with the senders for it once per item: its buffer
            // becomes the batch, whatever its length, with nothing copied,
            // and the batch's empty buffer the queue's.
            self.streak = 0;
            mailbox.queue.swap(&mut self.batch);
            if let Some(item) = self.batch.pop_front() {
                return self.one_of(item);
            }
        }
        match self.take(mailbox) {
            Some(item) => {
                self.streak += 1;
                Some(item)
            }
            None => {
                self.streak = 0;
                None
            }
        }
    }

    /// The next item of `mailbox`, waiting as [`Inbox::recv`] does, but
    /// only until `deadline` (if any); `None` once it has passed.
    pub(crate) fn recv_until(
        &mut self,
        mailbox: &Mailbox<T>,
        deadline: Option<Instant>,
    ) -> Option<T> {
        if let Some(item) = self.try_recv(mailbox) {
            return Some(item);
        }
        for _ in 0..SPINS {
            if let Some(item) = self.take(mailbox) {
                return Some(item);
            }
            std::hint::spin_loop();
        }
        if self.warm {
            for _ in 0..YIELDS {
                yield_now();
                if let Some(item) = self.take(mailbox) {
                    return Some(item);
                }
            }
        }
        self.warm = true;
        mailbox
            .waker
            .get_or_init(|| Waker::Unpark(current_thread()));
        loop {
            mailbox.gate.fetch_or(SLEEPING, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if let Some(item) = self.take(mailbox) {
                mailbox.gate.fetch_and(!SLEEPING, Ordering::Relaxed);
                return Some(item);
            }
            // Returns at once if a send has unparked this thread since.
            match deadline {
                None => park(),
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) => park_timeout(left),
                    None => {
                        mailbox.gate.fetch_and(!SLEEPING, Ordering::Relaxed);
                        return self.take(mailbox);
                    }
                },
            }
            mailbox.gate.fetch_and(!SLEEPING, Ordering::Relaxed);
            if let Some(item) = self.take(mailbox) {
                return Some(item);
            }
        }
    }

    /// The next queued item, without waiting.
    #[inline]
    fn take(&mut self, mailbox: &Mailbox<T>) -> Option<T> {
        let item = mailbox.queue.pop(extra)?;
        self.one_of(item)
    }

    /// `item`, or the first of the group it is, the others kept to be
    /// handed out next from the group's own buffer.
    fn one_of(&mut self, item: T) -> Option<T> {
        if item.group_len().is_none() {
            return Some(item);
        }
        self.group = item.into_items().into_iter();
        self.group.next()
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self, mailbox: &Mailbox<T>) -> bool {
        self.group.len() == 0 && self.batch.is_empty() && mailbox.queue.is_empty()
    }
}

/// The queue under the gate: a mutex around a `VecDeque`, and a count of
/// what it holds, written inside the lock and read without it, so that a
/// receiver finds the queue empty without taking the lock. Under `--cfg
/// loom` the same, on loom's primitives, so the gate protocol is
/// model-checked as it runs. It measured faster than flume's unbounded
/// channel, which it replaced: see the README.
mod queue {
    use std::collections::VecDeque;

    #[cfg(loom)]
    use loom::sync::atomic::{AtomicUsize, Ordering};
    #[cfg(loom)]
    use loom::sync::{Mutex, MutexGuard};
    #[cfg(not(loom))]
    use std::sync::atomic::{AtomicUsize, Ordering};
    #[cfg(not(loom))]
    use std::sync::{Mutex, MutexGuard};

    pub(crate) struct Queue<T> {
        items: Mutex<Items<T>>,
        /// Everything queued, items of groups each counted.
        len: AtomicUsize,
    }

    /// The queue itself, and how many items its groups hold beyond one
    /// each.
    struct Items<T> {
        queue: VecDeque<T>,
        extra: usize,
    }

    impl<T> Items<T> {
        fn len(&self) -> usize {
            self.queue.len() + self.extra
        }
    }

    impl<T> Queue<T> {
        pub(crate) fn new() -> Queue<T> {
            Queue {
                items: Mutex::new(Items {
                    queue: VecDeque::new(),
                    extra: 0,
                }),
                len: AtomicUsize::new(0),
            }
        }

        /// No user code runs under this lock: poisoning only means a
        /// panic elsewhere in a thread that held it.
        fn lock(&self) -> MutexGuard<'_, Items<T>> {
            self.items
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        /// Queues `item`, which stands for `extra` items beyond one.
        /// The count is written with no ordering of its own: a sender
        /// fences (or takes its receiver's state) after, and the lock
        /// orders it for the receiver.
        pub(crate) fn push(&self, item: T, extra: usize) {
            let mut items = self.lock();
            items.queue.push_back(item);
            items.extra += extra;
            self.len.store(items.len(), Ordering::Relaxed);
        }

        pub(crate) fn len(&self) -> usize {
            self.len.load(Ordering::SeqCst)
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// The first item, `extra` telling how many it stands for beyond
        /// one.
        pub(crate) fn pop(&self, extra: impl Fn(&T) -> usize) -> Option<T> {
            if self.is_empty() {
                return None;
            }
            let mut items = self.lock();
            let item = items.queue.pop_front();
            if let Some(item) = &item {
                items.extra -= extra(item);
            }
            if items.queue.is_empty() {
                // The next push starts at the front of the buffer, in the
                // lines just written, rather than further round it.
                items.queue.clear();
            }
            self.len.store(items.len(), Ordering::Relaxed);
            item
        }

        /// Takes everything queued into `empty`, which must be, and leaves
        /// its buffer to the queue: two buffers go back and forth, each
        /// keeping its capacity.
        pub(crate) fn swap(&self, empty: &mut VecDeque<T>) {
            debug_assert!(empty.is_empty());
            // Pushes start at the front of the buffer (see `pop`).
            empty.clear();
            let mut items = self.lock();
            items.extra = 0;
            self.len.store(0, Ordering::Relaxed);
            std::mem::swap(&mut items.queue, empty);
        }
    }
}

#[cfg(all(test, loom))]
mod model {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::thread;

    use super::{Item, mailbox};

    /// An item that counts its drops.
    struct Tracked(Arc<AtomicUsize>);

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The models queue single items only: grouping does not change the
    /// gate protocol.
    macro_rules! single_items {
        ($($t:ty),*) => {$(
            impl Item for $t {
                fn group(_: Vec<$t>) -> $t {
                    unreachable!("the models queue single items")
                }
                fn group_len(&self) -> Option<usize> {
                    None
                }
                fn into_items(self) -> Vec<$t> {
                    vec![self]
                }
            }
        )*};
    }
    single_items!(Tracked, u32);

    /// Two senders race the owner's close: every item is dropped exactly
    /// once (handed back to its sender, drained by the owner, or swept by a
    /// sender that saw the close after queuing), and nothing is left queued.
    #[test]
    fn close_races_sends_and_drops_each_item_once() {
        loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let (mailbox, mut inbox) = mailbox::<Tracked>();
            let mailbox = Arc::new(mailbox);
            let senders: Vec<_> = (0..2)
                .map(|_| {
                    let mailbox = mailbox.clone();
                    let item = Tracked(drops.clone());
                    thread::spawn(move || drop(mailbox.push(item)))
                })
                .collect();
            mailbox.close(&mut inbox);
            for sender in senders {
                sender.join().unwrap();
            }
            assert_eq!(drops.load(Ordering::SeqCst), 2);
            assert!(inbox.is_empty(&mailbox));
            let late = Tracked(drops.clone());
            assert!(
                mailbox.push(late).is_err(),
                "a closed mailbox takes nothing"
            );
        });
    }

    /// The owner parks on an empty mailbox while two senders push: it is
    /// woken for every item and receives both (a lost wake-up would leave
    /// loom with a thread parked forever, which it reports). CI explores
    /// up to 2 preemptions: from 3 on, loom 0.7 resumes a thread that an
    /// `unpark` reaches while it waits on the model queue's mutex, then
    /// fails its own assertion (loom issue 249), which is not a failure of
    /// this protocol (std's `unpark` only leaves a token).
    #[test]
    fn parked_owner_is_woken_by_every_send() {
        loom::model(|| {
            let (mailbox, mut inbox) = mailbox::<u32>();
            let mailbox = Arc::new(mailbox);
            for i in 0..2 {
                let mailbox = mailbox.clone();
                // Not joined: loom waits for every thread at the end of the
                // model, and a join would only add interleavings.
                thread::spawn(move || assert!(mailbox.push(i).is_ok()));
            }
            let mut got = vec![inbox.recv(&mailbox), inbox.recv(&mailbox)];
            got.sort_unstable();
            assert_eq!(got, vec![0, 1]);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{Item, mailbox};

    /// A test item: a number, a dropped-counter, or a group of items.
    #[derive(Debug)]
    enum Test {
        Number(u32),
        Tracked(Arc<AtomicUsize>),
        Group(Vec<Test>),
    }

    impl Drop for Test {
        fn drop(&mut self) {
            if let Test::Tracked(drops) = self {
                drops.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    impl Item for Test {
        fn group(items: Vec<Test>) -> Test {
            Test::Group(items)
        }

        fn group_len(&self) -> Option<usize> {
            match self {
                Test::Group(items) => Some(items.len()),
                _ => None,
            }
        }

        fn into_items(mut self) -> Vec<Test> {
            match &mut self {
                Test::Group(items) => std::mem::take(items),
                _ => Vec::new(),
            }
        }
    }

    fn number(item: Test) -> u32 {
        match item {
            Test::Number(n) => n,
            other => panic!("not a number: {other:?}"),
        }
    }

    /// Items queued together come out one by one, in order, among single
    /// items, and are counted one by one.
    #[test]
    fn grouped_items_keep_their_order_and_count() {
        let (mailbox, mut inbox) = mailbox::<Test>();
        let group = |range: std::ops::Range<u32>| range.map(Test::Number).collect::<Vec<_>>();
        mailbox.push(Test::Number(0)).unwrap();
        mailbox.push_many(group(1..4)).unwrap();
        mailbox.push(Test::Number(4)).unwrap();
        mailbox.push_many(Vec::new()).unwrap();
        mailbox.push_many(group(5..6)).unwrap();
        assert_eq!(mailbox.len(), 6);
        let got: Vec<_> = (0..6).map(|_| number(inbox.recv(&mailbox))).collect();
        assert_eq!(got, [0, 1, 2, 3, 4, 5]);
        assert_eq!(mailbox.len(), 0);
        assert!(inbox.is_empty(&mailbox));
    }

    /// Closing drops every grouped item at once, and a closed mailbox hands
    /// a group back whole.
    #[test]
    fn close_drops_grouped_items_and_refuses_groups() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mailbox, mut inbox) = mailbox::<Test>();
        let group = || {
            (0..3)
                .map(|_| Test::Tracked(drops.clone()))
                .collect::<Vec<_>>()
        };
        mailbox.push_many(group()).unwrap();
        mailbox.push_many(group()).unwrap();
        drop(inbox.recv(&mailbox));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        mailbox.close(&mut inbox);
        assert_eq!(drops.load(Ordering::SeqCst), 6);
        assert_eq!(mailbox.len(), 0);
        let refused = mailbox.push_many(group()).unwrap_err();
        assert_eq!(refused.len(), 3);
        drop(refused);
        assert_eq!(drops.load(Ordering::SeqCst), 9);
    }
}
