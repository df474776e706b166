//! What the code `#[derive(Process)]` and `#[paragram::process]` generate
//! reaches the runtime through: literal comparisons that do not allocate,
//! structural checks, the predicate runner the runtime patterns use, and
//! the traits that turn type mistakes into clear compile errors.
//!
//! Not a public API: names and signatures change without notice.

pub use crate::ctx::Ctx;
pub use crate::exit::Exit;
pub use crate::message::Message;
pub use crate::process::{Handled, Outcome, Process};
pub use crate::spawn::{IntoSpawn, Spawn};
pub use crate::term::{Bytes, FromTerm, IntoTerm, Term};

use crate::pattern::{self, Elem, Pattern, TypedPattern};

/// Whether `term` is the string `value`.
pub fn lit_str(term: &Term, value: &str) -> bool {
    matches!(term, Term::Str(s) if s == value)
}

/// Whether `term` is the byte string `value`.
pub fn lit_bytes(term: &Term, value: &[u8]) -> bool {
    matches!(term, Term::Bytes(b) if b == value)
}

/// Whether `term` equals the scalar literal `value` (a number, bool or
/// char: converting one allocates nothing), with `Term`'s own equality.
pub fn lit<T: IntoTerm>(term: &Term, value: T) -> bool {
    *term == value.into_term()
}

/// Whether `term` converts to `T` and passes `test`, exactly as a runtime
/// predicate pattern decides (a panicking test is no match).
pub fn pred<T: FromTerm>(term: &Term, test: impl Fn(T) -> bool) -> bool {
    T::matches(term) && pattern::passes(|copy| T::from_term(copy).is_ok_and(&test), term)
}

/// The elements of a tuple term.
pub fn tuple(term: &Term) -> Option<&[Term]> {
    match term {
        Term::Tuple(items) => Some(items),
        _ => None,
    }
}

/// The elements of a list term.
pub fn list(term: &Term) -> Option<&[Term]> {
    match term {
        Term::List(items) => Some(items),
        _ => None,
    }
}

/// Whether `term` is a map.
pub fn is_map(term: &Term) -> bool {
    matches!(term, Term::Map(_))
}

/// The value under the key `is_key` accepts, if `term` is a map holding
/// one. A linear scan: the key is a literal compared in place, so nothing
/// is allocated to look it up.
pub fn map_get(term: &Term, is_key: impl Fn(&Term) -> bool) -> Option<&Term> {
    match term {
        Term::Map(map) => map
            .iter()
            .find(|(key, _)| is_key(key))
            .map(|(_, value)| value),
        _ => None,
    }
}

/// The elements of a tuple term, by value.
pub fn into_tuple(term: Term) -> Option<Vec<Term>> {
    match term {
        Term::Tuple(items) => Some(items.into_vec()),
        _ => None,
    }
}

/// The elements of a list term, by value.
pub fn into_list(term: Term) -> Option<Vec<Term>> {
    match term {
        Term::List(items) => Some(items.into_vec()),
        _ => None,
    }
}

/// The values under the keys `keys` accept, by value, in their order.
pub fn map_take<const N: usize>(term: Term, keys: [fn(&Term) -> bool; N]) -> [Option<Term>; N] {
    let mut values = [const { None }; N];
    if let Term::Map(map) = term {
        for (key, value) in map {
            if let Some(i) = keys.iter().position(|is_key| is_key(&key)) {
                values[i] = Some(value);
            }
        }
    }
    values
}

/// The exit for a matched message whose bindings did not convert: only a
/// `FromTerm` impl whose `from_term` rejects what its `matches` accepted
/// can cause it.
pub fn binding_failed() -> Exit {
    Exit::with_error("handler arguments do not fit the pattern's bindings")
}

/// A pattern binding of type `Self` passed as a handler argument of type
/// `A`: only the same type fits (a `Term` argument is handled apart).
#[diagnostic::on_unimplemented(
    message = "expected handler argument of type `{Self}` or `Term`, found `{A}`",
    label = "the pattern binds `{Self}` here"
)]
pub trait Binds<A> {
    /// The binding, as the argument.
    fn into_arg(self) -> A;
}

impl<T> Binds<T> for T {
    fn into_arg(self) -> T {
        self
    }
}

/// Implemented by `#[derive(Process)]`; `#[paragram::process]` requires it.
#[diagnostic::on_unimplemented(
    message = "expected `#[derive(Process)]` on `{Self}`",
    label = "`#[paragram::process]` needs `#[derive(Process)]` on the type"
)]
pub trait Derived {}

/// Compiles only for a type with `#[derive(Process)]`.
pub fn assert_derived<T: Derived + ?Sized>() {}

/// The pattern `pattern!` built and validated, binding terms of the types
/// `A`, in order.
pub fn typed<A>(elems: Vec<Elem>) -> TypedPattern<A> {
    TypedPattern::new(Pattern::checked(elems))
}

/// Marks the calling thread as running the test `name` of `module_path`
/// until the guard is dropped: what `#[paragram::test]` starts a test with.
pub fn os_test(module_path: &str, name: &str) -> impl Drop + use<> {
    crate::kind::os_test(module_path, name)
}
