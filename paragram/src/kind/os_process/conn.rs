//! One side of a parent–child connection: the socket, the processes each
//! side has shown the other (exports) and the proxies of the other side's
//! processes (imports), the proxy drivers, and the reader that turns frames
//! into local sends, links and ends.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::out::{Duty, Out, become_reader, become_watcher, with_scratch};
use super::reap::Started;
use super::{Proxy, proxy_of};
use crate::call;
use crate::exit::{Exit, Killed, OsProcessError};
use crate::link;
use crate::mailbox::Inbox;
use crate::pid::{Core, Pid, ProcessId, SendFailure, lock, next_id};
use crate::route::{Home, NodeId};
use crate::runner::{Envelope, exit_steps};
use crate::spawn::SpawnError;
use crate::term::Term;
use crate::threads::{self, Slot, thread_name};
use crate::wire::{
    Frame, FrameReader, Incoming, WireError, WireExit, WirePid, WireProcess, decode_incoming,
    encode_deliver, encode_frame,
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
    /// This program.
    node: NodeId,
    /// The program on the other side.
    peer: NodeId,
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
    /// Child side: told when the main process has ended, the parent has
    /// gone, or the parent's frames could not be read.
    done: Mutex<Option<Sender<ChildEnd>>>,
    /// Child side: why the parent's frames could not be read, for the
    /// watcher to tell the parent.
    failed: Mutex<Option<Exit>>,
    closed: AtomicBool,
    /// Parent side: why the connection was cut on purpose (the child did
    /// not end within its shutdown timeout), if it was.
    cut: Mutex<Option<Exit>>,
}

/// How a child OS process comes to exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildEnd {
    /// Its process has ended, and the parent has been told.
    Ended,
    /// The parent has gone; its process was told to end.
    ParentGone,
    /// The parent's frames could not be read; the parent has been told.
    Failed,
}

impl Conn {
    /// A connection over `socket`; its watcher thread takes `slot`.
    pub(crate) fn new(
        side: Side,
        node: NodeId,
        peer: NodeId,
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
            failed: Mutex::new(None),
            closed: AtomicBool::new(false),
            cut: Mutex::new(None),
        });
        let (watcher, inbox) = Core::new(next_id(), "os-watcher".into(), "Connection", None);
        let _ = conn.watcher.set(watcher.clone());
        let driver = conn.clone();
        let handle = threads::start("os-watcher".into(), None, slot, move |_slot| {
            driver.watch_exports(watcher, inbox);
        })?;
        *lock(&conn.watcher_thread) = Some(handle);
        Ok(conn)
    }

    /// Queues the `Init` frame `init`, the processes `pids` its state names
    /// in their places: named, and kept, as a message's processes are.
    pub(crate) fn send_init(&self, init: &mut Frame, pids: &[Pid]) -> Result<(), WireError> {
        let duty = self.out.try_queue(|bytes| {
            if let Frame::Init { pids: named, .. } = init {
                *named = pids.iter().map(|pid| self.wire_pid(pid)).collect();
            }
            encode_frame(init, bytes)
        })?;
        self.follow(duty);
        Ok(())
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

    /// Queues a control frame. Those carry at most a name and an exit's
    /// bounded texts, far below the frame limit, so they always encode.
    fn send_frame(&self, frame: &Frame) {
        self.push(|bytes| {
            let encoded = encode_frame(frame, bytes);
            debug_assert!(encoded.is_ok(), "a control frame did not encode");
        });
    }

    /// Sends the message `terms` to the peer's process `id`, or says why it
    /// cannot cross, queuing nothing. One that names no process is encoded
    /// before the send queue's lock is taken, so concurrent senders hold it
    /// only to append; one that does is encoded under it, and the
    /// processes it names are exported only once it is sure to go.
    pub(crate) fn deliver(&self, id: u64, terms: &[Term]) -> Result<(), SendFailure> {
        let duty = if terms.iter().any(names_a_process) {
            self.out.try_queue(|bytes| {
                let pids = encode_deliver(id, terms, &mut |pid| self.name_pid(pid), bytes)?;
                for pid in pids {
                    self.export(pid);
                }
                Ok(())
            })?
        } else {
            with_scratch(|bytes| {
                encode_deliver(id, terms, &mut |pid| self.name_pid(pid), bytes)?;
                Ok::<_, SendFailure>(self.out.queue(|queue| queue.extend_from_slice(bytes)))
            })?
        };
        self.follow(duty);
        Ok(())
    }

    /// Makes (`add`) or removes the link between the peer's process `id`
    /// and `other`, on the peer's side.
    pub(crate) fn mirror_link(&self, id: u64, other: &Arc<Core>, add: bool) {
        let other = Pid::from_core(other.clone());
        self.push(|bytes| {
            let remote = self.wire_pid(&other);
            let frame = if add {
                Frame::Link { local: id, remote }
            } else {
                Frame::Unlink { local: id, remote }
            };
            let encoded = encode_frame(&frame, bytes);
            debug_assert!(encoded.is_ok(), "a control frame did not encode");
        });
    }

    /// Makes `watched` tell the peer's process `id` of its end, on the
    /// peer's side. (Here, the proxy ignores the notification: a proxy
    /// tells its process only of the ends of processes it mirrors a link
    /// or a watch with.)
    pub(crate) fn mirror_watch(&self, id: u64, watched: &Arc<Core>) {
        let watched = Pid::from_core(watched.clone());
        self.push(|bytes| {
            let frame = Frame::Watch {
                local: id,
                remote: self.wire_pid(&watched),
            };
            let encoded = encode_frame(&frame, bytes);
            debug_assert!(encoded.is_ok(), "a control frame did not encode");
        });
    }

    /// Tells the peer to kill its process `id`.
    pub(crate) fn kill(&self, id: u64) {
        self.send_frame(&Frame::Kill { to: id });
    }

    /// Parent side: kills the child OS process; its processes end
    /// [`Killed`](crate::Killed) once it is reaped.
    pub(crate) fn kill_child(&self) {
        *lock(&self.cut) = Some(Exit::with_own_error(Killed));
        self.shutdown();
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
                Some(home) if home.node == self.peer => (home.node, home.id),
                _ => self.wire_process(peer.id()),
            };
            WireProcess {
                node: node.0,
                id,
                tag: peer.tag().to_owned(),
                name: peer.name().to_owned(),
            }
        })
    }

    /// How the peer names this side's process with local id `id`.
    fn wire_process(&self, id: u64) -> (NodeId, u64) {
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
            let node = NodeId(peer.node);
            if node == self.node {
                if let Some(pid) = lock(&self.exports).get(&peer.id) {
                    return ProcessId::from(pid);
                }
                if let Some(main) = self.main.get().filter(|_| peer.id == 0) {
                    return ProcessId::of_core(main);
                }
                return ProcessId::new(peer.id, peer.tag, peer.name);
            }
            if node == self.peer
                && let Some(core) = lock(&self.imports).get(&peer.id).and_then(Weak::upgrade)
            {
                return ProcessId::of_core(&core);
            }
            ProcessId::new(next_id(), peer.tag, peer.name).at_home(Home { node, id: peer.id })
        })
    }

    /// The program on the other side.
    pub(crate) fn peer(&self) -> NodeId {
        self.peer
    }

    /// Cuts the connection: the peer reads EOF.
    pub(crate) fn shutdown(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }

    pub(crate) fn set_done(&self, done: Sender<ChildEnd>) {
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
        self.export(pid);
        self.name_pid(pid)
    }

    /// Whether `core` is a proxy of this connection's: a process of the
    /// peer's.
    fn is_peers(&self, core: &Core) -> bool {
        proxy_of(core).is_some_and(|proxy| std::ptr::eq(Arc::as_ptr(&proxy.conn), self))
    }

    /// `pid` as the peer will know it, with no effect here.
    fn name_pid(&self, pid: &Pid) -> WirePid {
        let core = pid.core();
        if let Some(proxy) = proxy_of(core).filter(|_| self.is_peers(core)) {
            return WirePid {
                node: self.peer.0,
                id: proxy.id,
                name: core.name.to_string(),
                tag: core.tag.to_string(),
                exit: None,
            };
        }
        WirePid {
            node: self.node.0,
            id: self.wire_id(core),
            name: core.name.to_string(),
            tag: core.tag.to_string(),
            exit: core.exit().as_ref().map(|exit| self.wire_exit(exit)),
        }
    }

    /// Keeps the local process `pid`, which the peer is being shown, for as
    /// long as the connection lives, and tells the peer of its end. A
    /// process of the peer's needs neither.
    fn export(&self, pid: &Pid) {
        let core = pid.core();
        if self.is_peers(core) {
            return;
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
    }

    /// The local `Pid` for a handle from the peer.
    pub(crate) fn local_pid(self: &Arc<Self>, pid: WirePid) -> Result<Pid, WireError> {
        if NodeId(pid.node) == self.node {
            return lock(&self.exports)
                .get(&pid.id)
                .cloned()
                .ok_or_else(|| WireError::Malformed(format!("unknown process id {}", pid.id)));
        }
        if NodeId(pid.node) != self.peer {
            return Err(WireError::Malformed(format!("unknown node {}", pid.node)));
        }
        let main = self.side == Side::Parent && pid.id == 0;
        let exit = pid.exit.map(|exit| self.local_exit(exit));
        let pid = self
            .proxy(pid.id, pid.name, pid.tag.into(), exit, None, None)
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
        tag: Cow<'static, str>,
        exit: Option<Exit>,
        owner: Option<(u64, Duration)>,
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
        let (core, inbox) = Core::new(next_id(), name.into(), tag, None);
        let proxy = Proxy {
            conn: self.clone(),
            id,
            ended: Mutex::new(exit),
            owner,
        };
        let _ = core.route.set(Box::new(proxy));
        let pid = Pid::from_core(core.clone());
        let driver = core.clone();
        threads::start(thread_name(&core.name, "-proxy"), None, slot, move |slot| {
            drive(driver, inbox, slot);
        })?;
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
                            run.target = Some((to, self.exported(to)?));
                        }
                        if run.messages.capacity() == 0 {
                            // A lone message does not pay for a full run.
                            run.messages.reserve(32);
                        }
                        message.decode_into(
                            &mut |pid| self.local_pid(pid),
                            &mut run.messages,
                            |message| Envelope::Message(call::accept_remote(message)),
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

    /// The local process the peer knows by `id`.
    fn exported(&self, id: u64) -> Result<Pid, WireError> {
        lock(&self.exports)
            .get(&id)
            .cloned()
            .ok_or_else(|| WireError::Malformed(format!("unknown process id {id}")))
    }

    fn handle(self: &Arc<Self>, frame: Frame) -> Result<(), WireError> {
        match frame {
            Frame::Terminate { to: 0, exit } if self.side == Side::Child => {
                // This OS process's own process, which the parent may be
                // telling to end after it has dropped every handle to it
                // (its root ended): it is no longer exported then.
                if let Some(main) = self.main.get() {
                    let exit = self.local_exit(exit);
                    let _ = main.mailbox.push(Envelope::Terminate(exit));
                }
            }
            Frame::Terminate { to, exit } => {
                // On to another child, if `to` stands for a process there:
                // in order with the messages passed on before it.
                let target = self.exported(to)?;
                target.stop(self.local_exit(exit));
            }
            Frame::Kill { to } => self.exported(to)?.kill(),
            Frame::Exited { id, exit } => {
                let exit = self.local_exit(exit);
                self.end_proxy(id, exit);
            }
            Frame::Link { local, remote } => {
                let local = self.exported(local)?;
                let remote = self.local_pid(remote)?;
                link::link_local(local.core(), remote.core());
                // `local` may stand for a process of another child OS
                // process: the link goes on to it.
                link::mirror_from(local.core(), remote.core(), true);
            }
            Frame::Unlink { local, remote } => {
                let local = self.exported(local)?;
                let remote = self.local_pid(remote)?;
                link::unlink_local(local.core(), remote.core());
                link::mirror_from(local.core(), remote.core(), false);
            }
            Frame::Watch { local, remote } => {
                let local = self.exported(local)?;
                let remote = self.local_pid(remote)?;
                link::watch(remote.core(), local.core());
                link::mirror_watch(remote.core(), local.core());
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
    /// proxy of its processes with how it ended. The child's own account
    /// (its wait status) wins over a failed read, which its death causes:
    /// only bytes that are not a frame are a protocol error.
    pub(crate) fn run_parent(self: Arc<Self>, mut child: Started) {
        let read = self.read_frames();
        let cut = lock(&self.cut).take();
        let bad_bytes = matches!(
            read,
            Err(WireError::Malformed(_) | WireError::TooLarge(_) | WireError::Proxy(_))
        );
        if bad_bytes || cut.is_some() {
            let _ = child.kill();
        }
        self.shutdown();
        let status = match read {
            // The stream broke: the child is dying, or has died.
            Err(WireError::Io(_) | WireError::Truncated(_)) => reap_soon(&mut child),
            _ => child.wait(),
        };
        let error = match (cut, read, status) {
            (Some(why), _, _) => Err(why),
            (None, Err(error), _) if bad_bytes => Ok(OsProcessError::Protocol(error.to_string())),
            (None, _, Ok(status)) => Ok(OsProcessError::from_status(status)),
            (None, Ok(()), Err(error)) => Ok(OsProcessError::Protocol(format!(
                "waiting for the child failed: {error}"
            ))),
            (None, Err(error), Err(_)) => Ok(OsProcessError::Protocol(error.to_string())),
        };
        self.end_all(&error.map_or_else(|cut| cut, Exit::with_error));
        // Its place among the threads is free once `wait` returns.
        self.join_watcher();
        drop(child);
    }

    /// Waits for the watcher thread to end (after [`Conn::end_all`]).
    pub(crate) fn join_watcher(&self) {
        let watcher = lock(&self.watcher_thread).take();
        if let Some(watcher) = watcher {
            let _ = watcher.join();
        }
    }

    /// Child side: reads the parent's frames. At their end (the parent has
    /// gone), tells the process to end after what it has received, and the
    /// hook to exit once it has, or once `shutdown` has passed. At a frame
    /// it cannot read, tells the parent why its process ends, in place of
    /// the process's own end, and the hook to exit.
    pub(crate) fn run_child(self: Arc<Self>, shutdown: Duration) {
        match self.read_frames() {
            Ok(()) => {
                let main = self.main.get().map(|core| Pid::from_core(core.clone()));
                if let Some(main) = &main {
                    main.stop(Exit::with_error(OsProcessError::ParentEnded));
                    // The watcher tells the hook as soon as it ends.
                    let _ = main.wait_timeout(shutdown);
                }
                self.tell_done(ChildEnd::ParentGone);
            }
            Err(error) => {
                let exit = Exit::with_error(OsProcessError::Protocol(format!(
                    "the child OS process {} could not read its parent's frames: {error}",
                    self.node
                )));
                eprintln!("paragram: {exit}");
                *lock(&self.failed) = Some(exit);
                if let Some(watcher) = self.watcher.get() {
                    let _ = watcher.mailbox.push(Envelope::Run(Box::new(|_| {})));
                }
            }
        }
    }

    /// Tells the hook the child is to exit, unless told already.
    fn tell_done(&self, end: ChildEnd) {
        if let Some(done) = lock(&self.done).take() {
            let _ = done.send(end);
        }
    }

    /// Tells the peer of each export's end, in the order they end.
    fn watch_exports(self: Arc<Self>, core: Arc<Core>, mut inbox: Inbox<Envelope>) {
        become_watcher();
        loop {
            match inbox.recv(&core.mailbox) {
                Envelope::Exit { from, exit, .. } => {
                    let id = self.wire_id(from.core());
                    drop(from);
                    // What the process sent before it ended is queued
                    // already: this goes after.
                    self.send_frame(&Frame::Exited {
                        id,
                        exit: self.wire_exit(&exit),
                    });
                    if id == 0 {
                        // The child exits once told: everything goes out
                        // first.
                        self.out.flush_as_watcher();
                        self.tell_done(ChildEnd::Ended);
                    }
                }
                _ if self.closed.load(Ordering::SeqCst) => break,
                _ => {}
            }
            let failed = lock(&self.failed).take();
            if let Some(exit) = failed {
                self.send_frame(&Frame::Exited {
                    id: 0,
                    exit: self.wire_exit(&exit),
                });
                self.out.flush_as_watcher();
                self.tell_done(ChildEnd::Failed);
            }
            self.out.write_as_watcher();
        }
        exit_steps(&core, Exit::normal(), inbox, || {});
    }
}

/// Reaps a child whose connection broke: it is on its way out, and its
/// wait status says how it ended. One still running a second later is
/// killed, so that a broken connection never leaves a child behind.
fn reap_soon(child: &mut Started) -> std::io::Result<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    child.wait()
}

/// Whether `term` holds a process handle, at any depth.
fn names_a_process(term: &Term) -> bool {
    match term {
        Term::Pid(_) => true,
        Term::Tuple(_) | Term::List(_) | Term::Map(_) => term
            .pre_order()
            .any(|(_, term)| matches!(term, Term::Pid(_))),
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
        if target.core().route.get().is_some() {
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
    if let Some(proxy) = proxy_of(core) {
        let mut ended = lock(&proxy.ended);
        if ended.is_none() && core.exit().is_none() {
            *ended = Some(exit);
        }
    }
    let _ = core.mailbox.push(Envelope::Run(Box::new(|_| {})));
}

/// A proxy's driver: stands for the process until it ends, then runs the
/// exit steps. Messages and terminations sent to the proxy do not pass
/// through here: the sender queues them on the connection itself.
///
/// When the owner root ends, the process is told to end, after what was
/// sent to it; if it has not ended within its shutdown timeout, the
/// connection is cut, and the reader kills and reaps the child.
fn drive(core: Arc<Core>, mut inbox: Inbox<Envelope>, slot: Slot) {
    let Some(proxy) = proxy_of(&core) else {
        return;
    };
    let conn = &proxy.conn;
    let mut deadline = None;
    let exit = loop {
        if let Some(exit) = lock(&proxy.ended).take() {
            break exit;
        }
        let Some(envelope) = inbox.recv_until(&core.mailbox, deadline) else {
            if let Some((_, timeout)) = proxy.owner {
                *lock(&conn.cut) = Some(Exit::with_error(OsProcessError::ShutdownTimeout {
                    timeout,
                }));
            }
            conn.shutdown();
            deadline = None;
            continue;
        };
        match envelope {
            Envelope::Message(message) => {
                // Only a send that found no connection queues here; one
                // that cannot cross is dropped, as it would be there.
                let _ = conn.deliver(proxy.id, message.terms());
            }
            Envelope::Terminate(exit) => conn.terminate(proxy.id, &exit),
            // The owner root ended: the child is told to end, and given
            // its time. Other linked ends reach the peer through the
            // mirrored link.
            Envelope::Exit { from, .. } => {
                if let Some((owner, timeout)) = proxy.owner
                    && owner == from.id()
                    && deadline.is_none()
                {
                    conn.terminate(proxy.id, &Exit::with_error(OsProcessError::RootEnded));
                    // A timeout past the clock's end waits for good.
                    deadline = Instant::now().checked_add(timeout);
                }
            }
            Envelope::Unreachable => {
                if core.handles() == 0 && proxy.id == 0 && conn.side == Side::Parent {
                    let seen = conn.main_count.load(Ordering::SeqCst);
                    conn.send_frame(&Frame::Unreachable { seen });
                }
            }
            // A wake-up; groups never leave the inbox whole; a proxy
            // monitors nothing.
            Envelope::Run(_) | Envelope::Group(_) | Envelope::Down(_) | Envelope::Timeout(_) => {}
        }
    };
    // Its place among the threads is given back before `wait` returns: a
    // spawn after it finds the place.
    exit_steps(&core, exit, inbox, move || drop(slot));
}
