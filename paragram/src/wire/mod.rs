//! The wire: messages, exits and process handles as they cross an
//! OS-process boundary, and the length-prefixed frames that carry them.
//!
//! A frame is a 4-byte little-endian length followed by that many bytes of
//! a postcard-encoded [`Frame`]. The length is checked against
//! [`MAX_FRAME`] before anything is read, and the reader's buffer grows
//! only as bytes arrive, so a lying prefix costs at most about what the
//! peer actually sends. A term is sent flat, as its nodes in pre-order,
//! and rebuilt with an explicit stack under a nesting limit: no recursion
//! that hostile input could drive into a stack overflow. On the hot path a
//! message is written straight from its terms and read straight back into
//! terms, never built as a tree of nodes in between.

use std::io::{self, Read};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::exit::{Exit, Killed, LinkedExit, OsProcessError, Panicked, UnhandledMessage};
use crate::pid::{ProcessId, next_id};
use crate::route::{Home, NodeId};
use crate::spawn::SpawnError;
use crate::text::{self, EXIT_LIMIT, PART_LIMIT};

mod deliver;
mod flat;
mod reader;
mod state;
#[cfg(all(test, not(loom)))]
mod tests;

pub(crate) use deliver::{Incoming, decode_incoming, encode_deliver};
pub(crate) use reader::FrameReader;
pub(crate) use state::{decode_state, encode_state};

/// The largest frame body accepted, in bytes: a message whose encoding is
/// larger is refused at `send`.
pub const MAX_FRAME: usize = 64 << 20;

/// The deepest nesting of tuples, lists and maps a term may have to cross
/// an OS-process boundary: a message nested deeper is refused at `send`,
/// and a frame nested deeper is a protocol error.
pub const MAX_DEPTH: usize = 128;

/// Why a frame could not be read.
#[derive(Debug, Error)]
pub enum WireError {
    /// The stream ended inside a frame.
    #[error("truncated frame: the stream ended {0} bytes into it")]
    Truncated(usize),
    /// The length prefix is above [`MAX_FRAME`].
    #[error("frame of {0} bytes is larger than the maximum of {MAX_FRAME}")]
    TooLarge(u64),
    /// The bytes are not a frame.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Reading the stream failed.
    #[error("reading the stream failed: {0}")]
    Io(#[from] io::Error),
    /// A process handle arrived, but no proxy could be started for it.
    #[error("cannot stand in for the other side's process: {0}")]
    Proxy(SpawnError),
}

/// A process handle on the wire: the program that runs it (`node`) and its
/// id there, with its name and tag for printing. `exit` is set when the
/// process had already ended when it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WirePid {
    /// The program the process runs in.
    pub node: u64,
    /// The process's id in that program (0: the OS process's own process).
    pub id: u64,
    /// The process's name.
    pub name: String,
    /// What the process's `Pid` prints before its name.
    pub tag: String,
    /// The exit value, if the process had ended.
    pub exit: Option<WireExit>,
}

/// An exit value on the wire: the error's type and text, and for a
/// linked exit its peer and root cause, so that a cascade through OS
/// processes passes the root cause on flat, as it does between threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireExit {
    /// A normal end.
    Normal,
    /// [`Panicked`], with the panic message.
    Panicked(String),
    /// [`UnhandledMessage`], with the message.
    Unhandled(String),
    /// Any other error, as its `Display` text.
    Error(String),
    /// [`OsProcessError`].
    OsProcess(WireOsError),
    /// [`LinkedExit`]: the peer, and the root cause (never itself linked,
    /// so a hostile frame cannot nest exits).
    Linked {
        /// The linked process that ended.
        peer: WireProcess,
        /// What it ended with, at the root.
        cause: WireCause,
    },
    /// [`Killed`].
    Killed,
}

/// The root cause of a linked exit on the wire: an exit that is not
/// itself linked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireCause {
    /// A normal end.
    Normal,
    /// [`Panicked`], with the panic message.
    Panicked(String),
    /// [`UnhandledMessage`], with the message.
    Unhandled(String),
    /// Any other error, as its `Display` text.
    Error(String),
    /// [`OsProcessError`].
    OsProcess(WireOsError),
    /// [`Killed`].
    Killed,
}

/// [`OsProcessError`] on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireOsError {
    /// [`OsProcessError::Exited`], with the code.
    Exited(i32),
    /// [`OsProcessError::Signaled`], with the signal.
    Signaled(i32),
    /// [`OsProcessError::Protocol`], with its text.
    Protocol(String),
    /// [`OsProcessError::RootEnded`].
    RootEnded,
    /// [`OsProcessError::ShutdownTimeout`], with the timeout.
    ShutdownTimeout(std::time::Duration),
    /// [`OsProcessError::ParentEnded`].
    ParentEnded,
}

impl WireOsError {
    fn from_error(error: &OsProcessError) -> WireOsError {
        match error {
            OsProcessError::Exited { code } => WireOsError::Exited(*code),
            OsProcessError::Signaled { signal, .. } => WireOsError::Signaled(*signal),
            OsProcessError::Protocol(text) => WireOsError::Protocol(text.clone()),
            OsProcessError::RootEnded => WireOsError::RootEnded,
            OsProcessError::ShutdownTimeout { timeout } => WireOsError::ShutdownTimeout(*timeout),
            OsProcessError::ParentEnded => WireOsError::ParentEnded,
        }
    }

    fn into_error(self) -> OsProcessError {
        match self {
            WireOsError::Exited(code) => OsProcessError::Exited { code },
            WireOsError::Signaled(signal) => OsProcessError::signaled(signal),
            WireOsError::Protocol(text) => OsProcessError::Protocol(text::cap(text, PART_LIMIT)),
            WireOsError::RootEnded => OsProcessError::RootEnded,
            WireOsError::ShutdownTimeout(timeout) => OsProcessError::ShutdownTimeout { timeout },
            WireOsError::ParentEnded => OsProcessError::ParentEnded,
        }
    }
}

/// A process named in an exit value: the program it runs in (`node`), its
/// id there, its tag and its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireProcess {
    /// The program the process runs in.
    pub node: u64,
    /// The process's id in that program.
    pub id: u64,
    /// What the process's `Pid` prints before its name.
    pub tag: String,
    /// The process's name.
    pub name: String,
}

impl WireExit {
    /// The wire form of `exit`; a linked exit's peer is named as a
    /// process of this program.
    pub fn from_exit(exit: &Exit) -> WireExit {
        WireExit::from_exit_naming(exit, &mut |peer| {
            let home = peer.home().unwrap_or(Home {
                node: NodeId::here(),
                id: peer.id(),
            });
            WireProcess {
                node: home.node.0,
                id: home.id,
                tag: peer.tag().to_owned(),
                name: peer.name().to_owned(),
            }
        })
    }

    /// The wire form of `exit`, a linked exit's peer named with `name`.
    pub(crate) fn from_exit_naming(
        exit: &Exit,
        name: &mut dyn FnMut(&ProcessId) -> WireProcess,
    ) -> WireExit {
        if let Some(linked) = exit.downcast_ref::<LinkedExit>() {
            return WireExit::Linked {
                peer: name(&linked.peer),
                cause: WireCause::from_exit(&linked.cause),
            };
        }
        WireCause::from_exit(exit).into()
    }

    /// The exit value this stands for; other errors become
    /// [`RemoteError`]s. A linked exit's peer gets an id of its own here,
    /// equal to no process of this program.
    pub fn into_exit(self) -> Exit {
        self.into_exit_naming(&mut |peer| ProcessId::new(next_id(), peer.tag, peer.name))
    }

    /// The exit value this stands for, a linked exit's peer named with
    /// `name`.
    pub(crate) fn into_exit_naming(self, name: &mut dyn FnMut(WireProcess) -> ProcessId) -> Exit {
        let cause = match self {
            WireExit::Normal => WireCause::Normal,
            WireExit::Panicked(message) => WireCause::Panicked(message),
            WireExit::Unhandled(message) => WireCause::Unhandled(message),
            WireExit::Error(message) => WireCause::Error(message),
            WireExit::OsProcess(error) => WireCause::OsProcess(error),
            WireExit::Killed => WireCause::Killed,
            WireExit::Linked { peer, cause } => {
                return Exit::with_error(LinkedExit {
                    peer: name(peer),
                    cause: cause.into_exit(),
                });
            }
        };
        cause.into_exit()
    }
}

impl WireCause {
    /// The wire form of `exit`, taken as a root cause: a linked exit here
    /// (which a root cause never is) would cross as its text. Texts are
    /// the bounded ones the exit already holds: no user code runs.
    fn from_exit(exit: &Exit) -> WireCause {
        if exit.is_normal() {
            WireCause::Normal
        } else if let Some(p) = exit.downcast_ref::<Panicked>() {
            WireCause::Panicked(p.message.clone())
        } else if let Some(u) = exit.downcast_ref::<UnhandledMessage>() {
            WireCause::Unhandled(u.message.clone())
        } else if let Some(e) = exit.downcast_ref::<OsProcessError>() {
            WireCause::OsProcess(WireOsError::from_error(e))
        } else if exit.downcast_ref::<Killed>().is_some() {
            WireCause::Killed
        } else {
            WireCause::Error(exit.to_string())
        }
    }

    /// The exit this stands for, its texts cut to the limits an exit made
    /// here would have: the other side may not keep to them.
    fn into_exit(self) -> Exit {
        match self {
            WireCause::Normal => Exit::normal(),
            WireCause::Panicked(message) => Exit::with_error(Panicked {
                message: text::cap(message, PART_LIMIT),
            }),
            WireCause::Unhandled(message) => Exit::with_error(UnhandledMessage {
                message: text::cap(message, PART_LIMIT),
            }),
            WireCause::Error(message) => Exit::with_error(RemoteError {
                message: text::cap(message, EXIT_LIMIT),
            }),
            WireCause::OsProcess(error) => Exit::with_error(error.into_error()),
            WireCause::Killed => Exit::with_own_error(Killed),
        }
    }
}

impl From<WireCause> for WireExit {
    fn from(cause: WireCause) -> WireExit {
        match cause {
            WireCause::Normal => WireExit::Normal,
            WireCause::Panicked(message) => WireExit::Panicked(message),
            WireCause::Unhandled(message) => WireExit::Unhandled(message),
            WireCause::Error(message) => WireExit::Error(message),
            WireCause::OsProcess(error) => WireExit::OsProcess(error),
            WireCause::Killed => WireExit::Killed,
        }
    }
}

/// An error that ended a process in another OS process, known here only by
/// its text.
#[derive(Debug, Clone, Error)]
#[error("{message}")]
pub struct RemoteError {
    /// The error's `Display` text.
    pub message: String,
}

/// One node of a flattened term. `Tuple`, `List` and `Map` give how many
/// terms follow as their elements (a map: key, value, key, value...).
#[derive(Debug, Serialize, Deserialize)]
pub enum Node {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A character.
    Char(char),
    /// A string.
    Str(String),
    /// A byte string.
    Bytes(#[serde(with = "bytes")] Vec<u8>),
    /// A tuple of the next n terms.
    Tuple(u32),
    /// A list of the next n terms.
    List(u32),
    /// A map of the next n key-value pairs.
    Map(u32),
    /// A process handle.
    Pid(WirePid),
    /// An exit value.
    Exit(WireExit),
}

/// Byte strings as one serde byte string, not a sequence of bytes.
mod bytes {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(Visitor)
    }
}

/// What one side of an OS-process boundary tells the other.
#[derive(Debug, Serialize, Deserialize)]
pub enum Frame {
    /// Parent to child, first: the process to run.
    Init {
        /// The registered type name of the process.
        type_name: String,
        /// The process's state, postcard-encoded.
        state: Vec<u8>,
        /// The process's name.
        name: String,
        /// How long the child's process has to end once the parent has
        /// gone, before the child exits anyway.
        shutdown: std::time::Duration,
        /// The processes the state names, by their places in it.
        pids: Vec<WirePid>,
    },
    /// A message for the receiver's process `to`.
    Deliver {
        /// The process's id on the receiving side.
        to: u64,
        /// The message, flattened.
        message: Vec<Node>,
    },
    /// `terminate_with` for the receiver's process `to`.
    Terminate {
        /// The process's id on the receiving side.
        to: u64,
        /// The exit it ends with.
        exit: WireExit,
    },
    /// The sender's process `id` has ended.
    Exited {
        /// The process's id on the sending side.
        id: u64,
        /// Its exit value.
        exit: WireExit,
    },
    /// Link the receiver's process `local` to `remote` (a link made on the
    /// sending side, mirrored).
    Link {
        /// The process's id on the receiving side.
        local: u64,
        /// The other process.
        remote: WirePid,
    },
    /// Remove the link between `local` and `remote`.
    Unlink {
        /// The process's id on the receiving side.
        local: u64,
        /// The other process.
        remote: WirePid,
    },
    /// Parent to child: no handle to the child's process is left in the
    /// parent, which had seen `seen` handles to it arrive.
    Unreachable {
        /// How many times the parent had received the child's handle.
        seen: u64,
    },
    /// Tell the receiver's process `local` when `remote` ends, one way (a
    /// [`Spawn::link_to`](crate::Spawn::link_to) made on the sending side,
    /// mirrored).
    Watch {
        /// The process's id on the receiving side.
        local: u64,
        /// The process whose end it hears of.
        remote: WirePid,
    },
    /// Kill the receiver's process `to` (`Pid::kill`).
    Kill {
        /// The process's id on the receiving side.
        to: u64,
    },
}

/// Appends `frame` to `out` as one length-prefixed frame; a frame larger
/// than [`MAX_FRAME`] is not appended, and the error says how large it is.
pub fn encode_frame(frame: &Frame, out: &mut Vec<u8>) -> Result<(), WireError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let out_vec = std::mem::take(out);
    *out = match postcard::to_extend(frame, out_vec) {
        Ok(out) => out,
        // Serializing these types into a Vec only fails out of memory.
        Err(error) => return Err(WireError::Malformed(error.to_string())),
    };
    let len = out.len() - start - 4;
    match frame_prefix(len) {
        Some(prefix) => {
            out[start..start + 4].copy_from_slice(&prefix);
            Ok(())
        }
        None => {
            out.truncate(start);
            Err(WireError::TooLarge(len as u64))
        }
    }
}

/// The length prefix of a frame body of `len` bytes, if one can carry it:
/// never a length cut to 32 bits.
pub(crate) fn frame_prefix(len: usize) -> Option<[u8; 4]> {
    if len > MAX_FRAME {
        return None;
    }
    u32::try_from(len).ok().map(u32::to_le_bytes)
}

/// Reads one frame; `Ok(None)` at a clean end of stream. `buf` is reused
/// between calls.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<Option<Frame>, WireError> {
    let mut prefix = [0u8; 4];
    let got = read_full(r, &mut prefix)?;
    if got == 0 {
        return Ok(None);
    }
    if got < 4 {
        return Err(WireError::Truncated(got));
    }
    let len = u32::from_le_bytes(prefix) as u64;
    if len > MAX_FRAME as u64 {
        return Err(WireError::TooLarge(len));
    }
    buf.clear();
    let read = r.take(len).read_to_end(buf)?;
    if (read as u64) < len {
        return Err(WireError::Truncated(4 + read));
    }
    decode_frame(buf).map(Some)
}

/// Decodes one frame body (without its length prefix).
pub fn decode_frame(body: &[u8]) -> Result<Frame, WireError> {
    match postcard::take_from_bytes::<Frame>(body) {
        Ok((frame, [])) => Ok(frame),
        Ok((_, rest)) => Err(WireError::Malformed(format!(
            "{} bytes after the frame",
            rest.len()
        ))),
        Err(error) => Err(WireError::Malformed(error.to_string())),
    }
}

/// Reads until `buf` is full or the stream ends; how many bytes it read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Decodes a frame body and, if it delivers a message, the message, with
/// every process handle dead-ended: what the fuzz target exercises.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let mut reader = FrameReader::new(data);
    let mut out = Vec::new();
    while let Ok(Some(body)) = reader.next() {
        if let Ok(deliver::Incoming::Deliver { message, .. }) = decode_incoming(body) {
            let _ = message.decode_into(
                &mut |_| Err(WireError::Malformed("no processes in fuzzing".into())),
                &mut out,
                |m| m,
            );
            out.clear();
        }
    }
}

/// The `Init` frame a parent sends first, for a test that stands in for a
/// parent: the registered process `type_name`, its postcard-encoded
/// `state` and its `name`, with the default shutdown timeout.
#[doc(hidden)]
pub fn init_frame(type_name: &str, state: Vec<u8>, name: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let frame = Frame::Init {
        type_name: type_name.into(),
        state,
        name: name.into(),
        shutdown: crate::spawn::DEFAULT_SHUTDOWN,
        pids: Vec::new(),
    };
    // A test's frame is small.
    let _ = encode_frame(&frame, &mut bytes);
    bytes
}

/// Every whole frame in `bytes`, each as its `Debug` text, then the error
/// that stopped the reading, if one did: what a test that stands in for a
/// parent reads back.
#[doc(hidden)]
pub fn frames_text(bytes: &[u8]) -> Vec<String> {
    let mut reader = FrameReader::new(bytes);
    let mut texts = Vec::new();
    loop {
        match reader.next() {
            Ok(Some(body)) => texts.push(match decode_frame(body) {
                Ok(frame) => format!("{frame:?}"),
                Err(error) => format!("{error}"),
            }),
            Ok(None) => return texts,
            Err(error) => {
                texts.push(error.to_string());
                return texts;
            }
        }
    }
}
