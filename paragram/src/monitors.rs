//! Monitors, as Erlang's: one way, any number per pair, each with a
//! reference of its own; when the monitored process ends, the monitoring
//! one receives a [`Down`] message carrying the reference, the process and
//! its exit. A monitor never ends the process that holds it (a `Down`
//! nobody receives is an unhandled message, as any other).
//!
//! Both sides keep the monitor, in their links (`link.rs`): the monitored
//! process, to know whom to tell; the monitoring one, to find the
//! monitored process when it demonitors, and to drop a `Down` that a
//! demonitor with flush has taken back.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::exit::Exit;
use crate::link;
use crate::pid::{Core, Pid, next_id};
use crate::term::Opaque;

/// A monitor's reference: what [`Ctx::monitor`](crate::Ctx::monitor)
/// returns and its [`Down`] carries. Unique in the program.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorRef(pub(crate) u64);

impl fmt::Debug for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<{}>", self.0)
    }
}

/// What a monitoring process receives when the process it monitors ends,
/// as Erlang's `{'DOWN', Ref, process, Pid, Reason}`: a one-element
/// message, matched by type.
///
/// ```
/// use paragram::{Down, Root, Spawn, pattern};
/// let root = Root::new();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let watcher = root
///     .spawn(Spawn::from_fn(move |ctx| {
///         let worker = ctx.spawn(|_: &mut paragram::Ctx| {})?;
///         let reference = ctx.monitor(&worker);
///         ctx.receive(pattern!(Down), move |_, (down,): (Down,)| {
///             assert_eq!(down.reference, reference);
///             let _ = tx.send(down.exit.is_normal());
///         })?;
///         worker.terminate();
///         Ok::<(), paragram::BoxError>(())
///     }))
///     .unwrap();
/// assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)), Ok(true));
/// # watcher.terminate();
/// ```
#[derive(Debug)]
pub struct Down {
    /// The monitor's reference.
    pub reference: MonitorRef,
    /// The process that ended.
    pub pid: Pid,
    /// How it ended; [`NoProcess`] if it had ended before it was monitored.
    pub exit: Exit,
}

impl Opaque for Down {}

/// The exit a [`Down`] carries when the process had already ended when it
/// was monitored, as Erlang's `noproc`; it holds the exit it had ended
/// with.
#[derive(Debug, Clone, Error)]
#[error("no process: it had ended ({exit})")]
pub struct NoProcess {
    /// How the process had ended.
    pub exit: Exit,
}

/// Makes `watcher` monitor `target`, and returns the reference. A target
/// that has ended is reported at once, with [`NoProcess`].
pub(crate) fn monitor(watcher: &Arc<Core>, target: &Arc<Core>) -> MonitorRef {
    let reference = MonitorRef(next_id());
    if !link::add_monitor(watcher, target, reference) {
        let exit = Exit::with_own_error(NoProcess {
            exit: target.exit().unwrap_or_default(),
        });
        deliver(watcher, target, reference, exit);
    }
    reference
}

/// Ends the monitor `reference` of `watcher`'s: true if it was active (no
/// `Down` comes for it). With `flush`, a `Down` already on its way is
/// dropped unseen; without, it is received.
pub(crate) fn demonitor(watcher: &Arc<Core>, reference: MonitorRef, flush: bool) -> bool {
    link::remove_monitor(watcher, reference, flush)
}

/// Tells `watcher` that `ended` has ended with `exit`, for `reference`.
pub(crate) fn deliver(watcher: &Arc<Core>, ended: &Arc<Core>, reference: MonitorRef, exit: Exit) {
    let down = Down {
        reference,
        pid: Pid::from_core(ended.clone()),
        exit,
    };
    // A closed mailbox: the watcher has ended too and needs no news.
    let _ = watcher.mailbox.push(crate::runner::Envelope::Down(down));
}
