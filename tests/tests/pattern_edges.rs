//! Edge cases of the pattern language that once disagreed with the spec.

use paragram::{IntoMessage, Term, pattern};

fn terms(message: impl IntoMessage) -> Vec<Term> {
    message.into_message().into_terms()
}

#[test]
#[expect(
    clippy::mutable_key_type,
    reason = "terms hash by value; the lint sees the atomics inside Pid"
)]
fn float_keys_written_without_a_dot_are_floats() {
    // `1f32` is a float key, `1` an integer key: two different keys.
    let p = pattern!({1f32: _, 1: String});
    let mut map = std::collections::BTreeMap::new();
    map.insert(Term::Float(1.0), Term::Bool(true));
    map.insert(Term::Int(1), Term::Str("one".into()));
    let message = vec![Term::Map(map.into())];
    assert!(p.matches(&message));
    let bound = p.bind(paragram::Message::new(message)).into_terms();
    assert_eq!(bound, vec![Term::Str("one".into())]);
}

#[test]
fn float_predicate_on_the_most_negative_integer_is_no_match() {
    let p = pattern!(|x: f64| x < 0.0);
    assert!(!p.matches(&terms(i128::MIN)));
    assert!(p.matches(&terms(-1)));
}

#[test]
fn the_largest_u128_literal_matches_itself() {
    let p = pattern!(340282366920938463463374607431768211455u128);
    assert!(p.matches(&terms(u128::MAX)));
    assert!(!p.matches(&terms(u128::MAX - 1)));
}
