//! The writing half of a connection.
//!
//! Each thread that sends on a connection encodes its frames into a buffer
//! of its own there (a *shard*), so concurrent senders do not contend for
//! one lock, and a thread's frames stay in the order it sent them: the
//! order promised per sender–receiver pair. The socket is written by
//! whoever finds no one writing: the sending thread itself, so a lone
//! message costs no thread hop. A writer gathers every shard into one
//! batch and writes it; if more was queued meanwhile, it hands the rest to
//! the connection's watcher thread, which writes until nothing is queued.
//! While someone writes, senders only append, so a stream of messages goes
//! out in large writes.
//!
//! Frames that must follow everything sent before them on every thread (a
//! process's end, told by the watcher) are queued *last*: after the shards
//! have been gathered.
//!
//! A sender waits, as a sender to a busy distribution port waits in
//! Erlang, while its shard holds [`BUSY`] bytes, and while it writes itself
//! into a full socket: either way, until the peer's reader catches up. That
//! bounds what a connection holds, and gives the peer the time it needs.
//! A connection's reader and its watcher never wait: the reader hands any
//! writing to the watcher at once, and the watcher is the one that drains
//! the queue. A reader therefore never blocks on a full socket, and OS
//! processes that send to each other can never end up each waiting for the
//! other's reader.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::pid::lock;

/// Capacity a drained buffer keeps for the next batch, at most.
const KEEP: usize = 1 << 20;

/// Bytes a sender's shard holds from which the sender waits for a writer
/// to take them.
pub(super) const BUSY: usize = 4 << 20;

/// Values of [`Out::writer`]: who writes to the socket now.
const NOBODY: u8 = 0;
/// A thread that queued a frame and found nobody writing; it writes once.
const SENDER: u8 = 1;
/// The connection's watcher thread, until nothing is queued.
const WATCHER: u8 = 2;

/// What a thread is to the connections it uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Any thread that sends: writes itself when nobody is writing, waits
    /// while its shard is full.
    Sender,
    /// A connection's reader: never writes, never waits.
    Reader,
    /// A connection's watcher: writes, never waits for the queue.
    Watcher,
}

thread_local! {
    static ROLE: Cell<Role> = const { Cell::new(Role::Sender) };
    /// This thread's shard on each connection it has sent on, by the
    /// connection's [`Out::id`]; the most recent first.
    static SHARDS: RefCell<Vec<(u64, Arc<Shard>)>> = const { RefCell::new(Vec::new()) };
}

/// Marks the current thread as a connection's reader.
pub(super) fn become_reader() {
    ROLE.with(|role| role.set(Role::Reader));
}

/// Marks the current thread as a connection's watcher.
pub(super) fn become_watcher() {
    ROLE.with(|role| role.set(Role::Watcher));
}

fn role() -> Role {
    ROLE.with(Cell::get)
}

/// One thread's frames on one connection, not yet gathered.
#[derive(Default)]
struct Shard {
    bytes: Mutex<Vec<u8>>,
    /// `bytes.len()`, readable without the lock.
    len: AtomicUsize,
}

struct State {
    /// Gathered bytes, whole frames, in order.
    bytes: Vec<u8>,
    /// The buffer the last write emptied, kept for its capacity.
    spare: Vec<u8>,
    /// Someone waits on [`Out::idle`]: a sender for its shard to be
    /// taken, or the watcher's flush for the writer to finish.
    waiting: bool,
}

/// What a thread that queued a frame must do next.
#[must_use]
pub(super) enum Duty {
    /// Nothing: someone else writes it.
    None,
    /// Write: call [`Out::write_as_sender`].
    Write,
    /// Wake the watcher, which now writes.
    Wake,
}

pub(super) struct Out {
    /// What every send reads, on a cache line of its own: the locks
    /// below change hands with every batch.
    flags: Flags,
    /// Tells this connection's shards from another's in a thread's list.
    id: u64,
    socket: UnixStream,
    /// Every shard, in the order their threads first sent.
    shards: Mutex<Vec<Arc<Shard>>>,
    state: Mutex<State>,
    /// Notified when a writer gathers the shards and when it finishes, if
    /// someone waits.
    idle: Condvar,
}

#[repr(align(128))]
struct Flags {
    /// [`NOBODY`], [`SENDER`] or [`WATCHER`].
    writer: AtomicU8,
    /// A write failed: the connection is going, and whatever is queued is
    /// dropped (the reader sees the end and ends the processes).
    broken: AtomicBool,
}

impl Out {
    pub(super) fn new(socket: UnixStream) -> Out {
        static IDS: AtomicU64 = AtomicU64::new(0);
        Out {
            flags: Flags {
                writer: AtomicU8::new(NOBODY),
                broken: AtomicBool::new(false),
            },
            id: IDS.fetch_add(1, Ordering::Relaxed),
            socket,
            shards: Mutex::new(Vec::new()),
            state: Mutex::new(State {
                bytes: Vec::new(),
                spare: Vec::new(),
                waiting: false,
            }),
            idle: Condvar::new(),
        }
    }

    /// Queues the frames `encode` appends, after everything this thread
    /// queued before.
    pub(super) fn queue(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Duty {
        if self.flags.broken.load(Ordering::Relaxed) {
            return Duty::None;
        }
        let shard = self.shard();
        let len = {
            let mut bytes = lock(&shard.bytes);
            encode(&mut bytes);
            shard.len.store(bytes.len(), Ordering::Relaxed);
            bytes.len()
        };
        // Against a writer that gives up writing: it stores `NOBODY`, then
        // looks at the shards; this thread appends, then looks at the
        // writer. One of the two sees the other.
        fence(Ordering::SeqCst);
        let duty = self.claim();
        if matches!(duty, Duty::None) && len >= BUSY && role() == Role::Sender {
            self.wait_taken(&shard);
        }
        duty
    }

    /// Queues `frames` after everything queued so far on every thread.
    pub(super) fn queue_last(&self, frames: &[u8]) -> Duty {
        if self.flags.broken.load(Ordering::Relaxed) {
            return Duty::None;
        }
        {
            let mut state = lock(&self.state);
            self.gather(&mut state);
            state.bytes.extend_from_slice(frames);
        }
        fence(Ordering::SeqCst);
        self.claim()
    }

    /// Becomes the writer if nobody is.
    fn claim(&self) -> Duty {
        if self.flags.writer.load(Ordering::SeqCst) != NOBODY {
            return Duty::None;
        }
        let (me, duty) = match role() {
            Role::Reader => (WATCHER, Duty::Wake),
            Role::Sender | Role::Watcher => (SENDER, Duty::Write),
        };
        match self
            .flags
            .writer
            .compare_exchange(NOBODY, me, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => duty,
            Err(_) => Duty::None,
        }
    }

    /// Writes what is queued, once, as the sender that was told to; true
    /// if more was queued meanwhile and the watcher must be woken for it.
    pub(super) fn write_as_sender(&self) -> bool {
        self.round();
        self.release()
    }

    /// Writes until nothing is queued, if the watcher was told to.
    pub(super) fn write_as_watcher(&self) {
        while self.flags.writer.load(Ordering::SeqCst) == WATCHER {
            self.round();
            if !self.release() {
                return;
            }
        }
    }

    /// Returns once everything queued so far is written (or the connection
    /// has broken). Only the watcher calls this.
    pub(super) fn flush_as_watcher(&self) {
        loop {
            match self.flags.writer.load(Ordering::SeqCst) {
                WATCHER => self.write_as_watcher(),
                NOBODY if !self.queued() || self.flags.broken.load(Ordering::SeqCst) => return,
                NOBODY => {
                    let _ = self.flags.writer.compare_exchange(
                        NOBODY,
                        WATCHER,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                }
                _ => {
                    let mut state = lock(&self.state);
                    if self.flags.writer.load(Ordering::SeqCst) == SENDER {
                        state.waiting = true;
                        drop(self.wait(state));
                    }
                }
            }
        }
    }

    /// This thread's shard here, made on its first send.
    fn shard(&self) -> Arc<Shard> {
        SHARDS.with(|shards| {
            let mut shards = shards.borrow_mut();
            if let Some((id, shard)) = shards.first()
                && *id == self.id
            {
                return shard.clone();
            }
            let shard = match shards.iter().position(|(id, _)| *id == self.id) {
                Some(at) => shards.remove(at).1,
                None => {
                    // Forget the shards of connections that have gone.
                    shards.retain(|(_, shard)| Arc::strong_count(shard) > 1);
                    let shard = Arc::new(Shard::default());
                    lock(&self.shards).push(shard.clone());
                    shard
                }
            };
            shards.insert(0, (self.id, shard.clone()));
            shard
        })
    }

    /// Moves every shard's bytes to the end of `state.bytes`, and forgets
    /// the shards of threads that have ended.
    fn gather(&self, state: &mut State) {
        lock(&self.shards).retain(|shard| {
            if shard.len.load(Ordering::SeqCst) > 0 {
                let mut bytes = lock(&shard.bytes);
                state.bytes.append(&mut bytes);
                shard.len.store(0, Ordering::SeqCst);
            }
            Arc::strong_count(shard) > 1
        });
        if std::mem::take(&mut state.waiting) {
            self.idle.notify_all();
        }
    }

    /// Whether anything is queued, gathered or not.
    fn queued(&self) -> bool {
        !lock(&self.state).bytes.is_empty()
            || lock(&self.shards)
                .iter()
                .any(|shard| shard.len.load(Ordering::SeqCst) > 0)
    }

    /// Gathers the shards and writes the batch.
    fn round(&self) {
        let mut batch = {
            let mut state = lock(&self.state);
            self.gather(&mut state);
            let spare = std::mem::take(&mut state.spare);
            std::mem::replace(&mut state.bytes, spare)
        };
        if (&self.socket).write_all(&batch).is_err() {
            self.break_off();
        }
        batch.clear();
        if batch.capacity() > KEEP {
            batch.shrink_to(KEEP);
        }
        lock(&self.state).spare = batch;
    }

    /// Stops writing: what is queued and what comes is dropped.
    fn break_off(&self) {
        self.flags.broken.store(true, Ordering::SeqCst);
        let mut state = lock(&self.state);
        self.gather(&mut state);
        state.bytes = Vec::new();
    }

    /// Gives up writing; true if more was queued meanwhile, which the
    /// watcher is now to write.
    fn release(&self) -> bool {
        self.flags.writer.store(NOBODY, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let more = !self.flags.broken.load(Ordering::SeqCst)
            && self.queued()
            && self
                .flags
                .writer
                .compare_exchange(NOBODY, WATCHER, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
        let mut state = lock(&self.state);
        if std::mem::take(&mut state.waiting) {
            self.idle.notify_all();
        }
        more
    }

    /// Waits until a writer has taken `shard`'s bytes (or nobody writes,
    /// or the connection has broken).
    fn wait_taken(&self, shard: &Shard) {
        let mut state = lock(&self.state);
        while shard.len.load(Ordering::SeqCst) >= BUSY
            && self.flags.writer.load(Ordering::SeqCst) != NOBODY
            && !self.flags.broken.load(Ordering::SeqCst)
        {
            state.waiting = true;
            state = self.wait(state);
        }
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.idle
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }
}
