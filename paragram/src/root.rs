//! The root process: the process top-level code spawns from, receives
//! linked exits in and waits on.

use std::ops::Deref;
use std::sync::OnceLock;

use thiserror::Error;

use crate::ctx::Ctx;
use crate::driver::Kind;
use crate::pattern::{FromBindings, IntoPattern, PatternError};
use crate::pid::Pid;
use crate::process::Outcome;
use crate::runner::Envelope;
use crate::spawn::{self, IntoSpawn, Spawn, SpawnError};

/// The name of every root process.
pub const ROOT_NAME: &str = "__main__";

/// A root process: a process of the thread kind named `__main__`, driven by
/// its own thread, that top-level code spawns from, registers receivers on
/// and waits on. It dereferences to its [`Pid`].
///
/// Each `Root` is independent, so parallel tests each take their own;
/// [`main`] is one shared by the whole program, like the original's
/// `paragram.main`. Like any process, a root ends when a linked process
/// ends and no receiver handles the `(Exit, Pid)` notification, and every
/// process linked to it then ends too. Dropping a `Root` ends it normally
/// once what is queued has been handled, as a `terminate` does (whatever
/// other handles or links it has), taking its linked processes with it.
///
/// ```
/// use paragram::{Ctx, Root, pattern};
/// let root = Root::new();
/// let child = root
///     .spawn_link(|ctx: &mut Ctx| {
///         ctx.receive(pattern!("stop"), |ctx, ()| ctx.terminate())
///     })
///     .unwrap();
/// child.send("stop").unwrap();
/// assert!(child.wait().unwrap().is_normal());
/// // The root's default receiver ends it when a linked process ends.
/// assert!(root.wait().unwrap().error().is_some());
/// ```
pub struct Root {
    pid: Pid,
    /// The kind of what the root spawns, unless a spawn says.
    kind: Kind,
}

impl Drop for Root {
    fn drop(&mut self) {
        self.pid.terminate();
    }
}

impl Root {
    /// Starts a new, independent root process.
    ///
    /// # Panics
    ///
    /// If the root's thread cannot start: the program is at its
    /// [`thread_limit`](crate::thread_limit), or the operating system
    /// refuses a thread. [`Root::try_new`] returns the error instead.
    pub fn new() -> Root {
        Root::try_new().unwrap_or_else(|error| panic!("cannot start the root process: {error}"))
    }

    /// Starts a new, independent root process, or says why it cannot.
    pub fn try_new() -> Result<Root, SpawnError> {
        Root::try_with_kind(Kind::default())
    }

    /// A new root whose default kind is `kind`: what it spawns, and what
    /// those spawn in turn, runs on `kind` unless a spawn says otherwise.
    /// The root itself runs on a thread of its own.
    ///
    /// ```
    /// use paragram::{Kind, Root, Spawn, pattern};
    /// let root = Root::with_kind(Kind::SCHEDULER);
    /// let worker = root
    ///     .spawn(Spawn::from_fn(|ctx| ctx.receive(pattern!("ping"), |_, ()| {})))
    ///     .unwrap();
    /// assert!(worker.name().starts_with("Scheduler-"));
    /// # worker.terminate();
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Root::new`]; [`Root::try_with_kind`] returns the error instead.
    pub fn with_kind(kind: Kind) -> Root {
        Root::try_with_kind(kind)
            .unwrap_or_else(|error| panic!("cannot start the root process: {error}"))
    }

    /// A new root whose default kind is `kind`, as [`Root::with_kind`], or
    /// why it cannot start.
    pub fn try_with_kind(kind: Kind) -> Result<Root, SpawnError> {
        let spawn = Spawn::new(|_: &mut Ctx| {})
            .name(ROOT_NAME)
            .kind(Kind::OWN_THREAD);
        let pid = spawn::spawn(spawn, None, None, kind)?;
        for each in Kind::ALL {
            each.driver().root_made(pid.core());
        }
        Ok(Root { pid, kind })
    }

    /// The root's handle.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// Spawns a process, not linked to the root; [`SpawnError::RootEnded`]
    /// once the root has ended.
    pub fn spawn(&self, process: impl IntoSpawn) -> Result<Pid, SpawnError> {
        spawn::spawn(process.into_spawn(), None, Some(self.pid.core()), self.kind)
    }

    /// Spawns a process linked both ways to the root;
    /// [`SpawnError::RootEnded`] once the root has ended.
    pub fn spawn_link(&self, process: impl IntoSpawn) -> Result<Pid, SpawnError> {
        spawn::spawn(
            process.into_spawn(),
            Some(self.pid.core()),
            Some(self.pid.core()),
            self.kind,
        )
    }

    /// Links the root both ways to `pid`; [`RootEnded`] once the root has
    /// ended (a link would only deliver the root's end to `pid`).
    pub fn link(&self, pid: &Pid) -> Result<(), RootEnded> {
        if !self.pid.is_alive() {
            return Err(RootEnded);
        }
        crate::link::link(self.pid.core(), pid.core());
        Ok(())
    }

    /// Removes the root's link to `pid`, as [`Ctx::unlink`] does: once it
    /// returns, the link has no further effect.
    pub fn unlink(&self, pid: &Pid) {
        crate::link::unlink(self.pid.core(), pid.core());
    }

    /// Makes the root monitor `pid`, as [`Ctx::monitor`] does: the root
    /// receives its [`Down`](crate::Down), on its own thread.
    pub fn monitor(&self, pid: &Pid) -> crate::MonitorRef {
        crate::monitors::monitor(self.pid.core(), pid.core())
    }

    /// Ends the root's monitor `reference`, as [`Ctx::demonitor`] does.
    pub fn demonitor(&self, reference: crate::MonitorRef) -> bool {
        crate::monitors::demonitor(self.pid.core(), reference, false)
    }

    /// Ends the root's monitor `reference` and drops its `Down` if one is
    /// on its way, as [`Ctx::demonitor_flush`] does.
    pub fn demonitor_flush(&self, reference: crate::MonitorRef) -> bool {
        crate::monitors::demonitor(self.pid.core(), reference, true)
    }

    /// Registers a receiver on the root, as [`Ctx::receive`] does; its
    /// handler runs on the root's thread, from the next message the root
    /// takes after this call. [`ReceiveError::RootEnded`] once the root
    /// has ended: no handler would ever run.
    pub fn receive<A, R>(
        &self,
        pattern: impl IntoPattern<A>,
        handler: impl FnMut(&mut Ctx, A) -> R + Send + 'static,
    ) -> Result<(), ReceiveError>
    where
        A: FromBindings + 'static,
        R: Outcome + 'static,
    {
        let pattern = pattern.into_pattern()?;
        self.run(move |ctx| {
            // Checked above: registration cannot fail.
            let _ = ctx.receive(pattern, handler);
        })
    }

    /// Runs `code` on the root's thread, in the order of its mailbox.
    fn run(&self, code: impl FnOnce(&mut Ctx) + Send + 'static) -> Result<(), ReceiveError> {
        self.pid
            .core()
            .mailbox
            .push(Envelope::Run(Box::new(code)))
            .map_err(|_| ReceiveError::RootEnded)
    }
}

/// The root has ended: it links, spawns and receives no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the root process has ended")]
pub struct RootEnded;

/// Why [`Root::receive`] registered nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The handler's arguments do not fit the pattern's bindings.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// The root has ended.
    #[error("the root process has ended")]
    RootEnded,
}

impl Default for Root {
    fn default() -> Root {
        Root::new()
    }
}

impl Deref for Root {
    type Target = Pid;

    fn deref(&self) -> &Pid {
        &self.pid
    }
}

/// The program's shared root process, started on first use. Once it has
/// ended (a linked process ended, and nothing handled it), it stays ended:
/// spawning from it, linking it and registering receivers on it return
/// errors.
///
/// # Panics
///
/// On first use, if the root cannot start (see [`Root::new`]).
pub fn main() -> &'static Root {
    static MAIN: OnceLock<Root> = OnceLock::new();
    MAIN.get_or_init(Root::new)
}
