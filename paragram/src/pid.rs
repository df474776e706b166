//! Process handles, and the state a process shares with them.

use std::borrow::Cow;
use std::cmp::Ordering as CmpOrdering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::driver;
use crate::exit::{BoxError, Exit};
use crate::link::Links;
use crate::mailbox::{Inbox, Mailbox, mailbox};
use crate::message::{IntoMessage, Message};
use crate::route::{Home, Route};
use crate::runner::{self, Envelope};

/// A handle to a process: cheap to clone, `Send + Sync`, compared and hashed
/// by the identity of the process.
///
/// A process that nothing reaches any more (no `Pid`, no link, no monitor
/// of another process's; a registered name and a pending timer hold a
/// `Pid`) ends normally once its mailbox is empty, like an actor whose
/// addresses are all gone. Keep a `Pid`, a link or a name for as long as a
/// process should live.
pub struct Pid {
    core: Arc<Core>,
}

/// Where a process is in its life, as its waiters see it.
#[derive(Default)]
struct Life {
    /// The exit value, recorded first thing on exit.
    exit: Option<Exit>,
    /// Set once every exit step is done: queue dropped, links told.
    finished: bool,
    /// How many threads wait for `finished`.
    waiters: usize,
    /// The tasks that wait for `finished` (`wait_async`), by the key of
    /// their future.
    wakers: Vec<(u64, std::task::Waker)>,
    /// Releases what drives the process (joins its thread); taken by the
    /// first waiter after `finished`.
    reap: Option<Box<dyn FnOnce() + Send>>,
}

/// The state of one process that its handles, its links and its driver share.
pub(crate) struct Core {
    pub(crate) id: u64,
    /// Shared with every `ProcessId` of it, so that naming the process (in
    /// a linked exit, say) copies nothing.
    pub(crate) name: Arc<str>,
    /// What its `Pid` prints before its name: its kind's name, or for a
    /// process of another program, what that program printed.
    pub(crate) tag: Cow<'static, str>,
    pub(crate) mailbox: Mailbox<Envelope>,
    pub(crate) links: Mutex<Links>,
    /// How many `Pid`s exist; the last one dropped tells the process.
    handles: AtomicUsize,
    /// Set by a kill: the process ends before it handles anything more.
    killed: AtomicBool,
    /// Set while the process's code runs (for introspection).
    pub(crate) running: AtomicBool,
    /// Its slot in the process tables (`introspect.rs`).
    pub(crate) listed: AtomicU32,
    life: Mutex<Life>,
    ended: Condvar,
    /// Set for a proxy: how a process that runs elsewhere is reached.
    pub(crate) route: OnceLock<Box<dyn Route>>,
    /// The root this process was spawned under (unset for a root).
    pub(crate) owner: OnceLock<Weak<Core>>,
}

/// Locks `mutex`, ignoring poisoning: no user code runs under these locks,
/// so a poisoned one only means a panic elsewhere in the same thread.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Core {
    /// A new process's core, with its mailbox, and the inbox that whatever
    /// drives the process reads it from. `owner` is the root it is spawned
    /// under.
    pub(crate) fn new(
        id: u64,
        name: Arc<str>,
        tag: impl Into<Cow<'static, str>>,
        owner: Option<&Arc<Core>>,
    ) -> (Arc<Core>, Inbox<Envelope>) {
        let (mailbox, inbox) = mailbox();
        let core = Arc::new(Core {
            id,
            name,
            tag: tag.into(),
            mailbox,
            links: Mutex::new(Links::default()),
            handles: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            running: AtomicBool::new(false),
            listed: AtomicU32::new(crate::introspect::UNLISTED),
            life: Mutex::new(Life::default()),
            ended: Condvar::new(),
            route: OnceLock::new(),
            owner: OnceLock::new(),
        });
        if let Some(owner) = owner {
            let root = owner
                .owner
                .get()
                .cloned()
                .unwrap_or_else(|| Arc::downgrade(owner));
            let _ = core.owner.set(root);
        }
        crate::introspect::enter(&core);
        (core, inbox)
    }

    /// The root this process was spawned under, if it still runs.
    pub(crate) fn owner(&self) -> Option<Arc<Core>> {
        self.owner.get().and_then(Weak::upgrade)
    }

    /// Writes `<#Thread: ponger [7]>`: tag, name and id.
    pub(crate) fn fmt_debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<#{}: {} [{}]>", self.tag, self.name, self.id)
    }

    /// How many `Pid`s to this process exist.
    pub(crate) fn handles(&self) -> usize {
        self.handles.load(Ordering::SeqCst)
    }

    /// Kills the process: it ends before it handles anything more, however
    /// much is queued. A send wakes it to see that.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        let _ = self.mailbox.push(Envelope::Run(Box::new(|_| {})));
    }

    /// Whether the process has been killed.
    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// The exit value, once recorded.
    pub(crate) fn exit(&self) -> Option<Exit> {
        lock(&self.life).exit.clone()
    }

    /// First exit step: record the exit value.
    pub(crate) fn record_exit(&self, exit: Exit) {
        lock(&self.life).exit = Some(exit);
    }

    /// Sets what releases the driver once the process has ended.
    pub(crate) fn set_reaper(&self, reap: Box<dyn FnOnce() + Send>) {
        lock(&self.life).reap = Some(reap);
    }

    /// Whether every exit step is done.
    pub(crate) fn is_finished(&self) -> bool {
        lock(&self.life).finished
    }

    /// Last exit step: wake everyone waiting.
    pub(crate) fn finish(&self) {
        crate::introspect::leave(self);
        let mut life = lock(&self.life);
        life.finished = true;
        let waiters = life.waiters;
        let wakers = std::mem::take(&mut life.wakers);
        drop(life);
        for (_, waker) in wakers {
            waker.wake();
        }
        // A wake-up is a system call; spare it when nobody waits.
        if waiters > 0 {
            self.ended.notify_all();
        }
    }

    /// Waits until the process has finished or `deadline` passes. The
    /// wait is a blocking call for the calling thread's kind, unless the
    /// process has finished already.
    fn wait_until(&self, deadline: Option<Instant>) -> Option<Exit> {
        if lock(&self.life).finished {
            self.wait_locked(deadline)
        } else {
            driver::blocking(|| self.wait_locked(deadline))
        }
    }

    /// The exit if the process has finished (its driver released);
    /// otherwise `waker` is woken when it has.
    fn poll_finished(&self, key: u64, waker: &std::task::Waker) -> Option<Exit> {
        let mut life = lock(&self.life);
        if !life.finished {
            match life.wakers.iter_mut().find(|(k, _)| *k == key) {
                Some((_, known)) if known.will_wake(waker) => {}
                Some((_, known)) => *known = waker.clone(),
                None => life.wakers.push((key, waker.clone())),
            }
            return None;
        }
        Some(Core::reap(life).unwrap_or_default())
    }

    /// The exit of a process that has finished, its driver released
    /// first if nobody has yet.
    fn reap(mut life: MutexGuard<'_, Life>) -> Option<Exit> {
        let exit = life.exit.clone();
        let reap = life.reap.take();
        drop(life);
        if let Some(reap) = reap {
            reap();
        }
        exit
    }

    fn wait_locked(&self, deadline: Option<Instant>) -> Option<Exit> {
        let mut life = lock(&self.life);
        while !life.finished {
            let left = match deadline {
                None => None,
                Some(deadline) => Some(deadline.checked_duration_since(Instant::now())?),
            };
            life.waiters += 1;
            life = match left {
                None => self
                    .ended
                    .wait(life)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    self.ended
                        .wait_timeout(life, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            life.waiters -= 1;
        }
        Core::reap(life)
    }
}

/// A number no other process of this program has.
pub(crate) fn next_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl Pid {
    /// A new handle to `core`.
    pub(crate) fn from_core(core: Arc<Core>) -> Pid {
        core.handles.fetch_add(1, Ordering::SeqCst);
        Pid { core }
    }

    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Sends `message`; on a dead process, hands it back in the error.
    ///
    /// ```
    /// let root = paragram::Root::new();
    /// let pid = root.spawn(|_ctx: &mut paragram::Ctx| {}).unwrap();
    /// pid.terminate();
    /// pid.wait().unwrap();
    /// let err = pid.send(("hello", 1)).unwrap_err();
    /// assert_eq!(format!("{:?}", err.into_inner()), r#"("hello", 1)"#);
    /// ```
    // The error hands the message back by value, as crossbeam's does; the
    // reason adds a word to it.
    #[allow(clippy::result_large_err)]
    pub fn send(&self, message: impl IntoMessage) -> Result<(), SendError<Message>> {
        let message = message.into_message();
        if let Some(route) = self.core.route.get() {
            return route.send(&self.core, message);
        }
        self.core
            .mailbox
            .push(Envelope::Message(message))
            .map_err(|envelope| match envelope {
                Envelope::Message(message) => SendError::ended(message),
                _ => SendError::ended(Message::new(Vec::new())),
            })
    }

    /// Kills the process, as Erlang's `exit(Pid, kill)`: it ends with
    /// [`Killed`](crate::Killed) before it handles anything more, whatever
    /// is queued and whatever its receivers; links and monitors hear
    /// `killed`. A handler that is running finishes first (a thread cannot
    /// be stopped from outside in safe Rust): a process stuck in one is
    /// killed when it returns. An OS process is killed at once (`SIGKILL`)
    /// and reaped. Does nothing to a dead process.
    pub fn kill(&self) {
        match self.core.route.get() {
            Some(route) => route.kill(&self.core),
            None => self.core.kill(),
        }
    }

    /// Ends the process normally once it has handled the messages already
    /// sent to it. Does nothing to a dead process.
    pub fn terminate(&self) {
        self.stop(Exit::normal());
    }

    /// Ends the process with `reason` once it has handled the messages
    /// already sent to it. Does nothing to a dead process.
    pub fn terminate_with(&self, reason: impl Into<BoxError>) {
        self.stop(Exit::with_error(reason));
    }

    /// Ends the process with `exit` once it has handled what was sent
    /// before; for a process of another OS process, on the connection, in
    /// order with the messages sent to it.
    pub(crate) fn stop(&self, exit: Exit) {
        if let Some(route) = self.core.route.get() {
            return route.stop(&self.core, &exit);
        }
        // A closed mailbox means the process has already ended.
        let _ = self.core.mailbox.push(Envelope::Terminate(exit));
    }

    /// Waits for the process to end and returns its exit value.
    ///
    /// A process cannot wait for its own end (its code would wait for
    /// itself to finish): called from the process's own code, `wait`
    /// returns [`WaitError::OwnProcess`] at once.
    ///
    /// ```
    /// use paragram::{Ctx, Root, WaitError, pattern};
    /// let root = Root::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let pid = root
    ///     .spawn(move |ctx: &mut Ctx| {
    ///         ctx.receive(pattern!("wait"), move |ctx, ()| {
    ///             tx.send(ctx.me().wait()).unwrap();
    ///         })
    ///     })
    ///     .unwrap();
    /// pid.send("wait").unwrap();
    /// let own = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    /// assert_eq!(own.unwrap_err(), WaitError::OwnProcess);
    /// pid.terminate();
    /// assert!(pid.wait().unwrap().is_normal());
    /// ```
    pub fn wait(&self) -> Result<Exit, WaitError> {
        if runner::current() == Some(self.core.id) {
            return Err(WaitError::OwnProcess);
        }
        Ok(self.core.wait_until(None).unwrap_or_default())
    }

    /// [`Pid::wait`] as a future, for `async` code: it never blocks its
    /// executor's thread and needs no particular runtime. From the
    /// process's own code it would never be ready; there is no `await`
    /// there.
    ///
    /// ```
    /// # use paragram::Root;
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl std::task::Wake for Unpark { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) { return out; } std::thread::park(); }
    /// # }
    /// let root = Root::new();
    /// let pid = root.spawn(|ctx: &mut paragram::Ctx| ctx.terminate()).unwrap();
    /// let exit = block_on(pid.wait_async());
    /// assert!(exit.is_normal());
    /// ```
    pub fn wait_async(&self) -> WaitFuture {
        WaitFuture {
            pid: self.clone(),
            key: next_id(),
        }
    }

    /// Waits up to `timeout` for the process to end and returns its exit
    /// value; [`WaitTimeoutError::Timeout`] if it has not ended by then,
    /// [`WaitTimeoutError::OwnProcess`] at once from the process's own code.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Exit, WaitTimeoutError> {
        if runner::current() == Some(self.core.id) {
            return Err(WaitTimeoutError::OwnProcess);
        }
        self.core
            // A timeout past the clock's end is no timeout.
            .wait_until(Instant::now().checked_add(timeout))
            .ok_or(WaitTimeoutError::Timeout)
    }

    /// Whether the process has not yet ended.
    pub fn is_alive(&self) -> bool {
        lock(&self.core.life).exit.is_none()
    }

    /// The exit value, or `None` while the process is alive.
    pub fn exit(&self) -> Option<Exit> {
        self.core.exit()
    }

    /// The process's name: the one given at spawn, else `<Kind>-<n>`.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// A number no other process of this program has.
    pub fn id(&self) -> u64 {
        self.core.id
    }

    /// How many messages wait in the process's mailbox. A busy process
    /// takes a backlog in batches; messages it has taken but not yet
    /// handled are not counted.
    pub fn mailbox_len(&self) -> usize {
        self.core.mailbox.len()
    }
}

/// The future of [`Pid::wait_async`]: the process's exit value.
pub struct WaitFuture {
    pid: Pid,
    /// Tells its waker apart from other futures'.
    key: u64,
}

impl Drop for WaitFuture {
    fn drop(&mut self) {
        let waker = {
            let mut life = lock(&self.pid.core.life);
            let at = life.wakers.iter().position(|(k, _)| *k == self.key);
            at.map(|at| life.wakers.swap_remove(at))
        };
        drop(waker);
    }
}

impl std::future::Future for WaitFuture {
    type Output = Exit;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Exit> {
        match self.pid.core.poll_finished(self.key, cx.waker()) {
            Some(exit) => std::task::Poll::Ready(exit),
            None => std::task::Poll::Pending,
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        // A process that never ran is forgotten here; one that ran was
        // at its end.
        crate::introspect::leave(self);
    }
}

impl Clone for Pid {
    fn clone(&self) -> Pid {
        Pid::from_core(self.core.clone())
    }
}

impl Drop for Pid {
    fn drop(&mut self) {
        if self.core.handles.fetch_sub(1, Ordering::SeqCst) == 1 {
            // Tell the process nobody can reach it any more; it decides
            // once it has handled what is queued. Closed: already ended.
            let _ = self.core.mailbox.push(Envelope::Unreachable);
        }
    }
}

impl PartialEq for Pid {
    fn eq(&self, other: &Pid) -> bool {
        self.core.id == other.core.id
    }
}

impl Eq for Pid {}

impl Hash for Pid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.core.id.hash(state);
    }
}

impl PartialOrd for Pid {
    fn partial_cmp(&self, other: &Pid) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pid {
    fn cmp(&self, other: &Pid) -> CmpOrdering {
        self.core.id.cmp(&other.core.id)
    }
}

impl fmt::Display for Pid {
    /// The process's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.core.name)
    }
}

impl fmt::Debug for Pid {
    /// `<#Thread: ponger [7]>`: kind, name and id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt_debug(f)
    }
}

/// Who a process is, without a handle to it: its id, name and tag. Equal
/// to the process's [`Pid`]; prints like it. Keeping one keeps nothing of
/// the process alive, so exit values that name processes (a chain of
/// [`LinkedExit`](crate::LinkedExit)s) never hold a chain of processes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId {
    id: u64,
    tag: Cow<'static, str>,
    name: Arc<str>,
    /// For a process of another program: that program, and the process's
    /// id there.
    home: Option<Home>,
}

impl ProcessId {
    pub(crate) fn new(id: u64, tag: impl Into<Cow<'static, str>>, name: String) -> ProcessId {
        ProcessId {
            id,
            tag: tag.into(),
            name: name.into(),
            home: None,
        }
    }

    /// The identity of the process `core` runs.
    pub(crate) fn of_core(core: &Core) -> ProcessId {
        ProcessId {
            id: core.id,
            tag: core.tag.clone(),
            name: core.name.clone(),
            home: core.route.get().map(|route| route.home()),
        }
    }

    /// This identity, for a process that runs at `home`.
    pub(crate) fn at_home(self, home: Home) -> ProcessId {
        ProcessId {
            home: Some(home),
            ..self
        }
    }

    /// For a process of another program: where it runs.
    pub(crate) fn home(&self) -> Option<Home> {
        self.home
    }

    /// What the process's `Pid` prints before its name.
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }

    /// The process's id, as [`Pid::id`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The process's name, as [`Pid::name`].
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl From<&Pid> for ProcessId {
    fn from(pid: &Pid) -> ProcessId {
        ProcessId::of_core(&pid.core)
    }
}

impl PartialEq<Pid> for ProcessId {
    fn eq(&self, pid: &Pid) -> bool {
        self.id == pid.core.id
    }
}

impl PartialEq<ProcessId> for Pid {
    fn eq(&self, id: &ProcessId) -> bool {
        self.core.id == id.id
    }
}

impl fmt::Display for ProcessId {
    /// The process's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for ProcessId {
    /// `<#Thread: ponger [7]>`, as the process's `Pid` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<#{}: {} [{}]>", self.tag, self.name, self.id)
    }
}

/// Why [`Pid::wait`] returned no exit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The caller is the process's own code, which the process needs to
    /// return before it can end.
    #[error("a process cannot wait for its own end")]
    OwnProcess,
}

/// Why [`Pid::wait_timeout`] returned no exit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WaitTimeoutError {
    /// The process had not ended when the timeout passed.
    #[error("the process did not end within the timeout")]
    Timeout,
    /// The caller is the process's own code, which the process needs to
    /// return before it can end.
    #[error("a process cannot wait for its own end")]
    OwnProcess,
}

impl From<WaitError> for WaitTimeoutError {
    fn from(error: WaitError) -> WaitTimeoutError {
        match error {
            WaitError::OwnProcess => WaitTimeoutError::OwnProcess,
        }
    }
}

/// A send that failed; holds the message, handed back.
///
/// It is an error like any other, `Send + Sync` whatever the message
/// holds, so `?` turns it into a handler's `Box<dyn Error + Send + Sync>`
/// (or any error type with a `From` for it):
///
/// ```
/// use paragram::{BoxError, Ctx, Pid, Root, pattern};
/// let root = Root::new();
/// let relay = root
///     .spawn(|ctx: &mut Ctx| {
///         ctx.receive(pattern!(Pid), |_, (to,): (Pid,)| -> Result<(), BoxError> {
///             to.send("relayed")?;
///             Ok(())
///         })
///     })
///     .unwrap();
/// # relay.terminate();
/// ```
#[derive(Error)]
#[error("{reason}")]
pub struct SendError<T> {
    /// Behind a lock that is never taken, only so that the error is `Sync`
    /// (an opaque value in a message need not be): the message is only
    /// ever reached by value.
    message: Mutex<T>,
    reason: SendFailure,
}

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SendFailure {
    /// The process has ended.
    #[error("sending to a process that has ended")]
    Ended,
    /// No process is registered under the name sent to
    /// ([`send_named`](crate::send_named)).
    #[error("sending to a name no process is registered under")]
    NotRegistered,
    /// The process runs in another OS process and the message's element at
    /// this index (counting from 0) holds an opaque value, which has no
    /// serialized form.
    #[error(
        "cannot send to an OS process: message element {element} holds an opaque value, which cannot be serialized"
    )]
    Unserializable {
        /// The index of the element, from 0 (a message has at most a few).
        element: u32,
    },
    /// The process runs in another OS process and the message's element at
    /// this index nests tuples, lists and maps deeper than the
    /// [`MAX_DEPTH`](crate::os_process::MAX_DEPTH) levels a message can
    /// cross with.
    #[error(
        "cannot send to an OS process: message element {element} nests tuples, lists and maps deeper than {most} levels"
    )]
    TooDeep {
        /// The index of the element, from 0.
        element: u32,
        /// The most levels a message can cross with.
        most: u32,
    },
    /// The process runs in another OS process and the message encodes to
    /// more than the [`MAX_FRAME`](crate::os_process::MAX_FRAME) bytes a
    /// frame carries.
    #[error(
        "cannot send to an OS process: the message encodes to {bytes} bytes, more than the {most} a frame carries"
    )]
    TooLarge {
        /// How many bytes the message encodes to.
        bytes: u64,
        /// The most a frame carries.
        most: u64,
    },
}

impl<T> SendError<T> {
    pub(crate) fn ended(message: T) -> SendError<T> {
        SendError::new(message, SendFailure::Ended)
    }

    pub(crate) fn new(message: T, reason: SendFailure) -> SendError<T> {
        SendError {
            message: Mutex::new(message),
            reason,
        }
    }

    /// The message that was not delivered.
    pub fn into_inner(self) -> T {
        self.message
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the send failed.
    pub fn reason(&self) -> SendFailure {
        self.reason
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendError {{ reason: {:?}, .. }}", self.reason)
    }
}
