//! Round trips, hostile frames and the direct encoding against the
//! reference one.

use std::collections::BTreeMap;

use super::flat::{ResolvePid, flatten, unflatten};
use super::reader::CHUNK;
use super::*;
use crate::exit::Exit;
use crate::message::Message;
use crate::pid::Pid;
use crate::term::Term;

fn no_pids(_: WirePid) -> Result<Pid, WireError> {
    Err(WireError::Malformed("pid".into()))
}

/// A frame body decoded as the connection's reader decodes it: a
/// `Deliver` frame's target and message.
fn decode_message(body: &[u8], pid: &mut ResolvePid<'_>) -> Result<(u64, Message), WireError> {
    match decode_incoming(body)? {
        Incoming::Deliver { to, message } => {
            let mut out = Vec::new();
            message.decode_into(pid, &mut out, |m| m)?;
            Ok((to, out.pop().expect("one message")))
        }
        Incoming::Other(_) => Err(WireError::Malformed("not a Deliver frame".into())),
    }
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
    )
    .unwrap();
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
        Term::tuple([Term::Int(1), Term::list([Term::Float(2.5)])]),
        Term::Map(map.into()),
        Term::Bytes(vec![0, 255]),
        Term::Char('c'),
        Term::Bool(true),
        Term::Int(i128::MIN),
        Term::tuple([]),
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
    let map: BTreeMap<Term, Term> = [(Term::Int(1), Term::list([]))].into();
    let root = crate::Root::new();
    let pid = root.spawn(|_: &mut crate::Ctx| {}).unwrap();
    let wire = WirePid {
        node: 1,
        id: pid.id(),
        name: pid.name().into(),
        tag: "Thread".into(),
        exit: None,
    };
    let terms = vec![
        Term::Str("hi".into()),
        Term::tuple([Term::Bytes(vec![1, 2]), Term::Map(map.into())]),
        Term::Exit(Exit::with_error("gone")),
        Term::Float(-0.5),
        Term::Char('é'),
        Term::Bool(false),
        Term::list([Term::Int(-5), Term::Int(i128::MIN), Term::Int(i128::MAX)]),
        Term::Pid(pid.clone()),
        Term::Int(1 << 70),
    ];
    let mut expected = Vec::new();
    let message = flatten(&terms, &mut |_| wire.clone());
    encode_frame(
        &Frame::Deliver {
            to: 1 << 33,
            message,
        },
        &mut expected,
    )
    .unwrap();
    let mut direct = vec![7];
    encode_deliver(1 << 33, &terms, &mut |_| wire.clone(), &mut direct).unwrap();
    assert_eq!(direct[1..], expected[..]);
    let (to, message) = decode_message(&direct[5..], &mut |p| {
        assert_eq!(p, wire);
        Ok(pid.clone())
    })
    .unwrap();
    assert_eq!(to, 1 << 33);
    let expected = Message::new(terms.iter().map(|t| t.try_clone().unwrap()).collect());
    assert_eq!(format!("{message:?}"), format!("{expected:?}"));
    pid.terminate();
    pid.wait().unwrap();
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
        )
        .unwrap();
    }
    // One frame larger than the reader's first buffer.
    let big = Term::Bytes(vec![7; 3 * CHUNK]);
    encode_deliver(1000, &[big], &mut |_| unreachable!(), &mut bytes).unwrap();
    let mut reader = FrameReader::new(Trickle(&bytes));
    for i in 0..=1000u64 {
        let body = reader.next().unwrap().unwrap();
        let (to, _) = decode_message(body, &mut no_pids).unwrap();
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
    encode_frame(&Frame::Unreachable { seen: 3 }, &mut bytes).unwrap();
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
    encode_frame(&Frame::Unreachable { seen: 3 }, &mut bytes).unwrap();
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

/// The hand-written decoder of `Deliver` against serde's derived one: the
/// same messages from the same bytes, every node kind included.
#[test]
fn hand_decoder_reads_what_serde_writes() {
    let pid = WirePid {
        node: 77,
        id: u64::MAX,
        name: "p".into(),
        tag: "Thread".into(),
        exit: Some(WireExit::Panicked("boom".into())),
    };
    let nodes = vec![
        Node::Tuple(9),
        Node::Bool(false),
        Node::Bool(true),
        Node::Int(i128::MIN),
        Node::Int(i128::MAX),
        Node::Int(-1),
        Node::Float(f64::NEG_INFINITY),
        Node::Char('\u{10ffff}'),
        Node::Str("ünïcode".into()),
        Node::Bytes(vec![0, 1, 255]),
        Node::List(0),
        Node::Map(1),
        Node::Exit(WireExit::Error("e".into())),
        Node::Pid(pid.clone()),
    ];
    let mut bytes = Vec::new();
    encode_frame(
        &Frame::Deliver {
            to: 1 << 40,
            message: nodes,
        },
        &mut bytes,
    )
    .unwrap();
    let mut seen = Vec::new();
    let refused = decode_message(&bytes[4..], &mut |p| {
        seen.push(p);
        Err(WireError::Malformed("pid".into()))
    });
    assert!(refused.is_err());
    assert_eq!(seen, vec![pid]);
    // Without the handle, the rest decodes to what serde decodes.
    let nodes = || {
        vec![
            Node::Tuple(4),
            Node::Char('x'),
            Node::Float(0.25),
            Node::Int(300),
            Node::Bytes(vec![]),
        ]
    };
    let expected = format!("{:?}", unflatten(nodes(), &mut no_pids).unwrap());
    let nodes = nodes();
    let mut bytes = Vec::new();
    encode_frame(
        &Frame::Deliver {
            to: 3,
            message: nodes,
        },
        &mut bytes,
    )
    .unwrap();
    let (to, message) = decode_message(&bytes[4..], &mut no_pids).unwrap();
    assert_eq!((to, format!("{message:?}")), (3, expected));
}

/// Corrupted `Deliver` frames: the hand-written decoder never panics, and
/// where serde's decoder reads a message, it reads the same one.
#[test]
fn hand_decoder_agrees_with_serde_on_corrupted_frames() {
    let nodes = vec![
        Node::Tuple(3),
        Node::Str("ab".into()),
        Node::Int(-70_000),
        Node::List(2),
        Node::Char('é'),
        Node::Float(1.5),
    ];
    let mut frame = Vec::new();
    encode_frame(
        &Frame::Deliver {
            to: 5,
            message: nodes,
        },
        &mut frame,
    )
    .unwrap();
    let body = &frame[4..];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut agreed = 0;
    for round in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut bytes = body.to_vec();
        let at = 1 + (seed as usize % (bytes.len() - 1));
        bytes[at] = (seed >> 32) as u8;
        if round % 3 == 0 {
            bytes.truncate(1 + (seed >> 40) as usize % bytes.len());
        }
        let hand = decode_message(&bytes, &mut no_pids);
        let by_serde = match decode_frame(&bytes) {
            Ok(Frame::Deliver { to, message }) => unflatten(message, &mut no_pids).map(|m| (to, m)),
            Ok(_) => continue,
            Err(error) => Err(error),
        };
        if let (Ok((to, message)), Ok((to2, expected))) = (&hand, &by_serde) {
            assert_eq!((to, format!("{message:?}")), (to2, format!("{expected:?}")));
            agreed += 1;
        } else {
            assert_eq!(
                hand.is_ok(),
                by_serde.is_ok(),
                "decoders disagree on {bytes:?}"
            );
        }
    }
    assert!(agreed > 100, "only {agreed} corrupted frames still decoded");
}

/// A linked exit crosses with its peer and its root cause, flat: read
/// back, it is a `LinkedExit` again, whose cause is the panic itself.
#[test]
fn linked_exit_crosses_whole_and_flat() {
    let root = crate::Root::new();
    let peer = root.spawn(|_: &mut crate::Ctx| {}).unwrap();
    let panicked = Exit::with_error(crate::exit::Panicked {
        message: "boom".into(),
    });
    let once = Exit::with_error(crate::exit::LinkedExit::new(&peer, &panicked));
    let twice = Exit::with_error(crate::exit::LinkedExit::new(&peer, &once));
    let wire = WireExit::from_exit(&twice);
    let WireExit::Linked { peer: named, cause } = &wire else {
        panic!("not linked: {wire:?}")
    };
    assert_eq!((named.id, named.name.as_str()), (peer.id(), peer.name()));
    assert_eq!(cause, &WireCause::Panicked("boom".into()));
    let back = wire.into_exit();
    let linked = back.downcast_ref::<crate::exit::LinkedExit>().unwrap();
    assert_eq!(linked.peer.name(), peer.name());
    let cause = linked
        .cause
        .downcast_ref::<crate::exit::Panicked>()
        .unwrap();
    assert_eq!(cause.message, "boom");
    peer.terminate();
    peer.wait().unwrap();
}

/// Varints longer than their width takes are refused, as postcard refuses
/// them: a node's index, a u32, in six bytes.
#[test]
fn overlong_varints_are_refused() {
    let mut bytes = vec![1, 0, 1];
    bytes.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    assert!(decode_message(&bytes, &mut no_pids).is_err());
    assert!(decode_frame(&bytes).is_err());
    // The same index in its five bytes is read (and is Bool).
    let mut bytes = vec![1, 0, 1];
    bytes.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x00, 1]);
    let (_, message) = decode_message(&bytes, &mut no_pids).unwrap();
    assert_eq!(message.terms(), &[Term::Bool(true)]);
}

/// A message of scalars only takes the encoder's short path: the same
/// bytes as the reference encoding, and the same refusal past the limit.
#[test]
fn scalar_messages_encode_as_the_reference_does() {
    let terms = vec![
        Term::Bool(true),
        Term::Int(-1 << 90),
        Term::Float(f64::NAN),
        Term::Char('ß'),
        Term::Str("scalar".into()),
        Term::Bytes(vec![0; 300]),
    ];
    let mut expected = Vec::new();
    let message = flatten(&terms, &mut |_| unreachable!());
    encode_frame(&Frame::Deliver { to: 9, message }, &mut expected).unwrap();
    let mut direct = Vec::new();
    encode_deliver(9, &terms, &mut |_| unreachable!(), &mut direct).unwrap();
    assert_eq!(direct, expected);
    let huge = [Term::Bytes(vec![0; MAX_FRAME])];
    let mut out = Vec::new();
    let refused = encode_deliver(9, &huge, &mut |_| unreachable!(), &mut out);
    assert!(matches!(
        refused,
        Err(crate::pid::SendFailure::TooLarge { bytes, .. }) if bytes > MAX_FRAME as u64
    ));
    assert!(out.is_empty(), "nothing is written for a refused message");
}
