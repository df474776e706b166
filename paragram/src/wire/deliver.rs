//! The hot path: a message encoded straight from its terms into a
//! `Deliver` frame, and decoded straight back into terms.

use serde::ser::{SerializeSeq, SerializeStructVariant};
use serde::{Serialize, Serializer};

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
        // Up to nine bytes (63 bits) add up in a machine word.
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().take(9).enumerate() {
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
