//! Messages: tuples of terms, and what converts into one.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use smallvec::{SmallVec, smallvec};

use crate::exit::Exit;
use crate::pid::Pid;
use crate::term::{self, Bytes, IntoTerm, Opaque, Term, for_each_tuple, write_tuple};

/// A message: a tuple of terms, like an Erlang tuple.
///
/// `pid.send(("hello", 1))` sends the 2-element message `("hello", 1)`,
/// `pid.send("go away")` the 1-element message `("go away",)`, `pid.send(())`
/// the empty message and `pid.send(((1, 2),))` a 1-element message whose
/// element is a tuple.
///
/// A message of one element is stored inline: sending it allocates nothing
/// beyond what the element owns. A longer message takes one allocation for
/// its elements; keeping the inline part to one element keeps every queued
/// message small (48 bytes), which measured faster under load than two
/// elements inline (80 bytes).
#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Message(Elements);

/// A message's elements: one inline.
pub(crate) type Elements = SmallVec<[Term; 1]>;

impl Message {
    /// The message made of `terms`.
    pub fn new(terms: Vec<Term>) -> Message {
        Message(Elements::from_vec(terms))
    }

    pub(crate) fn from_terms(terms: Elements) -> Message {
        Message(terms)
    }

    /// The message's elements.
    pub fn terms(&self) -> &[Term] {
        &self.0
    }

    /// The message's elements, by value, in a `Vec` (which a one-element
    /// message allocates; iterate the message to avoid that).
    pub fn into_terms(mut self) -> Vec<Term> {
        std::mem::take(&mut self.0).into_vec()
    }

    /// How many elements the message has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the empty message `()`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for Message {
    type Item = Term;
    type IntoIter = IntoIter;

    /// The message's elements, by value, without allocating.
    fn into_iter(mut self) -> IntoIter {
        IntoIter(std::mem::take(&mut self.0).into_iter())
    }
}

impl Drop for Message {
    /// Drops the elements one at a time, as a term drops its own (see
    /// [`Terms`](crate::Terms)): a panic in one element's `Drop` leaves
    /// the others to be dropped before it goes on.
    fn drop(&mut self) {
        if self.0.iter().any(term::needs_care) {
            term::dismantle(std::mem::take(&mut self.0).into_vec());
        }
    }
}

/// The elements of a [`Message`], by value.
pub struct IntoIter(smallvec::IntoIter<[Term; 1]>);

impl Iterator for IntoIter {
    type Item = Term;

    fn next(&mut self) -> Option<Term> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for IntoIter {}

impl fmt::Debug for Message {
    /// The message as a Rust tuple: `()`, `("go away",)`, `("hello", 1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tuple(f, &self.0)
    }
}

/// Conversion into a [`Message`]: a tuple becomes the message's elements,
/// any other value a 1-element message.
pub trait IntoMessage {
    /// Converts `self` into a message.
    fn into_message(self) -> Message;
}

impl IntoMessage for Message {
    fn into_message(self) -> Message {
        self
    }
}

impl IntoMessage for () {
    fn into_message(self) -> Message {
        Message(Elements::new())
    }
}

impl<T: Opaque> IntoMessage for T {
    fn into_message(self) -> Message {
        Message(smallvec![self.into_term()])
    }
}

macro_rules! single {
    ($($t:ty),* $(,)?) => {$(
        impl IntoMessage for $t {
            fn into_message(self) -> Message {
                Message(smallvec![self.into_term()])
            }
        }
    )*};
}
single!(
    bool,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    char,
    String,
    &str,
    &String,
    Box<str>,
    Bytes,
    Pid,
    &Pid,
    Exit,
    Term,
);

impl<T: IntoTerm> IntoMessage for Vec<T> {
    fn into_message(self) -> Message {
        Message(smallvec![self.into_term()])
    }
}

impl<T: IntoTerm, const N: usize> IntoMessage for [T; N] {
    fn into_message(self) -> Message {
        Message(smallvec![self.into_term()])
    }
}

impl<T: IntoTerm + Clone> IntoMessage for &[T] {
    fn into_message(self) -> Message {
        Message(smallvec![self.into_term()])
    }
}

impl<K: IntoTerm, V: IntoTerm> IntoMessage for BTreeMap<K, V> {
    fn into_message(self) -> Message {
        Message(smallvec![self.into_term()])
    }
}

impl<K: IntoTerm, V: IntoTerm, S> IntoMessage for HashMap<K, V, S> {
    fn into_message(self) -> Message {
        Message(smallvec![self.into_term()])
    }
}

macro_rules! tuples {
    ($( ($($n:tt $t:ident),*) )*) => {$(
        impl<$($t: IntoTerm),*> IntoMessage for ($($t,)*) {
            fn into_message(self) -> Message {
                Message(smallvec![$(self.$n.into_term()),*])
            }
        }
    )*};
}

for_each_tuple!(tuples);
