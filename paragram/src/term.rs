//! Terms: the values a message is made of, and their conversions to and from Rust types.

use std::any::{Any, TypeId};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::exit::Exit;
use crate::pid::Pid;

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
    Tuple(Vec<Term>),
    /// A list, from a `Vec`, an array or a slice.
    List(Vec<Term>),
    /// A map from terms to terms, from a `BTreeMap` or a `HashMap`.
    Map(BTreeMap<Term, Term>),
    /// A process handle.
    Pid(Pid),
    /// An exit value.
    Exit(Exit),
    /// Any other Rust value, matched only by its exact type.
    Opaque(OpaqueValue),
}

impl Term {
    /// The name of this term's kind, as used in error messages.
    pub fn kind(&self) -> &'static str {
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
        match self {
            Term::Opaque(_) => false,
            Term::Tuple(items) | Term::List(items) => items.iter().all(Term::is_serializable),
            Term::Map(map) => map
                .iter()
                .all(|(k, v)| k.is_serializable() && v.is_serializable()),
            _ => true,
        }
    }

    /// A deep copy of this term, or `None` if it holds an opaque value
    /// anywhere inside (opaque values cannot be copied).
    ///
    /// Copied handles and exit values keep their identity: the copy of a
    /// `Pid` or an `Exit` equals the original.
    pub fn try_clone(&self) -> Option<Term> {
        Some(match self {
            Term::Bool(v) => Term::Bool(*v),
            Term::Int(v) => Term::Int(*v),
            Term::Float(v) => Term::Float(*v),
            Term::Char(v) => Term::Char(*v),
            Term::Str(v) => Term::Str(v.clone()),
            Term::Bytes(v) => Term::Bytes(v.clone()),
            Term::Tuple(items) => {
                Term::Tuple(items.iter().map(Term::try_clone).collect::<Option<_>>()?)
            }
            Term::List(items) => {
                Term::List(items.iter().map(Term::try_clone).collect::<Option<_>>()?)
            }
            Term::Map(map) => Term::Map(
                map.iter()
                    .map(|(k, v)| Some((k.try_clone()?, v.try_clone()?)))
                    .collect::<Option<_>>()?,
            ),
            Term::Pid(v) => Term::Pid(v.clone()),
            Term::Exit(v) => Term::Exit(v.clone()),
            Term::Opaque(_) => return None,
        })
    }

    /// Converts this term into `T`, or hands it back if it does not fit.
    pub fn into_value<T: FromTerm>(self) -> Result<T, Term> {
        T::from_term(self)
    }

    /// Whether this term converts into `T`.
    pub fn is<T: FromTerm>(&self) -> bool {
        T::matches(self)
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

impl PartialEq for Term {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Term {}

impl PartialOrd for Term {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Term {
    /// Terms of different kinds order by kind (numbers first, as in
    /// Erlang's term order); terms of one kind by value.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Term::Bool(a), Term::Bool(b)) => a.cmp(b),
            (Term::Int(a), Term::Int(b)) => a.cmp(b),
            (Term::Float(a), Term::Float(b)) => a.total_cmp(b),
            (Term::Char(a), Term::Char(b)) => a.cmp(b),
            (Term::Str(a), Term::Str(b)) => a.cmp(b),
            (Term::Bytes(a), Term::Bytes(b)) => a.cmp(b),
            (Term::Tuple(a), Term::Tuple(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Term::List(a), Term::List(b)) => a.cmp(b),
            (Term::Map(a), Term::Map(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Term::Pid(a), Term::Pid(b)) => a.cmp(b),
            (Term::Exit(a), Term::Exit(b)) => a.identity().cmp(&b.identity()),
            (Term::Opaque(a), Term::Opaque(b)) => a.key().cmp(&b.key()),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Term {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Term::Bool(v) => v.hash(state),
            Term::Int(v) => v.hash(state),
            Term::Float(v) => v.to_bits().hash(state),
            Term::Char(v) => v.hash(state),
            Term::Str(v) => v.hash(state),
            Term::Bytes(v) => v.hash(state),
            Term::Tuple(v) | Term::List(v) => v.hash(state),
            Term::Map(v) => v.hash(state),
            Term::Pid(v) => v.hash(state),
            Term::Exit(v) => v.identity().hash(state),
            Term::Opaque(v) => v.key().hash(state),
        }
    }
}

impl fmt::Debug for Term {
    /// Erlang-like notation with Rust literals: `("hello", 1, [2.5, 'c'])`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Bool(v) => write!(f, "{v}"),
            Term::Int(v) => write!(f, "{v}"),
            Term::Float(v) => write!(f, "{v:?}"),
            Term::Char(v) => write!(f, "{v:?}"),
            Term::Str(v) => write!(f, "{v:?}"),
            Term::Bytes(v) => write!(f, "b{:?}", Bytes::ascii(v)),
            Term::Tuple(items) => write_tuple(f, items),
            Term::List(items) => f.debug_list().entries(items).finish(),
            Term::Map(map) => f.debug_map().entries(map).finish(),
            Term::Pid(v) => write!(f, "{v:?}"),
            Term::Exit(v) => write!(f, "{v:?}"),
            Term::Opaque(v) => write!(f, "{v:?}"),
        }
    }
}

/// Writes `items` as a Rust tuple: `()`, `(1,)`, `(1, 2)`.
pub(crate) fn write_tuple(f: &mut fmt::Formatter<'_>, items: &[Term]) -> fmt::Result {
    f.write_str("(")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item:?}")?;
    }
    if items.len() == 1 {
        f.write_str(",")?;
    }
    f.write_str(")")
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
        match any.downcast_ref::<LargeU128>() {
            Some(large) => (any.type_id(), large.0),
            None => (
                any.type_id(),
                std::ptr::from_ref(any).cast::<u8>() as usize as u128,
            ),
        }
    }
}

impl fmt::Debug for OpaqueValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.type_name)
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

impl Bytes {
    fn ascii(bytes: &[u8]) -> String {
        bytes.escape_ascii().to_string()
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{:?}", Bytes::ascii(&self.0))
    }
}

/// Conversion of a Rust value into a [`Term`].
///
/// Implemented for every primitive, `String`, `&str`, `Vec`, arrays,
/// slices of convertible values, tuples up to 12 elements, `BTreeMap`,
/// `HashMap`, [`Pid`], [`Exit`], [`Bytes`], `Term` itself and every
/// [`Opaque`] type.
pub trait IntoTerm {
    /// Converts `self` into a term.
    fn into_term(self) -> Term;
}

/// Conversion of a [`Term`] back into a Rust value: what a type pattern
/// (`#[receive(i32)]`, `pattern!(String)`) matches and binds.
pub trait FromTerm: Sized {
    /// Whether `term` converts into `Self`. Never panics.
    fn matches(term: &Term) -> bool;

    /// Converts `term`, or hands it back if it does not fit.
    fn from_term(term: Term) -> Result<Self, Term>;
}

impl IntoTerm for Term {
    fn into_term(self) -> Term {
        self
    }
}

impl FromTerm for Term {
    fn matches(_: &Term) -> bool {
        true
    }
    fn from_term(term: Term) -> Result<Self, Term> {
        Ok(term)
    }
}

impl<T: Opaque> IntoTerm for T {
    fn into_term(self) -> Term {
        Term::Opaque(OpaqueValue::new(self))
    }
}

impl<T: Opaque> FromTerm for T {
    fn matches(term: &Term) -> bool {
        matches!(term, Term::Opaque(v) if v.is::<T>())
    }
    fn from_term(term: Term) -> Result<Self, Term> {
        match term {
            Term::Opaque(v) => v.downcast().map_err(Term::Opaque),
            other => Err(other),
        }
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl IntoTerm for $t {
            fn into_term(self) -> Term {
                Term::Int(self as i128)
            }
        }
        impl FromTerm for $t {
            fn matches(term: &Term) -> bool {
                matches!(term, Term::Int(v) if <$t>::try_from(*v).is_ok())
            }
            fn from_term(term: Term) -> Result<Self, Term> {
                match term {
                    Term::Int(v) => <$t>::try_from(v).map_err(|_| term),
                    other => Err(other),
                }
            }
        }
    )*};
}
integers!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, usize);

/// `u128` values above `i128::MAX` do not fit an integer term; they are
/// kept as opaque values instead, so no value is ever lost.
impl IntoTerm for u128 {
    fn into_term(self) -> Term {
        match i128::try_from(self) {
            Ok(v) => Term::Int(v),
            Err(_) => Term::Opaque(OpaqueValue::new(LargeU128(self))),
        }
    }
}

impl FromTerm for u128 {
    fn matches(term: &Term) -> bool {
        match term {
            Term::Int(v) => *v >= 0,
            Term::Opaque(v) => v.is::<LargeU128>(),
            _ => false,
        }
    }
    fn from_term(term: Term) -> Result<Self, Term> {
        match term {
            Term::Int(v) => u128::try_from(v).map_err(|_| term),
            Term::Opaque(v) => v.downcast::<LargeU128>().map(|v| v.0).map_err(Term::Opaque),
            other => Err(other),
        }
    }
}

/// A `u128` too large for [`Term::Int`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LargeU128(u128);
impl Opaque for LargeU128 {}

macro_rules! floats {
    ($($t:ty => $exact_bits:expr),*) => {$(
        impl IntoTerm for $t {
            fn into_term(self) -> Term {
                Term::Float(f64::from(self))
            }
        }

        /// A float pattern also accepts integers that convert exactly, so
        /// that a predicate such as `|x: f64| x > 20.0` matches `42` as well
        /// as `67.7`; any float converts (to `f32` rounded, as `as` does).
        /// Equality stays strict: the literal `1.0` never matches `1`.
        impl FromTerm for $t {
            fn matches(term: &Term) -> bool {
                match term {
                    Term::Float(_) => true,
                    Term::Int(v) => v.unsigned_abs() <= 1 << $exact_bits,
                    _ => false,
                }
            }
            fn from_term(term: Term) -> Result<Self, Term> {
                match term {
                    Term::Float(v) => Ok(v as $t),
                    Term::Int(v) if v.unsigned_abs() <= 1 << $exact_bits => Ok(v as $t),
                    other => Err(other),
                }
            }
        }
    )*};
}
// Integers up to 2^53 (f64) and 2^24 (f32) in magnitude convert exactly.
floats!(f64 => 53, f32 => 24);

macro_rules! scalars {
    ($($t:ty => $variant:ident),*) => {$(
        impl IntoTerm for $t {
            fn into_term(self) -> Term {
                Term::$variant(self)
            }
        }
        impl FromTerm for $t {
            fn matches(term: &Term) -> bool {
                matches!(term, Term::$variant(_))
            }
            fn from_term(term: Term) -> Result<Self, Term> {
                match term {
                    Term::$variant(v) => Ok(v),
                    other => Err(other),
                }
            }
        }
    )*};
}
scalars!(bool => Bool, char => Char, String => Str, Pid => Pid, Exit => Exit);

impl IntoTerm for &str {
    fn into_term(self) -> Term {
        Term::Str(self.to_owned())
    }
}

impl IntoTerm for &String {
    fn into_term(self) -> Term {
        Term::Str(self.clone())
    }
}

impl IntoTerm for &Pid {
    fn into_term(self) -> Term {
        Term::Pid(self.clone())
    }
}

impl IntoTerm for Box<str> {
    fn into_term(self) -> Term {
        Term::Str(self.into_string())
    }
}

impl IntoTerm for Bytes {
    fn into_term(self) -> Term {
        Term::Bytes(self.0)
    }
}

impl FromTerm for Bytes {
    fn matches(term: &Term) -> bool {
        matches!(term, Term::Bytes(_))
    }
    fn from_term(term: Term) -> Result<Self, Term> {
        match term {
            Term::Bytes(v) => Ok(Bytes(v)),
            other => Err(other),
        }
    }
}

impl<T: IntoTerm> IntoTerm for Vec<T> {
    fn into_term(self) -> Term {
        Term::List(self.into_iter().map(IntoTerm::into_term).collect())
    }
}

impl<T: IntoTerm, const N: usize> IntoTerm for [T; N] {
    fn into_term(self) -> Term {
        Term::List(self.into_iter().map(IntoTerm::into_term).collect())
    }
}

impl<T: IntoTerm + Clone> IntoTerm for &[T] {
    fn into_term(self) -> Term {
        Term::List(self.iter().cloned().map(IntoTerm::into_term).collect())
    }
}

/// A `Vec<T>` converts from a list whose every element converts to `T`,
/// and from a byte string where `T` accepts integers (`Vec<u8>` from
/// [`Bytes`]).
impl<T: FromTerm> FromTerm for Vec<T> {
    fn matches(term: &Term) -> bool {
        match term {
            Term::List(items) => items.iter().all(T::matches),
            Term::Bytes(bytes) => bytes.iter().all(|b| T::matches(&Term::Int(i128::from(*b)))),
            _ => false,
        }
    }
    fn from_term(term: Term) -> Result<Self, Term> {
        if !Self::matches(&term) {
            return Err(term);
        }
        let items: Vec<Term> = match term {
            Term::List(items) => items,
            Term::Bytes(bytes) => bytes
                .into_iter()
                .map(|b| Term::Int(i128::from(b)))
                .collect(),
            other => return Err(other),
        };
        Ok(items
            .into_iter()
            .filter_map(|t| T::from_term(t).ok())
            .collect())
    }
}

impl<K: IntoTerm, V: IntoTerm> IntoTerm for BTreeMap<K, V> {
    fn into_term(self) -> Term {
        Term::Map(
            self.into_iter()
                .map(|(k, v)| (k.into_term(), v.into_term()))
                .collect(),
        )
    }
}

impl<K: IntoTerm, V: IntoTerm, S> IntoTerm for HashMap<K, V, S> {
    fn into_term(self) -> Term {
        Term::Map(
            self.into_iter()
                .map(|(k, v)| (k.into_term(), v.into_term()))
                .collect(),
        )
    }
}

fn map_matches<K: FromTerm, V: FromTerm>(term: &Term) -> bool {
    matches!(term, Term::Map(map) if map.iter().all(|(k, v)| K::matches(k) && V::matches(v)))
}

fn map_entries<K: FromTerm, V: FromTerm>(term: Term) -> Result<impl Iterator<Item = (K, V)>, Term> {
    if !map_matches::<K, V>(&term) {
        return Err(term);
    }
    let Term::Map(map) = term else {
        return Err(term);
    };
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| Some((K::from_term(k).ok()?, V::from_term(v).ok()?))))
}

impl<K: FromTerm + Ord, V: FromTerm> FromTerm for BTreeMap<K, V> {
    fn matches(term: &Term) -> bool {
        map_matches::<K, V>(term)
    }
    fn from_term(term: Term) -> Result<Self, Term> {
        map_entries(term).map(Iterator::collect)
    }
}

impl<K: FromTerm + Eq + Hash, V: FromTerm> FromTerm for HashMap<K, V> {
    fn matches(term: &Term) -> bool {
        map_matches::<K, V>(term)
    }
    fn from_term(term: Term) -> Result<Self, Term> {
        map_entries(term).map(Iterator::collect)
    }
}

macro_rules! tuples {
    ($( ($($n:tt $t:ident),*) )*) => {$(
        impl<$($t: IntoTerm),*> IntoTerm for ($($t,)*) {
            fn into_term(self) -> Term {
                Term::Tuple(vec![$(self.$n.into_term()),*])
            }
        }
        impl<$($t: FromTerm),*> FromTerm for ($($t,)*) {
            fn matches(term: &Term) -> bool {
                match term {
                    Term::Tuple(items) => {
                        const ARITY: usize = [$($n),*].len();
                        items.len() == ARITY $(&& $t::matches(&items[$n]))*
                    }
                    _ => false,
                }
            }
            fn from_term(term: Term) -> Result<Self, Term> {
                if !Self::matches(&term) {
                    return Err(term);
                }
                let Term::Tuple(items) = term else { return Err(term) };
                let mut items = items.into_iter();
                Ok(($($t::from_term(next_item(&mut items, $n))?,)*))
            }
        }
    )*};
}

/// The next element of a tuple already checked to have enough elements.
fn next_item(items: &mut std::vec::IntoIter<Term>, _position: usize) -> Term {
    items.next().unwrap_or(Term::Tuple(Vec::new()))
}

for_each_tuple!(tuples);

impl IntoTerm for () {
    fn into_term(self) -> Term {
        Term::Tuple(Vec::new())
    }
}

impl FromTerm for () {
    fn matches(term: &Term) -> bool {
        matches!(term, Term::Tuple(items) if items.is_empty())
    }
    fn from_term(term: Term) -> Result<Self, Term> {
        if Self::matches(&term) {
            Ok(())
        } else {
            Err(term)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_is_strict_across_kinds() {
        let kinds = [
            1.into_term(),
            1.0.into_term(),
            true.into_term(),
            '1'.into_term(),
            "1".into_term(),
        ];
        for (i, a) in kinds.iter().enumerate() {
            for (j, b) in kinds.iter().enumerate() {
                assert_eq!(a == b, i == j, "{a:?} against {b:?}");
            }
        }
    }

    #[test]
    fn float_patterns_reject_the_most_negative_integer_without_panicking() {
        let min = Term::Int(i128::MIN);
        assert!(!f64::matches(&min));
        assert!(!f32::matches(&min));
        assert!(f64::matches(&Term::Int(-(1 << 53))));
        assert!(!f64::matches(&Term::Int((1 << 53) + 1)));
    }

    #[test]
    fn large_u128_values_compare_by_value() {
        assert_eq!(u128::MAX.into_term(), u128::MAX.into_term());
        assert_ne!(u128::MAX.into_term(), (u128::MAX - 1).into_term());
        assert_eq!(u128::MAX.into_term().into_value::<u128>(), Ok(u128::MAX));
    }

    #[test]
    fn opaque_values_compare_by_identity() {
        #[derive(Debug)]
        struct Token(#[allow(dead_code)] u8);
        impl Opaque for Token {}
        let a = Token(1).into_term();
        let b = Token(1).into_term();
        assert_eq!(a, a);
        assert_ne!(a, b);
    }

    #[test]
    fn integers_convert_back_only_where_they_fit() {
        assert_eq!(300.into_term().into_value::<u8>().ok(), None);
        assert_eq!(255.into_term().into_value::<u8>().ok(), Some(255u8));
        assert_eq!((-1).into_term().into_value::<u64>().ok(), None);
    }
}
