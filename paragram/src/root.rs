//! The root process: the process top-level code spawns from, receives
//! linked exits in and waits on.

use std::ops::Deref;
use std::sync::OnceLock;

use crate::ctx::Ctx;
use crate::pattern::{FromBindings, Pattern, PatternError};
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
/// process linked to it then ends too. Dropping a `Root` drops its last
/// handle: it ends normally, taking its linked processes with it.
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
/// assert!(child.wait().is_normal());
/// // The root's default receiver ends it when a linked process ends.
/// assert!(root.wait().error().is_some());
/// ```
pub struct Root {
    pid: Pid,
}

impl Root {
    /// Starts a new, independent root process.
    pub fn new() -> Root {
        crate::kind::os_process::refuse_without_hook();
        let spawn = Spawn::new(|_: &mut Ctx| {}).name(ROOT_NAME);
        match spawn::spawn(spawn, None, None) {
            Ok(pid) => Root { pid },
            // Without a root there is nothing to run processes from; this
            // only happens when the program is out of threads.
            Err(error) => panic!("cannot start the root process: {error}"),
        }
    }

    /// The root's handle.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// Spawns a process, not linked to the root.
    pub fn spawn(&self, process: impl IntoSpawn) -> Result<Pid, SpawnError> {
        spawn::spawn(process.into_spawn(), None, Some(self.pid.core()))
    }

    /// Spawns a process linked both ways to the root.
    pub fn spawn_link(&self, process: impl IntoSpawn) -> Result<Pid, SpawnError> {
        spawn::spawn(
            process.into_spawn(),
            Some(self.pid.core()),
            Some(self.pid.core()),
        )
    }

    /// Links the root both ways to `pid`.
    pub fn link(&self, pid: &Pid) {
        crate::link::link(self.pid.core(), pid.core());
    }

    /// Registers a receiver on the root, as [`Ctx::receive`] does; its
    /// handler runs on the root's thread, from the next message the root
    /// takes after this call.
    pub fn receive<A, R>(
        &self,
        pattern: Pattern,
        handler: impl FnMut(&mut Ctx, A) -> R + Send + 'static,
    ) -> Result<(), PatternError>
    where
        A: FromBindings + 'static,
        R: Outcome + 'static,
    {
        A::check(&pattern)?;
        self.run(move |ctx| {
            // Checked above: registration cannot fail.
            let _ = ctx.receive(pattern, handler);
        });
        Ok(())
    }

    /// Runs `code` on the root's thread, in the order of its mailbox.
    fn run(&self, code: impl FnOnce(&mut Ctx) + Send + 'static) {
        // A root that has ended runs nothing more.
        let _ = self.pid.core().mailbox.push(Envelope::Run(Box::new(code)));
    }
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

/// The program's shared root process, started on first use.
pub fn main() -> &'static Root {
    static MAIN: OnceLock<Root> = OnceLock::new();
    MAIN.get_or_init(Root::new)
}
