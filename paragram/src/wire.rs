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

use std::collections::BTreeMap;
use std::io::{self, Read};

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeStructVariant};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::exit::{Exit, Panicked, UnhandledMessage};
use crate::message::{Message, Terms};
use crate::pid::Pid;
use crate::spawn::SpawnError;
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
    /// A process handle arrived, but no proxy could be started for it.
    #[error("cannot stand in for the other side's process: {0}")]
    Proxy(SpawnError),
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
/// Opaque values have no wire form; the caller checks for them first. The
/// reference for [`encode_deliver`], which writes the same nodes directly.
#[cfg(all(test, not(loom)))]
pub(crate) fn flatten(terms: &[Term], pid: &mut dyn FnMut(&Pid) -> WirePid) -> Vec<Node> {
    let mut out = Vec::with_capacity(terms.len());
    for term in terms {
        flatten_term(term, pid, &mut out);
    }
    out
}

#[cfg(all(test, not(loom)))]
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
    Tuple,
    List,
    Map,
}

/// Resolves a process handle from the wire to a local `Pid`.
pub(crate) type ResolvePid<'a> = dyn FnMut(WirePid) -> Result<Pid, WireError> + 'a;

/// Rebuilds a message from its nodes, one at a time, with an explicit
/// stack of open containers (empty, and unallocated, for a flat message).
#[derive(Default)]
struct Builder {
    top: Terms,
    stack: Vec<Open>,
}

impl Builder {
    fn push(&mut self, node: Node, pid: &mut ResolvePid<'_>) -> Result<(), WireError> {
        let term = match node {
            Node::Bool(v) => Term::Bool(v),
            Node::Int(v) => Term::Int(v),
            Node::Float(v) => Term::Float(v),
            Node::Char(v) => Term::Char(v),
            Node::Str(v) => Term::Str(v),
            Node::Bytes(v) => Term::Bytes(v),
            Node::Pid(p) => Term::Pid(pid(p)?),
            Node::Exit(e) => Term::Exit(e.into_exit()),
            Node::Tuple(n) => return self.open(Container::Tuple, n),
            Node::List(n) => return self.open(Container::List, n),
            Node::Map(n) => return self.open(Container::Map, n),
        };
        self.push_term(term)?;
        self.close_full()
    }

    fn open(&mut self, kind: Container, n: u32) -> Result<(), WireError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(WireError::Malformed("terms nested too deep".into()));
        }
        let left = match kind {
            Container::Map => n
                .checked_mul(2)
                .ok_or_else(|| WireError::Malformed("map too long".into()))?,
            _ => n,
        };
        self.stack.push(Open {
            kind,
            left,
            items: Vec::new(),
        });
        self.close_full()
    }

    fn push_term(&mut self, term: Term) -> Result<(), WireError> {
        let Some(top) = self.stack.last_mut() else {
            self.top.push(term);
            return Ok(());
        };
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
    fn close_full(&mut self) -> Result<(), WireError> {
        while self.stack.last().is_some_and(|open| open.left == 0) {
            let Some(done) = self.stack.pop() else { break };
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
            };
            self.push_term(term)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Message, WireError> {
        if !self.stack.is_empty() {
            return Err(WireError::Malformed("term ends early".into()));
        }
        Ok(Message::from_terms(self.top))
    }
}

/// Rebuilds the message that `nodes` flatten, resolving each process handle
/// with `pid`. Errors, never panics, on any malformed input.
#[cfg(all(test, not(loom)))]
pub(crate) fn unflatten(nodes: Vec<Node>, pid: &mut ResolvePid<'_>) -> Result<Message, WireError> {
    let mut builder = Builder::default();
    for node in nodes {
        builder.push(node, pid)?;
    }
    builder.finish()
}

/// A frame as the reader takes it: a message decoded straight into its
/// terms, or any other frame.
pub(crate) enum Incoming {
    /// [`Frame::Deliver`], its message rebuilt.
    Deliver {
        /// The process's id on the receiving side.
        to: u64,
        /// The message.
        message: Message,
    },
    /// Any other frame.
    Other(Frame),
}

/// The first byte of a [`Frame::Deliver`] body: postcard's variant index.
const DELIVER: u8 = 1;

/// Decodes one frame body, a message straight into terms (no intermediate
/// nodes), resolving each process handle with `pid`.
pub(crate) fn decode_incoming(
    body: &[u8],
    pid: &mut ResolvePid<'_>,
) -> Result<Incoming, WireError> {
    let Some((&DELIVER, fields)) = body.split_first() else {
        return decode_frame(body).map(Incoming::Other);
    };
    let mut seed = DeliverSeed { pid, error: None };
    let mut de = postcard::Deserializer::from_bytes(fields);
    let decoded = (&mut seed).deserialize(&mut de);
    if let Some(error) = seed.error {
        return Err(error);
    }
    let (to, message) = decoded.map_err(|e| WireError::Malformed(e.to_string()))?;
    match de.finalize() {
        Ok([]) => Ok(Incoming::Deliver { to, message }),
        Ok(rest) => Err(WireError::Malformed(format!(
            "{} bytes after the frame",
            rest.len()
        ))),
        Err(error) => Err(WireError::Malformed(error.to_string())),
    }
}

/// Decodes `Deliver`'s fields, `to` and the message's nodes, feeding the
/// nodes to a [`Builder`] as they are read.
struct DeliverSeed<'a, 'p> {
    pid: &'a mut ResolvePid<'p>,
    /// A resolving or rebuilding error, which serde's errors cannot carry.
    error: Option<WireError>,
}

impl<'de> DeserializeSeed<'de> for &mut DeliverSeed<'_, '_> {
    type Value = (u64, Message);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for &mut DeliverSeed<'_, '_> {
    type Value = (u64, Message);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Deliver frame")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let to = seq
            .next_element::<u64>()?
            .ok_or_else(|| A::Error::custom("no target"))?;
        let message = seq
            .next_element_seed(Nodes(self))?
            .ok_or_else(|| A::Error::custom("no message"))?;
        Ok((to, message))
    }
}

/// The message's node sequence, decoded into a [`Builder`].
struct Nodes<'s, 'a, 'p>(&'s mut DeliverSeed<'a, 'p>);

impl<'de> DeserializeSeed<'de> for Nodes<'_, '_, '_> {
    type Value = Message;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Message, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Nodes<'_, '_, '_> {
    type Value = Message;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence of nodes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Message, A::Error> {
        let mut builder = Builder::default();
        let mut fail = |error| {
            self.0.error = Some(error);
            A::Error::custom("bad message")
        };
        while let Some(node) = seq.next_element::<Node>()? {
            builder.push(node, self.0.pid).map_err(&mut fail)?;
        }
        builder.finish().map_err(fail)
    }
}

/// Appends the `Deliver` frame of `terms` for process `to` to `out`,
/// encoded straight from the terms: the same bytes as
/// `encode_frame(&Frame::Deliver { to, message: flatten(terms, pid) })`,
/// without the intermediate nodes. Each process handle is named with `pid`.
pub(crate) fn encode_deliver(
    to: u64,
    terms: &[Term],
    pid: &mut dyn FnMut(&Pid) -> WirePid,
    out: &mut Vec<u8>,
) {
    let mut pids = Vec::new();
    let mut count = 0;
    for term in terms {
        count_nodes(term, pid, &mut count, &mut pids);
    }
    let deliver = DeliverOut {
        to,
        nodes: NodesOut {
            terms,
            count,
            pids: &pids,
        },
    };
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    // Serializing into a Vec cannot fail for these types.
    let out_vec = std::mem::take(out);
    *out = postcard::to_extend(&deliver, out_vec).unwrap_or_default();
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// Counts the nodes `term` flattens to and names its process handles, in
/// the order they are written.
fn count_nodes(
    term: &Term,
    pid: &mut dyn FnMut(&Pid) -> WirePid,
    count: &mut usize,
    pids: &mut Vec<WirePid>,
) {
    // Recursion here follows terms built in this program, never input.
    *count += 1;
    match term {
        Term::Tuple(items) | Term::List(items) => {
            for item in items {
                count_nodes(item, pid, count, pids);
            }
        }
        Term::Map(map) => {
            for (k, v) in map {
                count_nodes(k, pid, count, pids);
                count_nodes(v, pid, count, pids);
            }
        }
        Term::Pid(p) => pids.push(pid(p)),
        _ => {}
    }
}

/// `Frame::Deliver` as it is written.
struct DeliverOut<'a> {
    to: u64,
    nodes: NodesOut<'a>,
}

impl Serialize for DeliverOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = s.serialize_struct_variant("Frame", u32::from(DELIVER), "Deliver", 2)?;
        v.serialize_field("to", &self.to)?;
        v.serialize_field("message", &self.nodes)?;
        v.end()
    }
}

/// A message's terms written as their nodes, in pre-order.
struct NodesOut<'a> {
    terms: &'a [Term],
    count: usize,
    /// The message's process handles, named, in order.
    pids: &'a [WirePid],
}

impl Serialize for NodesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.count))?;
        let mut pids = self.pids.iter();
        for term in self.terms {
            write_nodes(term, &mut pids, &mut seq)?;
        }
        seq.end()
    }
}

fn write_nodes<S: SerializeSeq>(
    term: &Term,
    pids: &mut std::slice::Iter<'_, WirePid>,
    seq: &mut S,
) -> Result<(), S::Error> {
    match term {
        Term::Bool(v) => seq.serialize_element(&NodeRef::Bool(*v)),
        Term::Int(v) => seq.serialize_element(&NodeRef::Int(*v)),
        Term::Float(v) => seq.serialize_element(&NodeRef::Float(*v)),
        Term::Char(v) => seq.serialize_element(&NodeRef::Char(*v)),
        Term::Str(v) => seq.serialize_element(&NodeRef::Str(v)),
        Term::Bytes(v) => seq.serialize_element(&NodeRef::Bytes(BytesRef(v))),
        Term::Tuple(items) | Term::List(items) => {
            let n = items.len() as u32;
            match term {
                Term::Tuple(_) => seq.serialize_element(&NodeRef::Tuple(n))?,
                _ => seq.serialize_element(&NodeRef::List(n))?,
            }
            for item in items {
                write_nodes(item, pids, seq)?;
            }
            Ok(())
        }
        Term::Map(map) => {
            seq.serialize_element(&NodeRef::Map(map.len() as u32))?;
            for (k, v) in map {
                write_nodes(k, pids, seq)?;
                write_nodes(v, pids, seq)?;
            }
            Ok(())
        }
        Term::Pid(_) => match pids.next() {
            Some(p) => seq.serialize_element(&NodeRef::Pid(p)),
            None => Err(serde::ser::Error::custom("process handles miscounted")),
        },
        Term::Exit(e) => seq.serialize_element(&NodeRef::Exit(WireExit::from_exit(e))),
        Term::Opaque(_) => seq.serialize_element(&NodeRef::Tuple(0)),
    }
}

/// Bytes written as one serde byte string, as [`Node::Bytes`] is.
struct BytesRef<'a>(&'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// [`Node`] borrowed from the term it is written from: the same variants,
/// in the same order, so the same bytes.
#[derive(Serialize)]
#[serde(rename = "Node")]
enum NodeRef<'a> {
    Bool(bool),
    Int(i128),
    Float(f64),
    Char(char),
    Str(&'a str),
    Bytes(BytesRef<'a>),
    Tuple(u32),
    List(u32),
    Map(u32),
    Pid(&'a WirePid),
    Exit(WireExit),
}

/// Reads frames from a stream in large chunks, handing out each body as a
/// slice of its buffer. The buffer grows only as bytes actually arrive (at
/// most doubling), so a lying length prefix costs at most about twice
/// what the peer sends, and never more than [`MAX_FRAME`].
pub(crate) struct FrameReader<R> {
    r: R,
    buf: Vec<u8>,
    /// Where the unread bytes start and end in `buf`.
    start: usize,
    end: usize,
}

/// The size a [`FrameReader`]'s buffer starts at.
const CHUNK: usize = 64 << 10;

impl<R: Read> FrameReader<R> {
    pub(crate) fn new(r: R) -> FrameReader<R> {
        FrameReader {
            r,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
        }
    }

    /// The next frame's body; `Ok(None)` at a clean end of stream.
    pub(crate) fn next(&mut self) -> Result<Option<&[u8]>, WireError> {
        loop {
            let unread = &self.buf[self.start..self.end];
            let mut need = 4;
            if let Some(prefix) = unread.first_chunk::<4>() {
                let len = u32::from_le_bytes(*prefix) as u64;
                if len > MAX_FRAME as u64 {
                    return Err(WireError::TooLarge(len));
                }
                need = 4 + len as usize;
                if unread.len() >= need {
                    let body = self.start + 4..self.start + need;
                    self.start += need;
                    return Ok(Some(&self.buf[body]));
                }
            }
            if self.fill(need)? == 0 {
                return match self.end - self.start {
                    0 => Ok(None),
                    got => Err(WireError::Truncated(got)),
                };
            }
        }
    }

    /// Reads more bytes towards a frame of `need` bytes; how many it read
    /// (0 at the end of the stream).
    fn fill(&mut self, need: usize) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(need.max(CHUNK));
            self.buf.resize(grown.max(self.end + 1), 0);
        }
        loop {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Decodes a frame body and, if it delivers a message, the message, with
/// every process handle dead-ended: what the fuzz target exercises.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let mut reader = FrameReader::new(data);
    while let Ok(Some(body)) = reader.next() {
        let _ = decode_incoming(body, &mut |_| {
            Err(WireError::Malformed("no processes in fuzzing".into()))
        });
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
    #[allow(clippy::mutable_key_type)]
    fn direct_encoding_is_the_flattened_frame_and_decodes_back() {
        let map: BTreeMap<Term, Term> = [(Term::Int(1), Term::List(vec![]))].into();
        let terms = vec![
            Term::Str("hi".into()),
            Term::Tuple(vec![Term::Bytes(vec![1, 2]), Term::Map(map)]),
            Term::Exit(Exit::with_error("gone")),
            Term::Float(-0.5),
        ];
        let mut expected = Vec::new();
        let message = flatten(&terms, &mut |_| unreachable!());
        encode_frame(&Frame::Deliver { to: 9, message }, &mut expected);
        let mut direct = vec![7];
        encode_deliver(9, &terms, &mut |_| unreachable!(), &mut direct);
        assert_eq!(direct[1..], expected[..]);
        let Incoming::Deliver { to: 9, message } =
            decode_incoming(&direct[5..], &mut no_pids).unwrap()
        else {
            panic!("wrong frame")
        };
        let expected = Message::new(terms.iter().map(|t| t.try_clone().unwrap()).collect());
        assert_eq!(format!("{message:?}"), format!("{expected:?}"));
    }

    #[test]
    fn frame_reader_splits_frames_across_reads() {
        /// Hands out at most 3 bytes per read.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(3).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut bytes = Vec::new();
        for i in 0..1000u64 {
            encode_deliver(
                i,
                &[Term::Int(i.into())],
                &mut |_| unreachable!(),
                &mut bytes,
            );
        }
        // One frame larger than the reader's first buffer.
        let big = Term::Bytes(vec![7; 3 * CHUNK]);
        encode_deliver(1000, &[big], &mut |_| unreachable!(), &mut bytes);
        let mut reader = FrameReader::new(Trickle(&bytes));
        for i in 0..=1000u64 {
            let body = reader.next().unwrap().unwrap();
            let Incoming::Deliver { to, .. } = decode_incoming(body, &mut no_pids).unwrap() else {
                panic!("wrong frame")
            };
            assert_eq!(to, i);
        }
        assert!(reader.next().unwrap().is_none());
    }

    #[test]
    fn frame_reader_refuses_huge_prefix_and_reports_truncation() {
        let bytes = u32::MAX.to_le_bytes();
        let err = FrameReader::new(&bytes[..]).next().unwrap_err();
        assert!(matches!(err, WireError::TooLarge(_)), "{err}");
        let mut bytes = Vec::new();
        encode_frame(&Frame::Unreachable { seen: 3 }, &mut bytes);
        for cut in 1..bytes.len() {
            let err = FrameReader::new(&bytes[..cut]).next().unwrap_err();
            assert!(
                matches!(err, WireError::Truncated(n) if n == cut),
                "{cut}: {err}"
            );
        }
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
