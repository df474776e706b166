//! SPEC §3's pattern table, corrected, run through both forms of the
//! pattern language: a compiled `#[receive(...)]` receiver and the runtime
//! `pattern!` receiver. Each table cell is one element, so each sample is
//! sent as the 1-element message holding it; both forms must give the
//! table's answer on every row.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use paragram::{Ctx, IntoTerm, Message, Opaque, Pattern, Pid, Process, Root, Term, pattern};

const DEADLINE: Duration = Duration::from_secs(10);

/// A value no pattern but `_`, `Term` and its own type matches.
struct Anything;
impl Opaque for Anything {}

fn t(value: impl IntoTerm) -> Term {
    value.into_term()
}

fn list(items: Vec<Term>) -> Term {
    Term::list(items)
}

fn tuple(items: Vec<Term>) -> Term {
    Term::tuple(items)
}

fn map(entries: Vec<(Term, Term)>) -> Term {
    Term::map(entries)
}

/// One row's samples: each term and whether the row's pattern matches it.
type Samples = fn() -> Vec<(Term, bool)>;

/// Sends each sample to `pid` and reads whether it matched.
fn outcomes(pid: &Pid, answers: &Receiver<bool>, samples: Samples) -> Vec<bool> {
    samples()
        .into_iter()
        .map(|(term, _)| {
            pid.send(Message::new(vec![term]))
                .expect("the row's process is alive");
            answers
                .recv_timeout(DEADLINE)
                .expect("every sample is answered")
        })
        .collect()
}

/// Runs the row through the compiled receiver (`derived`) and the runtime
/// one (`pattern`), and checks both against the table.
fn check_row(
    derived: impl Process,
    pattern: fn() -> Pattern,
    samples: Samples,
    answers: (Sender<bool>, Receiver<bool>),
) {
    let root = Root::new();
    let (tx, rx) = answers;
    let compiled_pid = root
        .spawn(paragram::Spawn::process(derived))
        .expect("spawn derived");
    let compiled = outcomes(&compiled_pid, &rx, samples);

    let (runtime_tx, runtime_rx) = mpsc::channel();
    let runtime_pid = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), paragram::PatternError> {
            let hit = runtime_tx.clone();
            ctx.receive(pattern(), move |_, _: Vec<Term>| {
                let _ = hit.send(true);
            })?;
            ctx.receive(pattern!(..).untyped(), move |_, _: Vec<Term>| {
                let _ = runtime_tx.send(false);
            })
        })
        .expect("spawn runtime");
    let runtime = outcomes(&runtime_pid, &runtime_rx, samples);

    let expected: Vec<bool> = samples().into_iter().map(|(_, matches)| matches).collect();
    let shown: Vec<String> = samples()
        .iter()
        .map(|(term, _)| format!("{term:?}"))
        .collect();
    assert_eq!(compiled, expected, "compiled receiver on {shown:?}");
    assert_eq!(runtime, expected, "runtime receiver on {shown:?}");
    drop(tx);
}

/// A test for one row: a derived process whose first receiver is the row's
/// pattern (reporting `true`) and whose second is `..` (reporting `false`),
/// and the same pattern built at run time.
macro_rules! row {
    ($test:ident: ($($pat:tt)*), args ($($arg:ident: $ty:ty),*), $samples:expr) => {
        #[test]
        fn $test() {
            #[derive(paragram::Process)]
            struct Row {
                tx: Sender<bool>,
            }

            #[paragram::process]
            impl Row {
                #[receive($($pat)*)]
                fn hit(&mut self, $($arg: $ty),*) {
                    let _ = self.tx.send(true);
                }

                #[receive(..)]
                fn miss(&mut self) {
                    let _ = self.tx.send(false);
                }
            }

            let (tx, rx) = mpsc::channel();
            check_row(Row { tx: tx.clone() }, || pattern!($($pat)*).untyped(), $samples, (tx, rx));
        }
    };
}

row!(wildcard_matches_any_one_element: (_), args (), || vec![
    (t("text"), true),
    (t(13.7), true),
    (tuple(vec![t(1), t(""), t(Anything)]), true),
]);

row!(string_literal_matches_only_that_string: ("land shark"), args (), || vec![
    (t("land shark"), true),
    (t("dolphin"), false),
    (t(42), false),
    (list(vec![]), false),
]);

row!(float_literal_matches_only_that_float: (13.7), args (), || vec![
    (t(13.7), true),
    (t("text"), false),
    (t(13.6), false),
    (map(vec![(t("A"), t(14))]), false),
]);

row!(integer_type_matches_integers: (i64), args (_x: i64), || vec![
    (t(13), true),
    (t(42), true),
    (t(0), true),
    (t("text"), false),
    (t(13.7), false),
    (list(vec![]), false),
]);

row!(string_type_matches_strings: (String), args (_x: String), || vec![
    (t("plumber"), true),
    (t(""), true),
    (t(42), false),
    (t(0.9), false),
]);

row!(predicate_matches_numbers_that_pass: (|x: f64| x > 20.0), args (_x: f64), || vec![
    (t(42), true),
    (t(100), true),
    (t(67.7), true),
    (t(13), false),
    (t(0), false),
    (t(-67.7), false),
]);

row!(tuple_of_types_matches_tuples_only: ((String, i64)), args (_s: String, _n: i64), || vec![
    (tuple(vec![t("shark"), t(42)]), true),
    (tuple(vec![t("dolphin"), t(0)]), true),
    (list(vec![t("shark"), t(42)]), false),
    (tuple(vec![t("dolphin"), t(42), t(0)]), false),
]);

row!(tuple_with_literal_and_predicate: ((String, 20, |x: f64| x < 0.0)), args (_s: String, _x: f64), || vec![
    (tuple(vec![t("shark"), t(20), t(-54.76)]), true),
    (tuple(vec![t("dolphin"), t(20), t(-1)]), true),
    (tuple(vec![t("shark"), t(21), t(-6)]), false),
    (tuple(vec![t(20), t(20), t(-1)]), false),
    (tuple(vec![t(""), t(20)]), false),
]);

row!(list_with_literal_head: (["A", String, String]), args (_b: String, _c: String), || vec![
    (list(vec![t("A"), t("B"), t("C")]), true),
    (list(vec![t("A"), t("B")]), false),
    (list(vec![t("C"), t("B"), t("A")]), false),
    (list(vec![t("A")]), false),
]);

row!(list_of_types_matches_exact_length: ([String, i64]), args (_s: String, _n: i64), || vec![
    (list(vec![t("dolphin"), t(42)]), true),
    (list(vec![t("shark")]), false),
    (list(vec![t(42), t(0)]), false),
    (list(vec![t("dolphin"), t(42), t("shark")]), false),
]);

row!(list_rest_matches_lists_only: ([..]), args (), || vec![
    (list(vec![t("dolphin"), t(42), t(0.9)]), true),
    (list(vec![]), true),
    (tuple(vec![t("dolphin"), t(42), t(0.9)]), false),
    (t("shark"), false),
]);

row!(map_pattern_allows_extra_keys: ({"S": i64, 19: String}), args (_s: i64, _n: String), || vec![
    (map(vec![(t("S"), t(3)), (t(19), t("foo"))]), true),
    (map(vec![(t("S"), t(-65)), (t(19), t("bar")), (t("T"), t("me"))]), true),
    (map(vec![(t("S"), t("Charlie")), (t(19), t("foo"))]), false),
    (map(vec![(t("S"), t(3))]), false),
]);

row!(tuple_rest_matches_longer_tuples: ((1, 2, ..)), args (), || vec![
    (tuple(vec![t(1), t(2)]), true),
    (tuple(vec![t(1), t(2), t(3)]), true),
    (tuple(vec![t(1), t(2), t(3), t(4), t("not a number")]), true),
    (tuple(vec![t(1), t(3)]), false),
    (tuple(vec![t(1), t(1), t(2)]), false),
]);
