//! What a process is, independent of what drives it: start-up code and a
//! dispatch from messages to handlers.

use crate::ctx::Ctx;
use crate::exit::{BoxError, Exit};
use crate::message::Message;
use crate::spawn::{IntoSpawn, Spawn};

/// A process's logic: its start-up code and its dispatch. `#[derive(Process)]`
/// with `#[paragram::process]` writes this for a struct; a closure passed to
/// `spawn` is one too, registering runtime receivers in its start-up code.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a process",
    note = "write its receivers in an `impl` block marked `#[paragram::process]`"
)]
pub trait Process: Send + 'static {
    /// Runs once, before the first message. An error ends the process.
    fn start(&mut self, ctx: &mut Ctx) -> Result<(), Exit> {
        let _ = ctx;
        Ok(())
    }

    /// Handles `message` if one of the process's own receivers matches it,
    /// or hands it back for the runtime receivers and the defaults.
    fn handle(&mut self, ctx: &mut Ctx, message: Message) -> Handled;
}

/// What [`Process::handle`] did with a message.
pub enum Handled {
    /// A receiver matched and ran; `Err` ends the process at once.
    Done(Result<(), Exit>),
    /// No receiver matched; the message is handed back.
    Unmatched(Message),
}

/// What a handler or start-up code may return: `()`, or a `Result<(), E>`
/// whose error ends the process.
#[diagnostic::on_unimplemented(
    message = "expected `()` or `Result<(), E>` with `E` an error, found `{Self}`",
    note = "`E` must convert into `Box<dyn Error + Send + Sync>`"
)]
pub trait Outcome {
    /// `Err` with the exit the process ends with, if any.
    fn into_exit(self) -> Result<(), Exit>;
}

impl Outcome for () {
    fn into_exit(self) -> Result<(), Exit> {
        Ok(())
    }
}

impl<E: Into<BoxError>> Outcome for Result<(), E> {
    fn into_exit(self) -> Result<(), Exit> {
        self.map_err(Exit::with_error)
    }
}

/// A process made of a start-up closure; its receivers are the runtime
/// receivers the closure registers.
pub struct FnProcess<F> {
    start: Option<F>,
}

impl<F> FnProcess<F> {
    /// The process whose start-up code is `start`.
    pub(crate) fn new(start: F) -> FnProcess<F> {
        FnProcess { start: Some(start) }
    }
}

impl<F, R> Process for FnProcess<F>
where
    F: FnOnce(&mut Ctx) -> R + Send + 'static,
    R: Outcome,
{
    fn start(&mut self, ctx: &mut Ctx) -> Result<(), Exit> {
        match self.start.take() {
            Some(start) => start(ctx).into_exit(),
            None => Ok(()),
        }
    }

    fn handle(&mut self, _ctx: &mut Ctx, message: Message) -> Handled {
        Handled::Unmatched(message)
    }
}

impl<F, R> IntoSpawn for F
where
    F: FnOnce(&mut Ctx) -> R + Send + 'static,
    R: Outcome,
{
    fn into_spawn(self) -> Spawn {
        Spawn::process(FnProcess { start: Some(self) })
    }
}
