//! The hot path: a message encoded straight from its terms into a
//! `Deliver` frame, and decoded straight back into terms.

use crate::message::Message;
use crate::pid::{Pid, SendFailure};
use crate::term::Term;

use super::flat::*;
use super::*;

/// A frame as the reader takes it: a message with its target read and its
/// terms still to decode, or any other frame.
pub(crate) enum Incoming<'a> {
    /// [`Frame::Deliver`].
    Deliver {
        /// The process's id on the receiving side.
        to: u64,
        /// The message, to decode where it is to be kept.
        message: Encoded<'a>,
    },
    /// Any other frame.
    Other(Frame),
}

/// A `Deliver` frame's message, not yet decoded.
pub(crate) struct Encoded<'a>(&'a [u8]);

/// The first byte of a [`Frame::Deliver`] body: postcard's variant index.
const DELIVER: u8 = 1;

/// Reads one frame body: a message's target (its terms are decoded by
/// [`Encoded::decode_into`]), or a whole other frame.
pub(crate) fn decode_incoming(body: &[u8]) -> Result<Incoming<'_>, WireError> {
    let Some((&DELIVER, fields)) = body.split_first() else {
        return decode_frame(body).map(Incoming::Other);
    };
    let mut input = Input(fields);
    let to = input.varint_u64()?;
    Ok(Incoming::Deliver {
        to,
        message: Encoded(input.0),
    })
}

impl Encoded<'_> {
    /// Decodes the message straight into terms (no intermediate tree),
    /// resolving each process handle with `pid`, and pushes `wrap` of it
    /// onto `out`: built where it is kept, not moved through the layers
    /// of a returned value.
    pub(crate) fn decode_into<T>(
        self,
        pid: &mut ResolvePid<'_>,
        out: &mut Vec<T>,
        wrap: impl FnOnce(Message) -> T,
    ) -> Result<(), WireError> {
        let mut input = Input(self.0);
        // Each node takes at least a byte: a lying count runs out of frame.
        let count = input.varint_u64()?;
        let mut builder = Builder::default();
        for _ in 0..count {
            input.node(&mut builder, pid)?;
        }
        if !input.0.is_empty() {
            return Err(WireError::Malformed(format!(
                "{} bytes after the frame",
                input.0.len()
            )));
        }
        builder.finish_into(out, wrap)
    }
}

/// The rest of a frame, read in postcard's encodings: the hot path's
/// decoder, by hand. Serde's derived decoder of [`Node`] reads the same
/// bytes (the wire's tests hold the two together) and stays the reference.
struct Input<'a>(&'a [u8]);

fn malformed(what: &str) -> WireError {
    WireError::Malformed(what.into())
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.0.len() {
            return Err(malformed("the frame ends inside a value"));
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned LEB128 varint of at most `bits` bits.
    #[inline]
    fn varint(&mut self, bits: u32) -> Result<u128, WireError> {
        // Up to nine bytes (63 bits) add up in a machine word; no more
        // bytes than the width takes, as postcard reads them.
        let most = bits.div_ceil(7).min(9) as usize;
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().take(most).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if bits < 64 && value >> bits != 0 {
                    return Err(malformed("varint too long"));
                }
                self.0 = &self.0[i + 1..];
                return Ok(u128::from(value));
            }
        }
        self.long_varint(bits)
    }

    /// A varint too long for [`Input::varint`]'s word, or cut short.
    fn long_varint(&mut self, bits: u32) -> Result<u128, WireError> {
        let mut value = 0u128;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            let part = u128::from(byte & 0x7f);
            if shift >= bits || (shift > 0 && part >> (bits - shift) != 0) {
                return Err(malformed("varint too long"));
            }
            value |= part << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    fn varint_u64(&mut self) -> Result<u64, WireError> {
        Ok(self.varint(64)? as u64)
    }

    fn varint_u32(&mut self) -> Result<u32, WireError> {
        Ok(self.varint(32)? as u32)
    }

    /// A length-prefixed byte string.
    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint_u64()?;
        self.take(usize::try_from(len).map_err(|_| malformed("length too large"))?)
    }

    fn str(&mut self) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| malformed("string not UTF-8"))
    }

    /// A value postcard's serde decoder reads, for the rare nodes.
    fn serde<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, WireError> {
        let (value, rest) =
            postcard::take_from_bytes(self.0).map_err(|e| WireError::Malformed(e.to_string()))?;
        self.0 = rest;
        Ok(value)
    }

    /// One [`Node`] (its variant's index, then its value), added to
    /// `builder`: straight as a term, never as a `Node` in between.
    fn node(&mut self, builder: &mut Builder, pid: &mut ResolvePid<'_>) -> Result<(), WireError> {
        let term = match self.varint_u32()? {
            0 => match self.byte()? {
                0 => Term::Bool(false),
                1 => Term::Bool(true),
                _ => return Err(malformed("bad boolean")),
            },
            1 => {
                let zigzag = self.varint(128)?;
                Term::Int((zigzag >> 1) as i128 ^ -((zigzag & 1) as i128))
            }
            2 => {
                let bits = self.take(8)?.try_into().map_err(|_| malformed("float"))?;
                Term::Float(f64::from_le_bytes(bits))
            }
            3 => {
                let mut chars = self.str()?.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Term::Char(c),
                    _ => return Err(malformed("bad character")),
                }
            }
            4 => Term::Str(self.str()?.into()),
            5 => Term::Bytes(self.bytes()?.to_vec()),
            6 => return builder.open(Container::Tuple, self.varint_u32()?),
            7 => return builder.open(Container::List, self.varint_u32()?),
            8 => return builder.open(Container::Map, self.varint_u32()?),
            9 => Term::Pid(pid(self.serde()?)?),
            10 => Term::Exit(self.serde::<WireExit>()?.into_exit()),
            _ => return Err(malformed("unknown node")),
        };
        builder.push_leaf(term)
    }
}

/// Appends the `Deliver` frame of `terms` for process `to` to `out`,
/// encoded straight from the terms, by hand, in postcard's encodings: the
/// same bytes as `encode_frame(&Frame::Deliver { to, message: flatten(terms,
/// pid) })` (the wire's tests hold the two together), without the
/// intermediate nodes. Each process handle is named with `name`, which
/// must have no effect beyond naming it: the caller keeps the handles the
/// message carries, returned, once the frame is sure to go.
///
/// Nothing is appended for a message that cannot cross: one holding an
/// opaque value, nested deeper than [`MAX_DEPTH`], or larger than
/// [`MAX_FRAME`]. Every walk keeps its stack on the heap.
pub(crate) fn encode_deliver<'t>(
    to: u64,
    terms: &'t [Term],
    name: &mut dyn FnMut(&Pid) -> WirePid,
    out: &mut Vec<u8>,
) -> Result<Vec<&'t Pid>, SendFailure> {
    if let Some(bytes) = scalars_len(terms) {
        // The common message, of scalars only: one pass to measure, one to
        // write, no walk.
        let body = 1 + varint_len(u128::from(to)) + varint_len(terms.len() as u128) + bytes;
        let prefix = frame_prefix(body).ok_or(SendFailure::TooLarge {
            bytes: body as u64,
            most: MAX_FRAME as u64,
        })?;
        out.reserve(4 + body);
        out.extend_from_slice(&prefix);
        out.push(DELIVER);
        varint(u128::from(to), out);
        varint(terms.len() as u128, out);
        for term in terms {
            write_node(term, out);
        }
        return Ok(Vec::new());
    }
    let plan = Plan::of(terms, name)?;
    let body = 1 + varint_len(u128::from(to)) + varint_len(plan.count as u128) + plan.bytes;
    let prefix = frame_prefix(body).ok_or(SendFailure::TooLarge {
        bytes: body as u64,
        most: MAX_FRAME as u64,
    })?;
    out.reserve(4 + body);
    out.extend_from_slice(&prefix);
    out.push(DELIVER);
    varint(u128::from(to), out);
    varint(plan.count as u128, out);
    let mut rare_ends = plan.rare_ends.iter();
    let mut rare_start = 0;
    for (_, term) in terms.iter().flat_map(Term::pre_order) {
        if write_node(term, out) == Written::Header {
            // Its value is encoded already: the rare nodes come in order.
            let end = rare_ends.next().copied().unwrap_or(rare_start);
            out.extend_from_slice(&plan.rare[rare_start..end]);
            rare_start = end;
        }
    }
    Ok(plan.pids)
}

/// What a message's frame holds, found in one walk before anything is
/// written: how many nodes, how many bytes they take, and the rare nodes'
/// values (process handles and exit values) already encoded.
struct Plan<'t> {
    count: usize,
    bytes: usize,
    rare: Vec<u8>,
    /// Where each rare node's value ends in `rare`.
    rare_ends: Vec<usize>,
    pids: Vec<&'t Pid>,
}

impl<'t> Plan<'t> {
    fn of(
        terms: &'t [Term],
        name: &mut dyn FnMut(&Pid) -> WirePid,
    ) -> Result<Plan<'t>, SendFailure> {
        let mut plan = Plan {
            count: 0,
            bytes: 0,
            rare: Vec::new(),
            rare_ends: Vec::new(),
            pids: Vec::new(),
        };
        for (element, term) in terms.iter().enumerate() {
            let element = u32::try_from(element).unwrap_or(u32::MAX);
            for (depth, term) in term.pre_order() {
                plan.count += 1;
                plan.bytes += match term {
                    Term::Opaque(_) => return Err(SendFailure::Unserializable { element }),
                    Term::Tuple(_) | Term::List(_) | Term::Map(_) if depth >= MAX_DEPTH => {
                        return Err(SendFailure::TooDeep {
                            element,
                            most: MAX_DEPTH as u32,
                        });
                    }
                    Term::Pid(pid) => {
                        plan.pids.push(pid);
                        plan.add_rare(&name(pid))
                    }
                    Term::Exit(exit) => plan.add_rare(&WireExit::from_exit(exit)),
                    other => node_len(other),
                };
            }
        }
        Ok(plan)
    }

    /// Encodes a rare node's value; how many bytes the node takes, with
    /// its variant's.
    fn add_rare(&mut self, value: &impl serde::Serialize) -> usize {
        let start = self.rare.len();
        serde(value, &mut self.rare);
        self.rare_ends.push(self.rare.len());
        1 + self.rare.len() - start
    }
}

/// How many bytes the nodes of `terms` take, if each is a scalar (not a
/// container, a process handle, an exit value or an opaque value).
fn scalars_len(terms: &[Term]) -> Option<usize> {
    let mut bytes = 0;
    for term in terms {
        match term {
            Term::Tuple(_)
            | Term::List(_)
            | Term::Map(_)
            | Term::Pid(_)
            | Term::Exit(_)
            | Term::Opaque(_) => return None,
            scalar => bytes += node_len(scalar),
        }
    }
    Some(bytes)
}

/// How many bytes [`write_node`] writes for `term`.
fn node_len(term: &Term) -> usize {
    match term {
        Term::Bool(_) => 2,
        Term::Int(v) => 1 + varint_len(zigzag(*v)),
        Term::Float(_) => 9,
        Term::Char(v) => 2 + v.len_utf8(),
        Term::Str(v) => 1 + varint_len(v.len() as u128) + v.len(),
        Term::Bytes(v) => 1 + varint_len(v.len() as u128) + v.len(),
        Term::Tuple(items) | Term::List(items) => 1 + varint_len(items.len() as u128),
        Term::Map(map) => 1 + varint_len(map.len() as u128),
        // Measured as they are encoded; an opaque value is refused.
        Term::Pid(_) | Term::Exit(_) | Term::Opaque(_) => 1,
    }
}

/// An integer as postcard writes a signed one: zigzag, then a varint.
fn zigzag(v: i128) -> u128 {
    ((v << 1) ^ (v >> 127)) as u128
}

/// How many bytes [`varint`] writes for `value`.
fn varint_len(value: u128) -> usize {
    let bits = 128 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Appends `value` as an unsigned LEB128 varint, as postcard writes every
/// integer wider than a byte.
fn varint(mut value: u128, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a length-prefixed byte string.
fn bytes(value: &[u8], out: &mut Vec<u8>) {
    varint(value.len() as u128, out);
    out.extend_from_slice(value);
}

/// Appends a value with postcard's serde encoder, for the rare nodes.
fn serde(value: &impl serde::Serialize, out: &mut Vec<u8>) {
    let vec = std::mem::take(out);
    *out = postcard::to_extend(value, vec)
        .expect("serializing a process handle or exit into a Vec cannot fail");
}

/// What [`write_node`] wrote.
#[derive(PartialEq, Eq)]
enum Written {
    /// The whole node (a container's, without the terms inside it).
    Node,
    /// Only a rare node's variant: its value is the caller's to append.
    Header,
}

/// Appends `term`'s own node: its [`Node`] variant's index, then its value
/// (a container's length; the terms inside it are nodes of their own).
fn write_node(term: &Term, out: &mut Vec<u8>) -> Written {
    match term {
        Term::Bool(v) => out.extend_from_slice(&[0, u8::from(*v)]),
        Term::Int(v) => {
            out.push(1);
            varint(zigzag(*v), out);
        }
        Term::Float(v) => {
            out.push(2);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Term::Char(v) => {
            out.push(3);
            bytes(v.encode_utf8(&mut [0; 4]).as_bytes(), out);
        }
        Term::Str(v) => {
            out.push(4);
            bytes(v.as_bytes(), out);
        }
        Term::Bytes(v) => {
            out.push(5);
            bytes(v, out);
        }
        Term::Tuple(items) => {
            out.push(6);
            varint(items.len() as u128, out);
        }
        Term::List(items) => {
            out.push(7);
            varint(items.len() as u128, out);
        }
        Term::Map(map) => {
            out.push(8);
            varint(map.len() as u128, out);
        }
        Term::Pid(_) => {
            out.push(9);
            return Written::Header;
        }
        Term::Exit(_) => {
            out.push(10);
            return Written::Header;
        }
        // Refused by `Plan::of`; a tuple of none, were it to get here.
        Term::Opaque(_) => out.extend_from_slice(&[6, 0]),
    }
    Written::Node
}
