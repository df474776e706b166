//! Mailboxes: the only file that names flume. A mailbox can be closed by its
//! owner so that nothing enters after the close and everything queued before
//! it is dropped exactly once, by the owner, at once.

use crate::sync::{AtomicU64, Ordering, yield_now};

/// Set in [`Mailbox::gate`] once the owner has closed the mailbox.
const CLOSED: u64 = 1 << 63;

/// How many times a receiver polls an empty queue before it parks. Waking a
/// parked thread from another core costs tens of microseconds; a short spin
/// catches a reply that is already on its way.
const SPINS: u32 = 256;

/// The sending side of a process's mailbox, shared by every handle.
pub(crate) struct Mailbox<T> {
    tx: flume::Sender<T>,
    /// `CLOSED` bit, plus the number of sends in flight (low bits). A send
    /// registers itself before it checks the bit, so once the owner has set
    /// the bit and seen the count reach zero, no message can still arrive.
    gate: AtomicU64,
}

/// The receiving side, owned by whatever drives the process.
pub(crate) struct Inbox<T> {
    rx: flume::Receiver<T>,
}

/// A new, open mailbox and its inbox.
pub(crate) fn mailbox<T>() -> (Mailbox<T>, Inbox<T>) {
    let (tx, rx) = flume::unbounded();
    let mailbox = Mailbox {
        tx,
        gate: AtomicU64::new(0),
    };
    (mailbox, Inbox { rx })
}

impl<T> Mailbox<T> {
    /// Queues `item`, or hands it back if the mailbox is closed.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let state = self.gate.fetch_add(1, Ordering::SeqCst);
        let result = if state & CLOSED == 0 {
            // The inbox outlives every open state of the gate, so the
            // channel cannot be disconnected here.
            self.tx.send(item).map_err(|e| e.into_inner())
        } else {
            Err(item)
        };
        self.gate.fetch_sub(1, Ordering::SeqCst);
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
        while self.gate.load(Ordering::SeqCst) != CLOSED {
            yield_now();
        }
        inbox.rx.try_iter().collect()
    }
}

impl<T> Inbox<T> {
    /// The next item, waiting as long as it takes.
    pub(crate) fn recv(&self) -> T {
        loop {
            if let Some(item) = self.spin() {
                return item;
            }
            // The mailbox (and so a sender) lives as long as the process
            // that owns this inbox, so `recv` only returns items.
            if let Ok(item) = self.rx.recv() {
                return item;
            }
        }
    }

    /// The next item if one is queued now or arrives within a short spin.
    fn spin(&self) -> Option<T> {
        for _ in 0..SPINS {
            if let Ok(item) = self.rx.try_recv() {
                return Some(item);
            }
            std::hint::spin_loop();
        }
        None
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}
