//! The child OS processes this program has started and not yet reaped. A
//! child OS process whose own process has ended waits for all of its
//! children to be reaped before it exits, so that it leaves no orphan.

use std::io;
use std::process::{Child, ExitStatus};
use std::sync::{Condvar, Mutex};

use crate::pid::lock;

/// How many children are started and not yet reaped.
static UNREAPED: Mutex<usize> = Mutex::new(0);
/// Notified as each is reaped.
static REAPED: Condvar = Condvar::new();

/// A child OS process, counted until it is reaped. Dropped unreaped, it is
/// killed and reaped then: it never outlives its handle as a zombie.
pub(crate) struct Started {
    child: Child,
}

impl Started {
    pub(crate) fn new(child: Child) -> Started {
        *lock(&UNREAPED) += 1;
        Started { child }
    }

    /// The child's OS pid.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Kills the child (`SIGKILL`); an error if it has already been reaped.
    pub(crate) fn kill(&mut self) -> io::Result<()> {
        self.child.kill()
    }

    /// Waits for the child to exit and reaps it.
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait()
    }

    /// The child's status if it has exited (reaping it), else `None`.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let mut unreaped = lock(&UNREAPED);
        *unreaped -= 1;
        if *unreaped == 0 {
            REAPED.notify_all();
        }
    }
}

/// Returns once every child this program has started is reaped.
pub(crate) fn wait_for_all() {
    let mut unreaped = lock(&UNREAPED);
    while *unreaped > 0 {
        unreaped = REAPED
            .wait(unreaped)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}
