//! `?` turns every error paragram returns into a handler's `BoxError`, or
//! into a user's own error type with a `From` for it; a message holding an
//! opaque value (which need not be `Sync`) included.

use std::cell::Cell;
use std::fmt;

use paragram::{
    BoxError, Ctx, Message, Opaque, Pid, Process, Root, SendError, SpawnError, pattern,
};

/// Opaque, and neither `Sync` nor `Clone`.
struct Token(Cell<u8>);
impl Opaque for Token {}

#[derive(Process)]
struct Relay;

#[paragram::process]
impl Relay {
    #[receive("relay", Pid)]
    fn relay(&mut self, ctx: &mut Ctx, to: Pid) -> Result<(), BoxError> {
        to.send("hello")?;
        to.send(("token", Token(Cell::new(1))))?;
        let child = ctx.spawn_link(|_: &mut Ctx| {})?;
        ctx.receive(pattern!("late"), |_, ()| {})?;
        child.terminate();
        Ok(())
    }
}

fn from_the_top() -> Result<(), BoxError> {
    let root = Root::try_new()?;
    let relay = root.spawn(Relay)?;
    root.link(&relay)?;
    root.receive(pattern!("hello"), |_, ()| {})?;
    relay.terminate();
    let exit = relay.wait()?;
    let again = relay.wait_timeout(std::time::Duration::ZERO)?;
    assert_eq!(exit.to_string(), again.to_string());
    Ok(())
}

/// A user's own error, converted into with `From`.
#[derive(Debug)]
enum AppError {
    Send(SendError<Message>),
    Spawn(SpawnError),
}

impl From<SendError<Message>> for AppError {
    fn from(error: SendError<Message>) -> AppError {
        AppError::Send(error)
    }
}

impl From<SpawnError> for AppError {
    fn from(error: SpawnError) -> AppError {
        AppError::Spawn(error)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Send(error) => write!(f, "send: {error}"),
            AppError::Spawn(error) => write!(f, "spawn: {error}"),
        }
    }
}

impl std::error::Error for AppError {}

fn with_its_own_error(root: &Root) -> Result<(), AppError> {
    let pid = root.spawn(|_: &mut Ctx| {})?;
    pid.send(1)?;
    Ok(())
}

fn main() {
    let _ = from_the_top;
    let _ = with_its_own_error;
}
