//! Terms: the values a message is made of, and their conversions to and from Rust types.
//!
//! A term can be nested as deep as memory allows: every walk over one
//! (drop, comparison, hashing, copying, printing, encoding) keeps its own
//! stack on the heap instead of recursing, so no term, however deep, can
//! overflow a thread's stack. `walk.rs` holds those walks, `fmt.rs` the
//! printing, `convert.rs` the conversions.

mod convert;
mod fmt;
mod walk;

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use crate::exit::Exit;
use crate::pid::Pid;

pub use convert::{FromTerm, IntoTerm};
pub(crate) use fmt::write_tuple;
pub(crate) use walk::{PreOrder, dismantle, needs_care, pairs};

/// Calls macro `$m` with every tuple arity paragram converts, 1 to 12, as
/// `(index Type, ...)` lists.
macro_rules! for_each_tuple {
    ($m:ident) => {
        $m! {
            (0 A)
            (0 A, 1 B)
            (0 A, 1 B, 2 C)
            (0 A, 1 B, 2 C, 3 D)
            (0 A, 1 B, 2 C, 3 D, 4 E)
            (0 A, 1 B, 2 C, 3 D, 4 E, 5 F)
            (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G)
            (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H)
            (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I)
            (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J)
            (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K)
            (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L)
        }
    };
}
pub(crate) use for_each_tuple;

/// One element of a message: a value that can be matched by a pattern.
///
/// Equality is strict: the integer `1` never equals the float `1.0`, the
/// boolean `true` or the character `'1'`. Floats compare by their bits
/// (`total_cmp`), so every term is `Eq`, `Ord` and `Hash` and can be a map
/// key. Opaque values compare by identity.
///
/// Tuples and lists hold their elements in [`Terms`], maps in [`TermMap`]:
/// a `Vec` and a `BTreeMap` that drop without recursion, so a term nested
/// a million deep is dropped, compared, copied and printed like any other.
///
/// Every variant but [`Term::Opaque`] can be serialized; see
/// [`Term::is_serializable`].
pub enum Term {
    /// `true` or `false`.
    Bool(bool),
    /// Any integer from `i128::MIN` to `i128::MAX`; Rust's integer types
    /// convert in, and convert back only where the value fits.
    Int(i128),
    /// A 64-bit float.
    Float(f64),
    /// A Unicode scalar value.
    Char(char),
    /// A UTF-8 string.
    Str(String),
    /// A byte string, built with [`Bytes`].
    Bytes(Vec<u8>),
    /// A fixed-size tuple, from a Rust tuple.
    Tuple(Terms),
    /// A list, from a `Vec`, an array or a slice.
    List(Terms),
    /// A map from terms to terms, from a `BTreeMap` or a `HashMap`.
    Map(TermMap),
    /// A process handle.
    Pid(Pid),
    /// An exit value.
    Exit(Exit),
    /// Any other Rust value, matched only by its exact type.
    Opaque(OpaqueValue),
}

impl Term {
    /// The tuple of `items`.
    pub fn tuple(items: impl IntoIterator<Item = Term>) -> Term {
        Term::Tuple(items.into_iter().collect())
    }

    /// The list of `items`.
    pub fn list(items: impl IntoIterator<Item = Term>) -> Term {
        Term::List(items.into_iter().collect())
    }

    /// The map of `entries`; of two entries with equal keys, the last wins.
    pub fn map(entries: impl IntoIterator<Item = (Term, Term)>) -> Term {
        Term::Map(entries.into_iter().collect())
    }

    /// The name of this term's type, as used in error messages: `integer`,
    /// `string`, `list`... (`opaque` for an opaque value, whose Rust type
    /// [`OpaqueValue::type_name`] gives).
    pub fn type_name(&self) -> &'static str {
        match self {
            Term::Bool(_) => "bool",
            Term::Int(_) => "integer",
            Term::Float(_) => "float",
            Term::Char(_) => "char",
            Term::Str(_) => "string",
            Term::Bytes(_) => "bytes",
            Term::Tuple(_) => "tuple",
            Term::List(_) => "list",
            Term::Map(_) => "map",
            Term::Pid(_) => "pid",
            Term::Exit(_) => "exit",
            Term::Opaque(_) => "opaque",
        }
    }

    /// Whether this term, and every term inside it, can cross a process
    /// boundary serialized: everything but opaque values.
    pub fn is_serializable(&self) -> bool {
        self.pre_order()
            .all(|(_, term)| !matches!(term, Term::Opaque(_)))
    }

    /// How deeply tuples, lists and maps nest in this term: 0 for a term
    /// that is none of them, 1 for `[1, 2]`, 2 for `[[1], 2]`.
    pub fn depth(&self) -> usize {
        self.pre_order()
            .filter(|(_, term)| term.is_container())
            .map(|(depth, _)| depth + 1)
            .max()
            .unwrap_or(0)
    }

    /// Converts this term into `T`, or hands it back if it does not fit.
    pub fn into_value<T: FromTerm>(self) -> Result<T, Term> {
        T::from_term(self)
    }

    /// Whether this term converts into `T`.
    pub fn is<T: FromTerm>(&self) -> bool {
        T::matches(self)
    }

    /// Every term in this one, itself first, in pre-order, each with how
    /// many containers enclose it.
    pub(crate) fn pre_order(&self) -> PreOrder<'_> {
        PreOrder::new(self)
    }

    fn is_container(&self) -> bool {
        matches!(self, Term::Tuple(_) | Term::List(_) | Term::Map(_))
    }

    fn rank(&self) -> u8 {
        match self {
            Term::Int(_) => 0,
            Term::Float(_) => 1,
            Term::Bool(_) => 2,
            Term::Char(_) => 3,
            Term::Pid(_) => 4,
            Term::Exit(_) => 5,
            Term::Opaque(_) => 6,
            Term::Tuple(_) => 7,
            Term::Map(_) => 8,
            Term::List(_) => 9,
            Term::Str(_) => 10,
            Term::Bytes(_) => 11,
        }
    }
}

/// The elements of a tuple or list term: a `Vec<Term>` (it dereferences to
/// one) that drops its elements without recursion, however deep they nest.
///
/// ```
/// use paragram::{Term, Terms};
/// let terms: Terms = vec![Term::Int(1), Term::Int(2)].into();
/// assert_eq!(terms.len(), 2);
/// let list = Term::List(terms);
/// assert_eq!(format!("{list}"), "[1, 2]");
/// ```
#[derive(Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Terms(Vec<Term>);

impl Terms {
    /// No terms.
    pub const fn new() -> Terms {
        Terms(Vec::new())
    }

    /// The terms, in a `Vec`.
    pub fn into_vec(mut self) -> Vec<Term> {
        std::mem::take(&mut self.0)
    }
}

impl Deref for Terms {
    type Target = Vec<Term>;

    fn deref(&self) -> &Vec<Term> {
        &self.0
    }
}

impl DerefMut for Terms {
    fn deref_mut(&mut self) -> &mut Vec<Term> {
        &mut self.0
    }
}

impl From<Vec<Term>> for Terms {
    fn from(items: Vec<Term>) -> Terms {
        Terms(items)
    }
}

impl From<Terms> for Vec<Term> {
    fn from(terms: Terms) -> Vec<Term> {
        terms.into_vec()
    }
}

impl FromIterator<Term> for Terms {
    fn from_iter<I: IntoIterator<Item = Term>>(items: I) -> Terms {
        Terms(items.into_iter().collect())
    }
}

impl IntoIterator for Terms {
    type Item = Term;
    type IntoIter = std::vec::IntoIter<Term>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<'a> IntoIterator for &'a Terms {
    type Item = &'a Term;
    type IntoIter = std::slice::Iter<'a, Term>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a mut Terms {
    type Item = &'a mut Term;
    type IntoIter = std::slice::IterMut<'a, Term>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut()
    }
}

impl Drop for Terms {
    fn drop(&mut self) {
        walk::dismantle(std::mem::take(&mut self.0));
    }
}

/// The entries of a map term: a `BTreeMap<Term, Term>` (it dereferences to
/// one) that drops its entries without recursion, however deep they nest.
#[derive(Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TermMap(BTreeMap<Term, Term>);

impl TermMap {
    /// No entries.
    pub const fn new() -> TermMap {
        TermMap(BTreeMap::new())
    }

    /// The entries, in a `BTreeMap`.
    // `Term` keys order by value or identity, never by interior state: the
    // README's note on `mutable_key_type`.
    #[allow(clippy::mutable_key_type)]
    pub fn into_map(mut self) -> BTreeMap<Term, Term> {
        std::mem::take(&mut self.0)
    }
}

impl Deref for TermMap {
    type Target = BTreeMap<Term, Term>;

    fn deref(&self) -> &BTreeMap<Term, Term> {
        &self.0
    }
}

impl DerefMut for TermMap {
    fn deref_mut(&mut self) -> &mut BTreeMap<Term, Term> {
        &mut self.0
    }
}

impl From<BTreeMap<Term, Term>> for TermMap {
    fn from(map: BTreeMap<Term, Term>) -> TermMap {
        TermMap(map)
    }
}

impl From<TermMap> for BTreeMap<Term, Term> {
    fn from(map: TermMap) -> BTreeMap<Term, Term> {
        map.into_map()
    }
}

impl FromIterator<(Term, Term)> for TermMap {
    fn from_iter<I: IntoIterator<Item = (Term, Term)>>(entries: I) -> TermMap {
        TermMap(entries.into_iter().collect())
    }
}

impl IntoIterator for TermMap {
    type Item = (Term, Term);
    type IntoIter = std::collections::btree_map::IntoIter<Term, Term>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_map().into_iter()
    }
}

impl<'a> IntoIterator for &'a TermMap {
    type Item = (&'a Term, &'a Term);
    type IntoIter = std::collections::btree_map::Iter<'a, Term, Term>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Drop for TermMap {
    fn drop(&mut self) {
        walk::dismantle_map(std::mem::take(&mut self.0));
    }
}

/// A Rust value carried inside a term without conversion, matched by its
/// exact type. Made from any type that implements [`Opaque`].
pub struct OpaqueValue {
    value: Box<dyn Any + Send>,
    type_name: &'static str,
}

impl OpaqueValue {
    /// Wraps `value`.
    pub fn new<T: Opaque>(value: T) -> Self {
        OpaqueValue {
            value: Box::new(value),
            type_name: std::any::type_name::<T>(),
        }
    }

    /// Whether the value is a `T`.
    pub fn is<T: Opaque>(&self) -> bool {
        self.value.is::<T>()
    }

    /// A reference to the value, if it is a `T`.
    pub fn downcast_ref<T: Opaque>(&self) -> Option<&T> {
        self.value.downcast_ref()
    }

    /// The value, if it is a `T`; otherwise `self` back.
    pub fn downcast<T: Opaque>(self) -> Result<T, Self> {
        let type_name = self.type_name;
        match self.value.downcast::<T>() {
            Ok(value) => Ok(*value),
            Err(value) => Err(OpaqueValue { value, type_name }),
        }
    }

    /// The Rust type name of the value.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// What equality, ordering and hashing use: the value's type and
    /// address, so opaque values compare by identity; a `u128` too large
    /// for an integer term compares by value.
    fn key(&self) -> (TypeId, u128) {
        let any: &(dyn Any + Send) = &*self.value;
        match any.downcast_ref::<convert::LargeU128>() {
            Some(large) => (any.type_id(), large.0),
            None => (
                any.type_id(),
                std::ptr::from_ref(any).cast::<u8>() as usize as u128,
            ),
        }
    }
}

/// Marks a type as a message element carried opaquely and matched by its
/// exact type.
///
/// ```
/// #[derive(Debug, PartialEq)]
/// struct Deposit(u64);
/// impl paragram::Opaque for Deposit {}
///
/// use paragram::IntoTerm;
/// let term = Deposit(5).into_term();
/// assert_eq!(term.into_value::<Deposit>().unwrap(), Deposit(5));
/// ```
pub trait Opaque: Send + 'static {}

/// A byte string term. `Vec<u8>` converts into a list of integers; wrap it
/// in `Bytes` for a compact byte string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub Vec<u8>);
