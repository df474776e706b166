//! Conversions between terms and Rust values.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use super::{Bytes, Opaque, OpaqueValue, Term, Terms, for_each_tuple};
use crate::exit::Exit;
use crate::pid::Pid;

/// Conversion of a Rust value into a [`Term`].
///
/// Implemented for every primitive, `String`, `&str`, `Vec`, arrays,
/// slices of convertible values, tuples up to 12 elements, `BTreeMap`,
/// `HashMap`, [`Pid`], [`Exit`], [`Bytes`], `Term` itself and every
/// [`Opaque`] type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a term",
    label = "not a term",
    note = "primitives, strings, `Vec`s, arrays, tuples, maps, `Pid`, `Exit`, `Bytes` and `Term` \
            convert into terms; carry any other `Send + 'static` type as it is with \
            `impl paragram::Opaque for {Self} {{}}`"
)]
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
pub(super) struct LargeU128(pub(super) u128);
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
            Term::List(items) => items.into_vec(),
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
                Term::Tuple(Terms(vec![$(self.$n.into_term()),*]))
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
                let mut items = items.into_vec().into_iter();
                Ok(($($t::from_term(next_item(&mut items, $n))?,)*))
            }
        }
    )*};
}

/// The next element of a tuple already checked to have enough elements.
fn next_item(items: &mut std::vec::IntoIter<Term>, _position: usize) -> Term {
    items.next().unwrap_or(Term::Tuple(Terms::new()))
}

for_each_tuple!(tuples);

impl IntoTerm for () {
    fn into_term(self) -> Term {
        Term::Tuple(Terms::new())
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
