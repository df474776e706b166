//! The hot path: a message encoded straight from its terms into a
//! `Deliver` frame, and decoded straight back into terms.

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeStructVariant};
use serde::{Deserializer, Serialize, Serializer};

use crate::message::Message;
use crate::pid::Pid;
use crate::term::Term;

use super::flat::*;
use super::*;

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
