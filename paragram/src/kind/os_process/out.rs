//! The writing half of a connection.
//!
//! Frames from every thread go into one buffer, in the order their senders
//! queue them, so the connection keeps every order its senders can see: a
//! thread's frames in the order it sent them, and a frame sent after
//! another thread's (after joining it, or hearing from it) after that
//! one's. The socket is written by whoever finds no one writing: the
//! sending thread itself, so a lone message costs no thread hop. A writer
//! takes the whole buffer and writes it; if more was queued meanwhile, it
//! hands the rest to the connection's watcher thread, which writes until
//! nothing is queued. While someone writes, senders only append, so a
//! stream of messages goes out in large writes.
//!
//! A sender waits, as a sender to a busy distribution port waits in
//! Erlang, while [`BUSY`] bytes are queued, and while it writes itself
//! into a full socket: either way, until the peer's reader catches up.
//! That bounds what a connection holds, and gives the peer the time it
//! needs. A connection's reader and its watcher never wait: the reader
//! hands any writing to the watcher at once, and the watcher is the one
//! that drains the queue. A reader therefore never blocks on a full
//! socket, and OS processes that send to each other can never end up each
//! waiting for the other's reader. The price: what a parent's reader
//! passes on from one child to a sibling that has stopped reading is not
//! bounded by [`BUSY`].

use std::cell::Cell;
use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::driver;
use crate::pid::lock;

/// Queued bytes from which a sender waits for a writer to take them.
pub(super) const BUSY: usize = 4 << 20;

/// Capacity a drained buffer keeps for the next batch, at most: what a
/// buffer grows to (by doubling) on its way past [`BUSY`], so a connection
/// kept busy reuses its two buffers instead of growing a new one (and
/// faulting its pages in) for every batch.
const KEEP: usize = 2 * BUSY;

/// What a thread is to the connections it uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Any thread that sends: writes itself when nobody is writing, waits
    /// while the queue is full.
    Sender,
    /// A connection's reader: never writes, never waits.
    Reader,
    /// A connection's watcher: writes, never waits for the queue.
    Watcher,
}

thread_local! {
    static ROLE: Cell<Role> = const { Cell::new(Role::Sender) };
    /// Where this thread encodes a frame before queuing it.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Capacity a thread's scratch buffer keeps, at most.
const KEEP_SCRATCH: usize = 64 << 10;

/// Runs `f` with an empty buffer of this thread's, kept for the next call.
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = SCRATCH.with(Cell::take);
    buf.clear();
    let result = f(&mut buf);
    if buf.capacity() <= KEEP_SCRATCH {
        SCRATCH.with(|scratch| scratch.set(buf));
    }
    result
}

/// Marks the current thread as a connection's reader.
pub(super) fn become_reader() {
    ROLE.with(|role| role.set(Role::Reader));
}

/// Marks the current thread as a connection's watcher.
pub(super) fn become_watcher() {
    ROLE.with(|role| role.set(Role::Watcher));
}

/// Who writes the queue to the socket now.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    Nobody,
    /// A thread that queued a frame and found nobody writing; it writes
    /// once.
    Sender,
    /// The connection's watcher thread, until nothing is queued.
    Watcher,
}

struct State {
    /// Queued bytes, whole frames, in order.
    bytes: Vec<u8>,
    /// The buffer the last write emptied, kept for its capacity.
    spare: Vec<u8>,
    writer: Writer,
    /// A write failed: the connection is going, and whatever is queued is
    /// dropped (the reader sees the end and ends the processes).
    broken: bool,
    /// Someone waits on [`Out::idle`]: a sender for the queue to be taken,
    /// or the watcher's flush for the writer to finish.
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
    socket: UnixStream,
    state: Mutex<State>,
    /// Notified when a writer takes the queue and when it finishes, if
    /// someone waits.
    idle: Condvar,
}

impl Out {
    pub(super) fn new(socket: UnixStream) -> Out {
        Out {
            socket,
            state: Mutex::new(State {
                bytes: Vec::new(),
                spare: Vec::new(),
                writer: Writer::Nobody,
                broken: false,
                waiting: false,
            }),
            idle: Condvar::new(),
        }
    }

    /// Queues the whole frames `encode` appends, after everything queued
    /// before. They are encoded under the queue's lock: a process handle
    /// they carry is read (alive, or ended) in the same step as the frame
    /// takes its place, so the frame that tells of the process's end,
    /// queued once it has ended, comes after it.
    pub(super) fn queue(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Duty {
        let queued = self.try_queue(|bytes| {
            encode(bytes);
            Ok::<(), std::convert::Infallible>(())
        });
        match queued {
            Ok(duty) => duty,
            Err(never) => match never {},
        }
    }

    /// Queues what `encode` appends, as [`Out::queue`] does; if `encode`
    /// fails, nothing is queued and its error is returned. On a broken
    /// connection, what it appends is dropped.
    pub(super) fn try_queue<E>(
        &self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<Duty, E> {
        let mut state = lock(&self.state);
        let start = state.bytes.len();
        if let Err(error) = encode(&mut state.bytes) {
            state.bytes.truncate(start);
            return Err(error);
        }
        if state.broken {
            state.bytes.truncate(start);
            return Ok(Duty::None);
        }
        let role = ROLE.with(Cell::get);
        if state.writer == Writer::Nobody {
            return Ok(if role == Role::Reader {
                state.writer = Writer::Watcher;
                Duty::Wake
            } else {
                state.writer = Writer::Sender;
                Duty::Write
            });
        }
        if role == Role::Sender {
            // Someone writes, and will take the queue.
            while state.bytes.len() >= BUSY && state.writer != Writer::Nobody && !state.broken {
                state.waiting = true;
                state = driver::blocking(|| self.wait(state));
            }
        }
        Ok(Duty::None)
    }

    /// Writes what is queued, once, as the sender that was told to; true
    /// if more was queued meanwhile and the watcher must be woken for it.
    pub(super) fn write_as_sender(&self) -> bool {
        let batch = self.take();
        self.written(batch)
    }

    /// Writes until nothing is queued, if the watcher was told to.
    pub(super) fn write_as_watcher(&self) {
        while lock(&self.state).writer == Writer::Watcher {
            let batch = self.take();
            if !self.written(batch) {
                return;
            }
        }
    }

    /// Returns once everything queued so far is written (or the connection
    /// has broken). Only the watcher calls this: it writes what nobody
    /// writes, and what it was told to write, itself.
    pub(super) fn flush_as_watcher(&self) {
        let mut state = lock(&self.state);
        loop {
            match state.writer {
                Writer::Nobody if state.bytes.is_empty() || state.broken => return,
                Writer::Nobody | Writer::Watcher => {
                    state.writer = Writer::Watcher;
                    drop(state);
                    self.write_as_watcher();
                    state = lock(&self.state);
                }
                Writer::Sender => {
                    state.waiting = true;
                    state = self.wait(state);
                }
            }
        }
    }

    /// Takes the queued bytes, leaving the spare buffer in their place.
    fn take(&self) -> Vec<u8> {
        let mut state = lock(&self.state);
        let spare = std::mem::take(&mut state.spare);
        if std::mem::take(&mut state.waiting) {
            self.idle.notify_all();
        }
        std::mem::replace(&mut state.bytes, spare)
    }

    /// Writes `batch` and gives its buffer back; true if more is queued,
    /// which the watcher is now to write, else nobody writes.
    fn written(&self, mut batch: Vec<u8>) -> bool {
        let failed = (&self.socket).write_all(&batch).is_err();
        batch.clear();
        if batch.capacity() > KEEP {
            batch.shrink_to(KEEP);
        }
        if failed {
            // The reader sees the end too, and ends the connection.
            let _ = self.socket.shutdown(Shutdown::Both);
        }
        let mut state = lock(&self.state);
        state.spare = batch;
        if failed {
            state.broken = true;
            state.bytes = Vec::new();
        }
        let more = !state.bytes.is_empty();
        state.writer = if more {
            Writer::Watcher
        } else {
            Writer::Nobody
        };
        if std::mem::take(&mut state.waiting) {
            self.idle.notify_all();
        }
        more
    }

    /// The connection has ended: what is queued, and what comes, is
    /// dropped, and no sender waits any longer.
    pub(super) fn close(&self) {
        let mut state = lock(&self.state);
        state.broken = true;
        state.bytes = Vec::new();
        if state.writer == Writer::Watcher {
            state.writer = Writer::Nobody;
        }
        if std::mem::take(&mut state.waiting) {
            self.idle.notify_all();
        }
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.idle
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }
}
