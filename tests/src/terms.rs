//! Strategies that generate terms for property tests: every scalar kind
//! with its edge values, any Unicode text, tuples, lists and maps nested a
//! few levels, and now and then a chain nested thousands deep.

use paragram::Term;
use proptest::collection::vec;
use proptest::prelude::*;

/// A term that is not a container.
pub fn scalar() -> impl Strategy<Value = Term> {
    prop_oneof![
        any::<bool>().prop_map(Term::Bool),
        any::<i128>().prop_map(Term::Int),
        any::<i64>().prop_map(|v| Term::Int(v.into())),
        any::<f64>().prop_map(Term::Float),
        any::<char>().prop_map(Term::Char),
        any::<String>().prop_map(Term::Str),
        vec(any::<u8>(), 0..24).prop_map(Term::Bytes),
    ]
}

/// A term nested at most `depth` levels, with at most `width` elements a
/// container.
pub fn nested(depth: u32, width: usize) -> impl Strategy<Value = Term> {
    scalar().prop_recursive(depth, 256, width as u32, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..width).prop_map(Term::list),
            vec(inner.clone(), 0..width).prop_map(Term::tuple),
            vec((inner.clone(), inner), 0..width).prop_map(Term::map),
        ]
    })
}

/// A list nested `depth` deep around `inner`.
pub fn chain(depth: usize, inner: Term) -> Term {
    let mut term = inner;
    for _ in 0..depth {
        term = Term::list([term]);
    }
    term
}

/// A nested term, or now and then one wrapped in a chain thousands deep.
pub fn any_term() -> impl Strategy<Value = Term> {
    prop_oneof![
        8 => nested(6, 6),
        1 => (100usize..5_000, nested(3, 4)).prop_map(|(depth, inner)| chain(depth, inner)),
    ]
}
