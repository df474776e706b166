//! Terms written as literals with `term!`, printed as they are written,
//! and matched by the pattern that reads the same.

use paragram::{Bytes, IntoTerm, Term, pattern, term};

#[test]
fn term_literals_build_tuples_lists_and_maps_of_any_leaf() {
    let name = String::from("ada");
    let built = term!(("ok", [1, 2.5, 'c', true], {"name": name, 7: [b"raw"]}, ()));
    let by_hand = Term::tuple([
        "ok".into_term(),
        Term::list([
            1.into_term(),
            2.5.into_term(),
            'c'.into_term(),
            true.into_term(),
        ]),
        Term::map([
            ("name".into_term(), "ada".into_term()),
            (
                7.into_term(),
                Term::list([Bytes(b"raw".to_vec()).into_term()]),
            ),
        ]),
        Term::tuple([]),
    ]);
    assert_eq!(built, by_hand);
}

#[test]
fn integer_literals_take_any_integer_and_parentheses_make_tuples() {
    assert_eq!(
        term!(170141183460469231731687303715884105727),
        Term::Int(i128::MAX)
    );
    assert_eq!(term!(-5), Term::Int(-5));
    assert_eq!(term!((1)), Term::tuple([Term::Int(1)]));
    assert_eq!(term!((1,)), term!((1)));
}

#[test]
fn terms_print_as_they_are_written() {
    let term = term!(("ok", [1, 2.5, 'c'], {"k": b"raw\x00"}, (7,)));
    assert_eq!(
        term.to_string(),
        r#"("ok", [1, 2.5, 'c'], {"k": b"raw\x00"}, (7,))"#
    );
    assert_eq!(format!("{term:?}"), term.to_string());
    assert_eq!(
        format!("{:#}", term!([1, {"k": ()}])),
        "[\n    1,\n    {\n        \"k\": (),\n    },\n]"
    );
}

#[test]
fn a_pattern_reads_the_term_written_the_same_way() {
    let message = vec![term!(("ok", [1, 2, 3], {"k": "v", "extra": 0}))];
    let pattern = pattern!(("ok", [i64, ..], {"k": String}));
    assert!(pattern.matches(&message));
    let bound = pattern.bind(paragram::Message::new(message)).into_terms();
    assert_eq!(bound, vec![term!(1), term!("v")]);
}

/// The README's example, as it is written there.
#[test]
fn the_readme_term_prints_as_the_readme_says() {
    let name = "ada";
    let reply = term!(("ok", [1, 2.5, 'c'], {"name": name, "raw": b"\x00"}));
    assert_eq!(
        reply.to_string(),
        r#"("ok", [1, 2.5, 'c'], {"name": "ada", "raw": b"\x00"})"#
    );
    let message = vec!["reply".into_term(), reply];
    assert!(pattern!("reply", ("ok", [..], {"name": String})).matches(&message));
}
