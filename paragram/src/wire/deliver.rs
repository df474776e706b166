//! The hot path: a message encoded straight from its terms into a
//! `Deliver` frame, and decoded straight back into terms.

use crate::message::Message;
use crate::pid::Pid;
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
/// intermediate nodes. Each process handle is named with `pid`.
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
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(DELIVER);
    varint(u128::from(to), out);
    varint(count as u128, out);
    let mut pids = pids.iter();
    for term in terms {
        write_nodes(term, &mut pids, out);
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
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

/// Appends `term`'s nodes in pre-order: each its [`Node`] variant's index,
/// then its value.
fn write_nodes(term: &Term, pids: &mut std::slice::Iter<'_, WirePid>, out: &mut Vec<u8>) {
    match term {
        Term::Bool(v) => out.extend_from_slice(&[0, u8::from(*v)]),
        Term::Int(v) => {
            out.push(1);
            varint(((v << 1) ^ (v >> 127)) as u128, out);
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
        Term::Tuple(items) | Term::List(items) => {
            out.push(if matches!(term, Term::Tuple(_)) { 6 } else { 7 });
            varint(items.len() as u128, out);
            for item in items {
                write_nodes(item, pids, out);
            }
        }
        Term::Map(map) => {
            out.push(8);
            varint(map.len() as u128, out);
            for (k, v) in map {
                write_nodes(k, pids, out);
                write_nodes(v, pids, out);
            }
        }
        Term::Pid(_) => {
            out.push(9);
            // Named in the same order by `count_nodes`.
            if let Some(p) = pids.next() {
                serde(p, out);
            }
        }
        Term::Exit(e) => {
            out.push(10);
            serde(&WireExit::from_exit(e), out);
        }
        // Refused before encoding; a tuple of none, were it to get here.
        Term::Opaque(_) => out.extend_from_slice(&[6, 0]),
    }
}
