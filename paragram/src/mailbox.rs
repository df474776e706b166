//! Mailboxes: the only file that names flume. A mailbox can be closed by its
//! owner so that nothing enters after the close and everything queued before
//! it is dropped exactly once, by the owner, at once.
//!
//! flume alone cannot do this: a receiver cannot close its channel while
//! senders live, and a dropped receiver leaves queued messages in the
//! channel until the last sender goes. The gate below closes the mailbox
//! from the receiving side. Under `--cfg loom` the queue is a loom mutex
//! around a `VecDeque`, so the gate protocol can be model-checked.

use std::sync::OnceLock;

use crate::sync::{AtomicU64, Ordering, Thread, current_thread, park, yield_now};

/// Set in [`Mailbox::gate`] once the owner has closed the mailbox.
const CLOSED: u64 = 1 << 63;

/// Set in [`Mailbox::gate`] while the owner is parked, or about to park,
/// waiting for an item.
const SLEEPING: u64 = 1 << 62;

/// The low bits of [`Mailbox::gate`]: sends in flight.
const IN_FLIGHT: u64 = SLEEPING - 1;

/// How many times a receiver polls an empty queue before it parks. Waking a
/// parked thread from another core costs tens of microseconds; a short spin
/// catches a reply that is already on its way.
const SPINS: u32 = 256;

/// The sending side of a process's mailbox, shared by every handle.
pub(crate) struct Mailbox<T> {
    tx: queue::Sender<T>,
    /// `CLOSED` and `SLEEPING` bits, plus the number of sends in flight (low
    /// bits). A send registers itself before it checks `CLOSED`, so once the
    /// owner has set `CLOSED` and seen the count reach zero, no item can
    /// still arrive. A send leaves through the same word, so it sees
    /// `SLEEPING` if the owner began to park before the item was queued,
    /// and otherwise the owner sees the item: no wake-up is lost.
    gate: AtomicU64,
    /// The thread that parks on this mailbox, known once it first parks.
    owner: OnceLock<Thread>,
}

/// The receiving side, owned by whatever drives the process.
pub(crate) struct Inbox<T> {
    rx: queue::Receiver<T>,
}

/// A new, open mailbox and its inbox.
pub(crate) fn mailbox<T>() -> (Mailbox<T>, Inbox<T>) {
    let (tx, rx) = queue::unbounded();
    let mailbox = Mailbox {
        tx,
        gate: AtomicU64::new(0),
        owner: OnceLock::new(),
    };
    (mailbox, Inbox { rx })
}

impl<T> Mailbox<T> {
    /// Queues `item`, or hands it back if the mailbox is closed, and wakes
    /// the owner if it sleeps.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let state = self.gate.fetch_add(1, Ordering::SeqCst);
        let result = if state & CLOSED == 0 {
            self.tx.send(item)
        } else {
            Err(item)
        };
        let state = self.gate.fetch_sub(1, Ordering::SeqCst);
        if state & SLEEPING != 0
            && result.is_ok()
            && let Some(owner) = self.owner.get()
        {
            owner.unpark();
        }
        result
    }

    /// How many items are queued.
    pub(crate) fn len(&self) -> usize {
        self.tx.len()
    }

    /// Closes the mailbox and returns everything still queued; the caller
    /// drops it. Only the owner of `inbox` may call this, once.
    pub(crate) fn close(&self, inbox: &Inbox<T>) -> Vec<T> {
        self.gate.fetch_or(CLOSED, Ordering::SeqCst);
        // Sends in flight finish within a few instructions unless their
        // thread was descheduled; wait them out.
        while self.gate.load(Ordering::SeqCst) & IN_FLIGHT != 0 {
            yield_now();
        }
        std::iter::from_fn(|| inbox.rx.try_recv()).collect()
    }
}

impl<T> Inbox<T> {
    /// The next item of `mailbox` (this inbox's own), waiting as long as it
    /// takes: a short spin, then parked until a send wakes the thread.
    pub(crate) fn recv(&self, mailbox: &Mailbox<T>) -> T {
        for _ in 0..SPINS {
            if let Some(item) = self.rx.try_recv() {
                return item;
            }
            std::hint::spin_loop();
        }
        mailbox.owner.get_or_init(current_thread);
        loop {
            mailbox.gate.fetch_or(SLEEPING, Ordering::SeqCst);
            if let Some(item) = self.rx.try_recv() {
                mailbox.gate.fetch_and(!SLEEPING, Ordering::SeqCst);
                return item;
            }
            // Returns at once if a send has unparked this thread since.
            park();
            mailbox.gate.fetch_and(!SLEEPING, Ordering::SeqCst);
            if let Some(item) = self.rx.try_recv() {
                return item;
            }
        }
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

/// The queue under the gate: flume's unbounded channel.
#[cfg(not(loom))]
mod queue {
    pub(crate) struct Sender<T>(flume::Sender<T>);
    pub(crate) struct Receiver<T>(flume::Receiver<T>);

    pub(crate) fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
        let (tx, rx) = flume::unbounded();
        (Sender(tx), Receiver(rx))
    }

    impl<T> Sender<T> {
        /// The inbox outlives every open state of the gate, so the channel
        /// is never disconnected when this is called.
        pub(crate) fn send(&self, item: T) -> Result<(), T> {
            self.0.send(item).map_err(|e| e.into_inner())
        }

        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }

    impl<T> Receiver<T> {
        pub(crate) fn try_recv(&self) -> Option<T> {
            self.0.try_recv().ok()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }
}

/// The queue under the gate, as loom models it.
#[cfg(loom)]
mod queue {
    use std::collections::VecDeque;

    use loom::sync::{Arc, Mutex};

    pub(crate) struct Sender<T>(Arc<Mutex<VecDeque<T>>>);
    pub(crate) struct Receiver<T>(Arc<Mutex<VecDeque<T>>>);

    pub(crate) fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
        let queue = Arc::new(Mutex::new(VecDeque::new()));
        (Sender(queue.clone()), Receiver(queue))
    }

    impl<T> Sender<T> {
        pub(crate) fn send(&self, item: T) -> Result<(), T> {
            self.0.lock().unwrap().push_back(item);
            Ok(())
        }

        pub(crate) fn len(&self) -> usize {
            self.0.lock().unwrap().len()
        }
    }

    impl<T> Receiver<T> {
        pub(crate) fn try_recv(&self) -> Option<T> {
            self.0.lock().unwrap().pop_front()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().unwrap().is_empty()
        }
    }
}

#[cfg(all(test, loom))]
mod model {
    use loom::sync::Arc;
    use loom::thread;

    use super::mailbox;

    /// Two senders race the owner's close: every item is either handed back
    /// to its sender or returned by `close`, never both, never neither, and
    /// nothing is left in the queue afterwards.
    #[test]
    fn close_races_sends_and_loses_nothing() {
        loom::model(|| {
            let (mailbox, inbox) = mailbox::<u32>();
            let mailbox = Arc::new(mailbox);
            let senders: Vec<_> = (0..2)
                .map(|i| {
                    let mailbox = mailbox.clone();
                    thread::spawn(move || mailbox.push(i).err())
                })
                .collect();
            let drained = mailbox.close(&inbox);
            let mut seen: Vec<u32> = drained;
            for sender in senders {
                seen.extend(sender.join().unwrap());
            }
            seen.sort_unstable();
            assert_eq!(seen, vec![0, 1]);
            assert!(inbox.is_empty());
            assert!(mailbox.push(7).is_err(), "a closed mailbox takes nothing");
        });
    }

    /// The owner parks on an empty mailbox while two senders push: it is
    /// woken for every item and receives both (a lost wake-up would leave
    /// loom with a thread parked forever, which it reports).
    #[test]
    fn parked_owner_is_woken_by_every_send() {
        loom::model(|| {
            let (mailbox, inbox) = mailbox::<u32>();
            let mailbox = Arc::new(mailbox);
            let senders: Vec<_> = (0..2)
                .map(|i| {
                    let mailbox = mailbox.clone();
                    thread::spawn(move || assert!(mailbox.push(i).is_ok()))
                })
                .collect();
            let mut got = vec![inbox.recv(&mailbox), inbox.recv(&mailbox)];
            for sender in senders {
                sender.join().unwrap();
            }
            got.sort_unstable();
            assert_eq!(got, vec![0, 1]);
        });
    }
}
