//! Where a process lives, when not in this program's memory: its core
//! here is a proxy, and its route carries what is sent and done to it to
//! where it runs. Each kind that runs processes elsewhere provides one;
//! nothing here knows which.

use std::sync::Arc;

use crate::exit::Exit;
use crate::message::Message;
use crate::pid::{Core, SendError};

/// How sends, stops and links reach a process that runs elsewhere.
pub(crate) trait Route: Send + Sync + 'static {
    /// Sends `message` to the process; hands it back if it cannot go.
    // The error hands the message back by value, as `Pid::send`'s does.
    #[allow(clippy::result_large_err)]
    fn send(&self, proxy: &Core, message: Message) -> Result<(), SendError<Message>>;

    /// Tells the process to end with `exit`, after what was sent before.
    fn stop(&self, proxy: &Core, exit: &Exit);

    /// Kills the process, before anything sent to it is handled.
    fn kill(&self, proxy: &Core);

    /// The program the process runs in, and its id there.
    fn home(&self) -> Home;

    /// Makes (`add`) or removes the link between the process and `other`
    /// where the process runs, as it was made here.
    fn mirror_link(&self, proxy: &Arc<Core>, other: &Arc<Core>, add: bool);

    /// Makes `watched` tell the process of its end, where the process runs.
    fn mirror_watch(&self, proxy: &Arc<Core>, watched: &Arc<Core>);

    /// The route itself, for its kind to find its own routes among others.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// A program that runs processes: this one, a child OS process, later a
/// node of a cluster. Its number is the OS pid of the program for now;
/// nothing reads it as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct NodeId(pub(crate) u64);

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl NodeId {
    /// This program.
    pub(crate) fn here() -> NodeId {
        NodeId(u64::from(std::process::id()))
    }
}

/// Where a process runs: its program, and its id there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Home {
    pub(crate) node: NodeId,
    pub(crate) id: u64,
}
