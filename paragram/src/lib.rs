//! paragram: Erlang-style processes for Rust.
//!
//! Processes share nothing and talk by messages: tuples of [`Term`]s sent to
//! a [`Pid`] and matched by pattern, by value and by type, against the
//! process's receivers. Links tie processes together: when one ends, every
//! process linked to it receives `(Exit, Pid)` and, unless a receiver
//! handles that, ends too. A failure is an exit value you can wait on,
//! match and recover from.
//!
//! ```
//! use paragram::{Ctx, Root, pattern};
//!
//! let root = Root::new();
//! let proc = root
//!     .spawn(|ctx: &mut Ctx| {
//!         println!("process started!");
//!         ctx.receive(pattern!("go away"), |ctx, ()| {
//!             println!("process ending.");
//!             ctx.terminate();
//!         })
//!     })
//!     .unwrap();
//! proc.send("go away").unwrap();
//! assert!(proc.wait().unwrap().is_normal());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod call;
mod ctx;
mod driver;
mod exit;
mod introspect;
mod kind;
mod link;
mod mailbox;
mod message;
mod monitors;
mod names;
mod pattern;
mod pid;
mod private;
mod process;
mod root;
mod route;
mod runner;
mod spawn;
pub mod supervisor;
mod sync;
mod term;
mod text;
mod threads;
mod timers;
mod wire;

pub use call::{CallError, CallFuture, ReplyTo};
pub use ctx::Ctx;
pub use driver::Kind;
pub use exit::{BoxError, Exit, Killed, LinkedExit, Panicked, SharedError, UnhandledMessage};
pub use introspect::{ProcessInfo, Status, graph, process_info, processes};
pub use kind::{LONG_SCHEDULE, set_scheduler_workers, system_monitor};
pub use message::{IntoMessage, Message};
pub use monitors::{Down, MonitorRef, NoProcess};
pub use names::{RegisterError, register, registered, send_named, unregister, whereis};
pub use paragram_derive::{Process, pattern, process, receive, term, test};
pub use pattern::*;
pub use pid::{Pid, ProcessId, SendError, SendFailure, WaitError, WaitFuture, WaitTimeoutError};
pub use process::{FnProcess, Handled, Outcome, Process};
pub use root::{ROOT_NAME, ReceiveError, Root, RootEnded, main};
pub use spawn::{DEFAULT_SHUTDOWN, IntoSpawn, MAX_NAME, Spawn, SpawnError};
pub use term::{Bytes, FromTerm, IntoTerm, Opaque, OpaqueValue, Term, TermMap, Terms};
pub use threads::thread_limit;
pub use timers::{ReceiveTimeout, TimerRef, cancel_timer, send_after, send_interval};

/// The OS-process kind: the hook a program calls first thing in `main` so
/// that it can run as a child OS process, and the errors a child's death
/// becomes.
pub mod os_process {
    pub use crate::exit::OsProcessError;
    pub use crate::kind::{Registry, hook};
    pub use crate::wire::{MAX_DEPTH, MAX_FRAME, RemoteError, WireError};

    #[doc(hidden)]
    pub use crate::wire::{frames_text, init_frame};

    /// Decodes `data` as a stream of frames, as a child's or parent's reader
    /// does; for the fuzz target. Never panics.
    #[doc(hidden)]
    pub fn fuzz_decode(data: &[u8]) {
        crate::wire::fuzz_decode(data)
    }
}

/// What the macros' generated code uses; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
