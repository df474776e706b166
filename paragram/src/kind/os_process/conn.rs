//! One side of a parent–child connection: the socket, the processes each
//! side has shown the other (exports) and the proxies of the other side's
//! processes (imports), the proxy drivers, and the reader that turns frames
//! into local sends, links and ends.

use std::collections::HashMap;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;

use super::out::{Duty, Out, become_reader, become_watcher, with_scratch};
use super::{OsProcessError, Remote};
use crate::exit::Exit;
use crate::kind::thread::Slot;
use crate::link;
use crate::mailbox::{Inbox, mailbox};
use crate::pid::{Core, Pid, ProcessId, lock};
use crate::runner::Envelope;
use crate::spawn::{SpawnError, next_id};
use crate::term::Term;
use crate::wire::{
    Frame, FrameReader, Incoming, WireError, WireExit, WirePid, WireProcess, decode_incoming,
    encode_deliver, encode_frame, kind_name,
};

/// Which end of the connection this is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Parent,
    Child,
}

/// Messages for one process the reader hands over in one go, at most:
/// enough to take the queue's lock and the wake-up off the per-message
/// cost, few enough that a batch stays well inside the allocator's pools.
const BATCH: usize = 256;

pub(crate) struct Conn {
    side: Side,
    /// This program's OS pid.
    node: u32,
    /// The other side's OS pid.
    peer: u32,
    socket: UnixStream,
    out: Out,
    /// Local processes the peer knows, by their id on the wire; kept for
    /// as long as the connection lives.
    exports: Mutex<HashMap<u64, Pid>>,
    /// Proxies of the peer's processes, by their id there.
    imports: Mutex<HashMap<u64, Weak<Core>>>,
    /// Child side: this OS process's own process, id 0 on the wire.
    main: OnceLock<Arc<Core>>,
    /// Child: how often the main process's handle was sent; parent: how
    /// often the child's was received.
    main_count: AtomicU64,
    /// Tells exports' ends to the peer, and writes what a sender hands
    /// over (see [`Out`]).
    watcher: OnceLock<Arc<Core>>,
    /// The watcher's thread, joined by the parent's reader at the end.
    watcher_thread: Mutex<Option<JoinHandle<()>>>,
    /// Child side: told when the main process has ended or the parent gone.
    done: Mutex<Option<Sender<()>>>,
    closed: AtomicBool,
    /// Set when the connection is cut on purpose (its owner root ended).
    killed: AtomicBool,
}

impl Conn {
    /// A connection over `socket`; its watcher thread takes `slot`.
    pub(crate) fn new(
        side: Side,
        node: u32,
        peer: u32,
        socket: UnixStream,
        slot: Slot,
    ) -> Result<Arc<Conn>, SpawnError> {
        let out = Out::new(socket.try_clone()?);
        let conn = Arc::new(Conn {
            side,
            node,
            peer,
            socket,
            out,
            exports: Mutex::new(HashMap::new()),
            imports: Mutex::new(HashMap::new()),
            main: OnceLock::new(),
            main_count: AtomicU64::new(0),
            watcher: OnceLock::new(),
            watcher_thread: Mutex::new(None),
            done: Mutex::new(None),
            closed: AtomicBool::new(false),
            killed: AtomicBool::new(false),
        });
        let (mailbox, inbox) = mailbox();
        let watcher = Arc::new(Core::new(
            next_id(),
            "os-watcher".into(),
            "Watcher",
            mailbox,
        ));
        let _ = conn.watcher.set(watcher.clone());
        let driver = conn.clone();
        let handle = std::thread::Builder::new()
            .name("os-watcher".into())
            .spawn(move || {
                let _slot = slot;
                driver.watch_exports(watcher, inbox);
            })?;
        *lock(&conn.watcher_thread) = Some(handle);
        Ok(conn)
    }

    /// Queues whole frames after everything queued before, and writes
    /// them if nobody is writing; a broken socket is noticed by the reader.
    pub(crate) fn queue(&self, frames: &[u8]) {
        self.push(|bytes| bytes.extend_from_slice(frames));
    }

    /// Queues the frames `encode` appends, as [`Conn::queue`] does, encoded
    /// under the send queue's lock (see [`Out::queue`]): every process
    /// handle a frame names is named by `encode` itself.
    fn push(&self, encode: impl FnOnce(&mut Vec<u8>)) {
        let duty = self.out.queue(encode);
        self.follow(duty);
    }

    fn follow(&self, duty: Duty) {
        let wake = match duty {
            Duty::None => false,
            Duty::Write => self.out.write_as_sender(),
            Duty::Wake => true,
        };
        if wake && let Some(watcher) = self.watcher.get() {
            // A boxed closure that captures nothing does not allocate.
            let _ = watcher.mailbox.push(Envelope::Run(Box::new(|_| {})));
        }
    }

    fn send_frame(&self, frame: &Frame) {
        self.push(|bytes| encode_frame(frame, bytes));
    }

    /// Sends the message `terms` to the peer's process `id`. One that
    /// names no process is encoded before the send queue's lock is taken,
    /// so concurrent senders hold it only to append.
    pub(crate) fn deliver(&self, id: u64, terms: &[Term]) {
        let encode = |bytes: &mut Vec<u8>| {
            encode_deliver(id, terms, &mut |pid| self.wire_pid(pid), bytes);
        };
        if terms.iter().any(names_a_process) {
            return self.push(encode);
        }
        let duty = with_scratch(|bytes| {
            encode(bytes);
            self.out.queue(|queue| queue.extend_from_slice(bytes))
        });
        self.follow(duty);
    }

    /// Tells the peer's process `id` to end with `exit`.
    pub(crate) fn terminate(&self, id: u64, exit: &Exit) {
        let exit = self.wire_exit(exit);
        self.send_frame(&Frame::Terminate { to: id, exit });
    }

    /// `exit` as the peer will read it: a linked exit's peer named as the
    /// peer knows it.
    fn wire_exit(&self, exit: &Exit) -> WireExit {
        WireExit::from_exit_naming(exit, &mut |peer| {
            // A process of the peer's by its id there; any other (ours, or
            // a third OS process's) by the id of its core or proxy here.
            let (node, id) = match peer.home() {
                Some((node, id)) if node == self.peer => (node, id),
                _ => self.wire_process(peer.id()),
            };
            WireProcess {
                node,
                id,
                kind: peer.kind().to_owned(),
                name: peer.name().to_owned(),
            }
        })
    }

    /// How the peer names this side's process with local id `id`.
    fn wire_process(&self, id: u64) -> (u32, u64) {
        match self.main.get() {
            Some(main) if main.id == id => (self.node, 0),
            _ => (self.node, id),
        }
    }

    /// The exit value of a `WireExit` from the peer: a linked exit's peer
    /// is named as the process here it stands for (one of ours the peer
    /// knows, or a proxy of one of its own), else with an id of its own
    /// that remembers where the process runs.
    fn local_exit(&self, exit: WireExit) -> Exit {
        exit.into_exit_naming(&mut |peer| {
            if peer.node == self.node {
                if let Some(pid) = lock(&self.exports).get(&peer.id) {
                    return ProcessId::from(pid);
                }
                if let Some(main) = self.main.get().filter(|_| peer.id == 0) {
                    return ProcessId::new(main.id, main.kind, main.name.clone());
                }
                return ProcessId::new(peer.id, kind_name(&peer.kind), peer.name);
            }
            if peer.node == self.peer
                && let Some(core) = lock(&self.imports).get(&peer.id).and_then(Weak::upgrade)
            {
                return ProcessId::of_core(&core);
            }
            ProcessId::new(next_id(), kind_name(&peer.kind), peer.name).at_home(peer.node, peer.id)
        })
    }

    /// The other side's OS pid.
    pub(crate) fn peer(&self) -> u32 {
        self.peer
    }

    /// Cuts the connection: the peer reads EOF.
    pub(crate) fn shutdown(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }

    pub(crate) fn set_done(&self, done: Sender<()>) {
        *lock(&self.done) = Some(done);
    }

    /// Child side: makes `pid` the OS process's own process.
    pub(crate) fn set_main(&self, pid: Pid) {
        let core = pid.core().clone();
        let _ = self.main.set(core.clone());
        lock(&self.exports).insert(0, pid);
        if let Some(watcher) = self.watcher.get() {
            link::watch(&core, watcher);
        }
    }

    /// The id the peer knows a local process by.
    fn wire_id(&self, core: &Arc<Core>) -> u64 {
        match self.main.get() {
            Some(main) if Arc::ptr_eq(main, core) => 0,
            _ => core.id,
        }
    }

    /// `pid` as the peer will know it; a local process is exported (kept,
    /// and its end told to the peer).
    pub(crate) fn wire_pid(&self, pid: &Pid) -> WirePid {
        let core = pid.core();
        if let Some(remote) = core.remote.get()
            && std::ptr::eq(Arc::as_ptr(&remote.conn), self)
        {
            return WirePid {
                node: self.peer,
                id: remote.id,
                name: core.name.clone(),
                kind: core.kind.to_owned(),
                exit: None,
            };
        }
        let id = self.wire_id(core);
        let new = {
            let mut exports = lock(&self.exports);
            // Counted with the export in place, as one step against the
            // parent's `Unreachable`, which is checked under this lock.
            if id == 0 {
                self.main_count.fetch_add(1, Ordering::SeqCst);
            }
            let new = !exports.contains_key(&id);
            if new {
                exports.insert(id, pid.clone());
            }
            new
        };
        if new && let Some(watcher) = self.watcher.get() {
            link::watch(core, watcher);
        }
        WirePid {
            node: self.node,
            id,
            name: core.name.clone(),
            kind: core.kind.to_owned(),
            exit: core.exit().as_ref().map(|exit| self.wire_exit(exit)),
        }
    }

    /// The local `Pid` for a handle from the peer.
    fn local_pid(self: &Arc<Self>, pid: WirePid) -> Result<Pid, WireError> {
        if pid.node == self.node {
            return lock(&self.exports)
                .get(&pid.id)
                .cloned()
                .ok_or_else(|| WireError::Malformed(format!("unknown process id {}", pid.id)));
        }
        if pid.node != self.peer {
            return Err(WireError::Malformed(format!("unknown node {}", pid.node)));
        }
        let main = self.side == Side::Parent && pid.id == 0;
        let exit = pid.exit.map(|exit| self.local_exit(exit));
        let pid = self
            .proxy(pid.id, pid.name, kind_name(&pid.kind), exit, None, None)
            .map_err(WireError::Proxy)?;
        // Counted once the handle exists: an `Unreachable` sent before
        // this carries the lower count, which the child ignores.
        if main {
            self.main_count.fetch_add(1, Ordering::SeqCst);
        }
        Ok(pid)
    }

    /// The proxy of the peer's process `id`, started if there is none; its
    /// driver thread takes `slot`, or a place of its own.
    pub(crate) fn proxy(
        self: &Arc<Self>,
        id: u64,
        name: String,
        kind: &'static str,
        exit: Option<Exit>,
        owner: Option<u64>,
        slot: Option<Slot>,
    ) -> Result<Pid, SpawnError> {
        let mut imports = lock(&self.imports);
        if let Some(core) = imports.get(&id).and_then(Weak::upgrade) {
            return Ok(Pid::from_core(core));
        }
        let slot = match slot {
            Some(slot) => slot,
            None => Slot::take()?,
        };
        let (mailbox, inbox) = mailbox();
        let core = Arc::new(Core::new(next_id(), name, kind, mailbox));
        let remote = Remote {
            conn: self.clone(),
            id,
            ended: Mutex::new(exit),
            owner,
        };
        let _ = core.remote.set(remote);
        let pid = Pid::from_core(core.clone());
        let driver = core.clone();
        std::thread::Builder::new()
            .name(format!("{}-proxy", core.name))
            .spawn(move || drive(driver, inbox, slot))?;
        imports.insert(id, Arc::downgrade(&core));
        // Forget the proxies that have gone, each time the map doubles.
        if imports.len() >= 64 && imports.len().is_power_of_two() {
            imports.retain(|_, proxy| proxy.strong_count() > 0);
        }
        Ok(pid)
    }

    /// Ends the proxy of the peer's process `id` with `exit`.
    fn end_proxy(&self, id: u64, exit: Exit) {
        let core = lock(&self.imports).get(&id).and_then(Weak::upgrade);
        if let Some(core) = core {
            end(&core, exit);
        }
    }

    /// Ends every proxy still running with `exit` (the main one, id 0, with
    /// `main_exit` if given), forgets every export and stops the watcher.
    pub(crate) fn end_all(&self, exit: &Exit) {
        self.closed.store(true, Ordering::SeqCst);
        self.out.close();
        let imports: Vec<_> = lock(&self.imports).drain().collect();
        for (_, core) in imports {
            if let Some(core) = core.upgrade() {
                end(&core, exit.clone());
            }
        }
        let exports: Vec<_> = lock(&self.exports).drain().collect();
        drop(exports);
        if let Some(watcher) = self.watcher.get() {
            let _ = watcher.mailbox.push(Envelope::Run(Box::new(|_| {})));
        }
    }

    /// Reads frames until EOF or a bad frame. Messages go straight from
    /// the frame's bytes into terms, and a run of them for one process is
    /// handed over in one go when it ends, when no further frame is
    /// buffered, or at [`BATCH`]. What came before a bad frame is handed
    /// over.
    fn read_frames(self: &Arc<Self>) -> Result<(), WireError> {
        become_reader();
        let mut reader = FrameReader::new(&self.socket);
        let mut run = Run::default();
        let read = (|| {
            loop {
                if !reader.has_frame() {
                    run.hand_over();
                }
                let Some(body) = reader.next()? else {
                    return Ok(());
                };
                match decode_incoming(body)? {
                    Incoming::Deliver { to, message } => {
                        if run.target.as_ref().is_none_or(|(id, _)| *id != to) {
                            run.hand_over();
                            run.target = Some((to, self.export(to)?));
                        }
                        if run.messages.capacity() == 0 {
                            // A lone message does not pay for a full run.
                            run.messages.reserve(32);
                        }
                        message.decode_into(
                            &mut |pid| self.local_pid(pid),
                            &mut run.messages,
                            Envelope::Message,
                        )?;
                        if run.messages.len() >= BATCH {
                            run.hand_over();
                        }
                    }
                    Incoming::Other(frame) => {
                        run.hand_over();
                        run.target = None;
                        self.handle(frame)?;
                    }
                }
            }
        })();
        run.hand_over();
        read
    }

    fn export(&self, id: u64) -> Result<Pid, WireError> {
        lock(&self.exports)
            .get(&id)
            .cloned()
            .ok_or_else(|| WireError::Malformed(format!("unknown process id {id}")))
    }

    fn handle(self: &Arc<Self>, frame: Frame) -> Result<(), WireError> {
        match frame {
            Frame::Terminate { to, exit } => {
                // On to another child, if `to` stands for a process there:
                // in order with the messages passed on before it.
                let target = self.export(to)?;
                target.stop(self.local_exit(exit));
            }
            Frame::Exited { id, exit } => {
                let exit = self.local_exit(exit);
                self.end_proxy(id, exit);
            }
            Frame::Link { local, remote } => {
                let local = self.export(local)?;
                let remote = self.local_pid(remote)?;
                link::link_local(local.core(), remote.core());
                // `local` may stand for a process of another child OS
                // process: the link goes on to it.
                mirror_to(local.core(), remote.core(), true);
            }
            Frame::Unlink { local, remote } => {
                let local = self.export(local)?;
                let remote = self.local_pid(remote)?;
                link::unlink_local(local.core(), remote.core());
                mirror_to(local.core(), remote.core(), false);
            }
            Frame::Watch { local, remote } => {
                let local = self.export(local)?;
                let remote = self.local_pid(remote)?;
                link::watch(remote.core(), local.core());
                mirror_watch(remote.core(), local.core());
            }
            Frame::Unreachable { seen } if self.side == Side::Child => {
                let main = {
                    let mut exports = lock(&self.exports);
                    (seen == self.main_count.load(Ordering::SeqCst))
                        .then(|| exports.remove(&0))
                        .flatten()
                };
                drop(main);
            }
            Frame::Init { .. } | Frame::Deliver { .. } | Frame::Unreachable { .. } => {
                return Err(WireError::Malformed("unexpected frame".into()));
            }
        }
        Ok(())
    }

    /// Parent side: reads the child's frames, then reaps it and ends every
    /// proxy of its processes with how it ended.
    pub(crate) fn run_parent(self: Arc<Self>, mut child: Child) {
        let read = self.read_frames();
        let killed = self.killed.load(Ordering::SeqCst);
        if read.is_err() || killed {
            let _ = child.kill();
        }
        self.shutdown();
        let error = match (read, child.wait()) {
            _ if killed => OsProcessError::RootEnded,
            (Err(error), _) => OsProcessError::Protocol(error.to_string()),
            (Ok(()), Ok(status)) => OsProcessError::from_status(status),
            (Ok(()), Err(error)) => OsProcessError::Protocol(error.to_string()),
        };
        self.end_all(&Exit::with_error(error));
        // Its place among the threads is free once `wait` returns.
        self.join_watcher();
    }

    /// Waits for the watcher thread to end (after [`Conn::end_all`]).
    pub(crate) fn join_watcher(&self) {
        let watcher = lock(&self.watcher_thread).take();
        if let Some(watcher) = watcher {
            let _ = watcher.join();
        }
    }

    /// Child side: reads the parent's frames; at EOF (the parent has gone)
    /// or a bad frame, tells the hook to exit.
    pub(crate) fn run_child(self: Arc<Self>) {
        if let Err(error) = self.read_frames() {
            eprintln!("paragram: OS process {}: {error}", self.node);
        }
        if let Some(done) = lock(&self.done).take() {
            let _ = done.send(());
        }
    }

    /// Tells the peer of each export's end, in the order they end.
    fn watch_exports(self: Arc<Self>, core: Arc<Core>, mut inbox: Inbox<Envelope>) {
        become_watcher();
        loop {
            match inbox.recv(&core.mailbox) {
                Envelope::Exit { from, exit } => {
                    let id = self.wire_id(from.core());
                    drop(from);
                    // What the process sent before it ended is queued
                    // already: this goes after.
                    self.send_frame(&Frame::Exited {
                        id,
                        exit: self.wire_exit(&exit),
                    });
                    if id == 0
                        && let Some(done) = lock(&self.done).take()
                    {
                        // The child exits once told: everything goes out
                        // first.
                        self.out.flush_as_watcher();
                        let _ = done.send(());
                    }
                }
                _ if self.closed.load(Ordering::SeqCst) => break,
                _ => {}
            }
            self.out.write_as_watcher();
        }
        core.record_exit(Exit::normal());
        core.mailbox.close(&mut inbox);
        core.finish();
    }
}

/// Whether `term` holds a process handle, at any depth.
fn names_a_process(term: &Term) -> bool {
    // Recursion here follows terms built in this program, never input.
    match term {
        Term::Pid(_) => true,
        Term::Tuple(items) | Term::List(items) => items.iter().any(names_a_process),
        Term::Map(map) => map
            .iter()
            .any(|(k, v)| names_a_process(k) || names_a_process(v)),
        _ => false,
    }
}

/// A run of messages the reader has decoded for one process.
#[derive(Default)]
struct Run {
    /// The process, by its id on the wire.
    target: Option<(u64, Pid)>,
    messages: Vec<Envelope>,
}

impl Run {
    /// Hands the messages to the process; one that has ended drops them.
    fn hand_over(&mut self) {
        if self.messages.is_empty() {
            return;
        }
        let messages = std::mem::take(&mut self.messages);
        let Some((_, target)) = &self.target else {
            return;
        };
        // A proxy (the process runs in another child) sends each on.
        if target.core().remote.get().is_some() {
            for envelope in messages {
                if let Envelope::Message(message) = envelope {
                    let _ = target.send(message);
                }
            }
        } else {
            let _ = target.core().mailbox.push_many(messages);
        }
    }
}

/// Ends the proxy `core` with `exit`, unless it already has an end coming.
fn end(core: &Arc<Core>, exit: Exit) {
    if let Some(remote) = core.remote.get() {
        let mut ended = lock(&remote.ended);
        if ended.is_none() && core.exit().is_none() {
            *ended = Some(exit);
        }
    }
    let _ = core.mailbox.push(Envelope::Run(Box::new(|_| {})));
}

/// Mirrors a link made (or removed) here between `a` and `b` in the OS
/// process of each that is a proxy.
pub(crate) fn mirror_link(a: &Arc<Core>, b: &Arc<Core>, add: bool) {
    mirror_to(a, b, add);
    mirror_to(b, a, add);
}

/// Makes (or removes) the link between `proxy`, if it is one, and `other`
/// in the OS process where `proxy`'s process runs.
fn mirror_to(proxy: &Arc<Core>, other: &Arc<Core>, add: bool) {
    let Some(remote) = proxy.remote.get() else {
        return;
    };
    let other = Pid::from_core(other.clone());
    remote.conn.push(|bytes| {
        let wire = remote.conn.wire_pid(&other);
        let frame = if add {
            Frame::Link {
                local: remote.id,
                remote: wire,
            }
        } else {
            Frame::Unlink {
                local: remote.id,
                remote: wire,
            }
        };
        encode_frame(&frame, bytes);
    });
}

/// Makes `core` notify `watcher` when it ends in the OS process where
/// `watcher`'s process runs, if `watcher` is a proxy. (Here, the proxy
/// ignores the notification: a proxy tells its process only of the ends
/// of processes it mirrors a link or a watch with.)
pub(crate) fn mirror_watch(core: &Arc<Core>, watcher: &Arc<Core>) {
    let Some(remote) = watcher.remote.get() else {
        return;
    };
    let core = Pid::from_core(core.clone());
    remote.conn.push(|bytes| {
        let frame = Frame::Watch {
            local: remote.id,
            remote: remote.conn.wire_pid(&core),
        };
        encode_frame(&frame, bytes);
    });
}

/// A proxy's driver: stands for the process until it ends, then runs the
/// exit steps. Messages and terminations sent to the proxy do not pass
/// through here: the sender queues them on the connection itself.
fn drive(core: Arc<Core>, mut inbox: Inbox<Envelope>, slot: Slot) {
    let Some(remote) = core.remote.get() else {
        return;
    };
    let conn = &remote.conn;
    let exit = loop {
        if let Some(exit) = lock(&remote.ended).take() {
            break exit;
        }
        match inbox.recv(&core.mailbox) {
            Envelope::Message(message) => conn.deliver(remote.id, message.terms()),
            Envelope::Terminate(exit) => conn.terminate(remote.id, &exit),
            // The owner root ended: the child goes with it. Other linked
            // ends reach the peer through the mirrored link.
            Envelope::Exit { from, .. } => {
                if remote.owner == Some(from.id()) {
                    conn.killed.store(true, Ordering::SeqCst);
                    conn.shutdown();
                }
            }
            Envelope::Unreachable => {
                if core.handles() == 0 && remote.id == 0 && conn.side == Side::Parent {
                    let seen = conn.main_count.load(Ordering::SeqCst);
                    conn.send_frame(&Frame::Unreachable { seen });
                }
            }
            // A wake-up; groups never leave the inbox whole.
            Envelope::Run(_) | Envelope::Group(_) => {}
        }
    };
    core.record_exit(exit);
    core.mailbox.close(&mut inbox);
    drop(inbox);
    link::notify_exit(&core);
    // Given back before `wait` returns: a spawn after it finds the place.
    drop(slot);
    core.finish();
}
