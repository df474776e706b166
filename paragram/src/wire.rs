//! The wire: messages, exits and process handles as they cross an
//! OS-process boundary, and the length-prefixed frames that carry them.
//!
//! A frame is a 4-byte little-endian length followed by that many bytes of
//! a postcard-encoded [`Frame`]. The length is checked against
//! [`MAX_FRAME`] before anything is read, and the body is read with
//! `Read::take`, so a lying prefix costs at most what the peer actually
//! sends. A term is sent flat, as its nodes in pre-order, and rebuilt with
//! an explicit stack under a nesting limit: no recursion that hostile input
//! could drive into a stack overflow.

use std::collections::BTreeMap;
use std::io::{self, Read};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::exit::{Exit, Panicked, UnhandledMessage};
use crate::message::{Message, Terms};
use crate::pid::Pid;
use crate::term::Term;

/// The largest frame body accepted, in bytes.
pub const MAX_FRAME: usize = 64 << 20;

/// The deepest nesting of tuples, lists and maps a received term may have.
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
}

/// A process handle on the wire: the OS process that owns it (`node`, an
/// OS pid) and its id there, with its name and kind for printing. `exit`
/// is set when the process had already ended when it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WirePid {
    /// The OS pid of the program the process runs in.
    pub node: u32,
    /// The process's id in that program (0: the OS process's own process).
    pub id: u64,
    /// The process's name.
    pub name: String,
    /// The process's kind name.
    pub kind: String,
    /// The exit value, if the process had ended.
    pub exit: Option<WireExit>,
}

/// An exit value on the wire: the error's kind and text.
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
}

impl WireExit {
    /// The wire form of `exit`.
    pub fn from_exit(exit: &Exit) -> WireExit {
        if exit.is_normal() {
            WireExit::Normal
        } else if let Some(p) = exit.downcast_ref::<Panicked>() {
            WireExit::Panicked(p.message.clone())
        } else if let Some(u) = exit.downcast_ref::<UnhandledMessage>() {
            WireExit::Unhandled(u.message.clone())
        } else {
            WireExit::Error(exit.to_string())
        }
    }

    /// The exit value this stands for; other errors become [`RemoteError`]s.
    pub fn into_exit(self) -> Exit {
        match self {
            WireExit::Normal => Exit::normal(),
            WireExit::Panicked(message) => Exit::with_error(Panicked { message }),
            WireExit::Unhandled(message) => Exit::with_error(UnhandledMessage { message }),
            WireExit::Error(message) => Exit::with_error(RemoteError { message }),
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
}

/// Appends `frame` to `out` as one length-prefixed frame.
pub fn encode_frame(frame: &Frame, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    // Serializing into a Vec cannot fail for these types.
    let out_vec = std::mem::take(out);
    *out = postcard::to_extend(frame, out_vec).unwrap_or_default();
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
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

/// Flattens `terms` into nodes, naming each process handle with `pid`.
/// Opaque values have no wire form; the caller checks for them first.
pub(crate) fn flatten(terms: &[Term], pid: &mut dyn FnMut(&Pid) -> WirePid) -> Vec<Node> {
    let mut out = Vec::with_capacity(terms.len());
    for term in terms {
        flatten_term(term, pid, &mut out);
    }
    out
}

fn flatten_term(term: &Term, pid: &mut dyn FnMut(&Pid) -> WirePid, out: &mut Vec<Node>) {
    // Recursion here follows terms built in this program, never input.
    match term {
        Term::Bool(v) => out.push(Node::Bool(*v)),
        Term::Int(v) => out.push(Node::Int(*v)),
        Term::Float(v) => out.push(Node::Float(*v)),
        Term::Char(v) => out.push(Node::Char(*v)),
        Term::Str(v) => out.push(Node::Str(v.clone())),
        Term::Bytes(v) => out.push(Node::Bytes(v.clone())),
        Term::Tuple(items) | Term::List(items) => {
            let n = items.len() as u32;
            out.push(match term {
                Term::Tuple(_) => Node::Tuple(n),
                _ => Node::List(n),
            });
            for item in items {
                flatten_term(item, pid, out);
            }
        }
        Term::Map(map) => {
            out.push(Node::Map(map.len() as u32));
            for (k, v) in map {
                flatten_term(k, pid, out);
                flatten_term(v, pid, out);
            }
        }
        Term::Pid(p) => out.push(Node::Pid(pid(p))),
        Term::Exit(e) => out.push(Node::Exit(WireExit::from_exit(e))),
        Term::Opaque(_) => out.push(Node::Tuple(0)),
    }
}

/// A container being rebuilt: its kind, how many terms it still needs,
/// and those it has.
struct Open {
    kind: Container,
    left: u32,
    items: Vec<Term>,
}

#[derive(Clone, Copy)]
enum Container {
    Top,
    Tuple,
    List,
    Map,
}

/// Rebuilds the message that `nodes` flatten, resolving each process handle
/// with `pid`. Errors, never panics, on any malformed input.
pub(crate) fn unflatten(
    nodes: Vec<Node>,
    pid: &mut dyn FnMut(WirePid) -> Result<Pid, WireError>,
) -> Result<Message, WireError> {
    let mut stack = vec![Open {
        kind: Container::Top,
        left: u32::MAX,
        items: Vec::new(),
    }];
    for node in nodes {
        let open = |kind, n: u32| -> Result<Option<Open>, WireError> {
            let left = match kind {
                Container::Map => n
                    .checked_mul(2)
                    .ok_or_else(|| WireError::Malformed("map too long".into()))?,
                _ => n,
            };
            Ok(Some(Open {
                kind,
                left,
                items: Vec::new(),
            }))
        };
        let (term, container) = match node {
            Node::Bool(v) => (Some(Term::Bool(v)), None),
            Node::Int(v) => (Some(Term::Int(v)), None),
            Node::Float(v) => (Some(Term::Float(v)), None),
            Node::Char(v) => (Some(Term::Char(v)), None),
            Node::Str(v) => (Some(Term::Str(v)), None),
            Node::Bytes(v) => (Some(Term::Bytes(v)), None),
            Node::Pid(p) => (Some(Term::Pid(pid(p)?)), None),
            Node::Exit(e) => (Some(Term::Exit(e.into_exit())), None),
            Node::Tuple(n) => (None, open(Container::Tuple, n)?),
            Node::List(n) => (None, open(Container::List, n)?),
            Node::Map(n) => (None, open(Container::Map, n)?),
        };
        if let Some(container) = container {
            if stack.len() > MAX_DEPTH {
                return Err(WireError::Malformed("terms nested too deep".into()));
            }
            stack.push(container);
        } else if let Some(term) = term {
            push_term(&mut stack, term)?;
        }
        close_full(&mut stack)?;
    }
    match stack.pop() {
        Some(top) if stack.is_empty() => Ok(Message::from_terms(Terms::from_vec(top.items))),
        _ => Err(WireError::Malformed("term ends early".into())),
    }
}

fn push_term(stack: &mut [Open], term: Term) -> Result<(), WireError> {
    let top = stack
        .last_mut()
        .ok_or_else(|| WireError::Malformed("no container".into()))?;
    if top.left == 0 {
        return Err(WireError::Malformed("too many terms".into()));
    }
    top.left -= 1;
    top.items.push(term);
    Ok(())
}

/// Closes every container that has all its terms, innermost first.
// `Term` keys hash by value or identity, never by interior state: the
// README's note on `mutable_key_type`.
#[allow(clippy::mutable_key_type)]
fn close_full(stack: &mut Vec<Open>) -> Result<(), WireError> {
    while stack.len() > 1 && stack.last().is_some_and(|open| open.left == 0) {
        let Some(done) = stack.pop() else { break };
        let term = match done.kind {
            Container::Tuple => Term::Tuple(done.items),
            Container::List => Term::List(done.items),
            Container::Map => {
                let mut map = BTreeMap::new();
                let mut items = done.items.into_iter();
                while let (Some(k), Some(v)) = (items.next(), items.next()) {
                    map.insert(k, v);
                }
                Term::Map(map)
            }
            Container::Top => return Err(WireError::Malformed("nested top".into())),
        };
        push_term(stack, term)?;
    }
    Ok(())
}

/// Decodes a frame body and, if it delivers a message, the message, with
/// every process handle dead-ended: what the fuzz target exercises.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let mut reader = data;
    let mut buf = Vec::new();
    while let Ok(Some(frame)) = read_frame(&mut reader, &mut buf) {
        if let Frame::Deliver { message, .. } = frame {
            let _ = unflatten(message, &mut |_| {
                Err(WireError::Malformed("no processes in fuzzing".into()))
            });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn no_pids(_: WirePid) -> Result<Pid, WireError> {
        Err(WireError::Malformed("pid".into()))
    }

    fn roundtrip(terms: Vec<Term>) -> Message {
        let nodes = flatten(&terms, &mut |_| unreachable!());
        let mut bytes = Vec::new();
        encode_frame(
            &Frame::Deliver {
                to: 7,
                message: nodes,
            },
            &mut bytes,
        );
        let frame = read_frame(&mut &bytes[..], &mut Vec::new())
            .unwrap()
            .unwrap();
        let Frame::Deliver { to: 7, message } = frame else {
            panic!("wrong frame")
        };
        unflatten(message, &mut no_pids).unwrap()
    }

    #[test]
    #[allow(clippy::mutable_key_type)]
    fn nested_terms_survive_the_wire() {
        let map: BTreeMap<Term, Term> = [(Term::Str("k".into()), Term::Int(-3))].into();
        let terms = vec![
            Term::Str("hello".into()),
            Term::Tuple(vec![Term::Int(1), Term::List(vec![Term::Float(2.5)])]),
            Term::Map(map),
            Term::Bytes(vec![0, 255]),
            Term::Char('c'),
            Term::Bool(true),
            Term::Int(i128::MIN),
            Term::Tuple(vec![]),
        ];
        let expected = format!(
            "{:?}",
            Message::new(terms.iter().map(|t| t.try_clone().unwrap()).collect())
        );
        assert_eq!(format!("{:?}", roundtrip(terms)), expected);
    }

    #[test]
    fn huge_length_prefix_is_refused_before_reading() {
        let bytes = u32::MAX.to_le_bytes();
        let err = read_frame(&mut &bytes[..], &mut Vec::new()).unwrap_err();
        assert!(matches!(err, WireError::TooLarge(_)), "{err}");
    }

    #[test]
    fn eof_mid_frame_is_truncated() {
        let mut bytes = Vec::new();
        encode_frame(&Frame::Unreachable { seen: 3 }, &mut bytes);
        for cut in 1..bytes.len() {
            let err = read_frame(&mut &bytes[..cut], &mut Vec::new()).unwrap_err();
            assert!(matches!(err, WireError::Truncated(_)), "{cut}: {err}");
        }
    }

    #[test]
    fn garbage_is_malformed() {
        let bytes = [4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        let err = read_frame(&mut &bytes[..], &mut Vec::new()).unwrap_err();
        assert!(matches!(err, WireError::Malformed(_)), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let nodes = (0..10_000).map(|_| Node::Tuple(1)).collect();
        assert!(unflatten(nodes, &mut no_pids).is_err());
    }

    #[test]
    fn counts_that_lie_are_refused() {
        assert!(unflatten(vec![Node::List(3), Node::Bool(true)], &mut no_pids).is_err());
        assert!(unflatten(vec![Node::Map(u32::MAX)], &mut no_pids).is_err());
    }
}
