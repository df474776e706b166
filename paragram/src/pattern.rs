//! Runtime patterns: values that match whole messages and bind parts of them.
//!
//! This is the form of the pattern language built while a process runs (by
//! `pattern!` or by hand with [`Elem`]); the `#[receive]` form compiles the
//! same language to a static `match`, and both must agree.

use std::any::{TypeId, type_name};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use thiserror::Error;

use crate::message::{Elements, Message};
use crate::term::{FromTerm, IntoTerm, Term, for_each_tuple};

/// One element of a [`Pattern`]: a literal, a type, `_`, `..`, a nested
/// tuple, list or map, or a predicate.
///
/// ```
/// use paragram::{Elem, IntoMessage, IntoTerm, Pattern};
///
/// // ("move", i32, i32, ..)
/// let pattern = Pattern::new(vec![
///     Elem::lit("move"),
///     Elem::of::<i32>(),
///     Elem::of::<i32>(),
///     Elem::rest(),
/// ])
/// .unwrap();
/// let message = ("move", 3, 4, true).into_message();
/// assert!(pattern.matches(message.terms()));
/// let bound = pattern.bind(message).into_terms();
/// assert_eq!(bound, vec![3.into_term(), 4.into_term()]);
/// ```
pub struct Elem(Node);

enum Node {
    /// Matches an equal term.
    Lit(Term),
    /// Matches a term that converts to the type; binds it.
    Type(Bound),
    /// `_`: matches any one term.
    Wild,
    /// `..`: matches the zero or more terms left in a sequence.
    Rest,
    /// Matches a tuple term whose elements match.
    Tuple(Vec<Elem>),
    /// Matches a list term whose elements match.
    List(Vec<Elem>),
    /// Matches a map term holding these keys with matching values.
    Map(Vec<(Term, Elem)>),
    /// Matches a term that converts to the type and passes the test; binds it.
    Pred(Bound, Box<Test>),
}

/// A predicate on a term already known to convert to the predicate's type.
type Test = dyn Fn(Term) -> bool + Send + Sync;

/// The type a type pattern or a predicate binds, or a handler argument takes.
#[derive(Clone, Copy)]
struct Bound {
    id: TypeId,
    name: &'static str,
    matches: fn(&Term) -> bool,
}

impl Bound {
    fn of<T: FromTerm + 'static>() -> Bound {
        Bound {
            id: TypeId::of::<T>(),
            name: type_name::<T>(),
            matches: T::matches,
        }
    }
}

impl Elem {
    /// A literal: matches an equal term (equality is strict, see [`Term`]).
    pub fn lit(value: impl IntoTerm) -> Elem {
        Elem(Node::Lit(value.into_term()))
    }

    /// A type pattern: matches a term that converts to `T`, and binds it.
    /// `Elem::of::<Term>()` matches and binds any one term.
    pub fn of<T: FromTerm + 'static>() -> Elem {
        Elem(Node::Type(Bound::of::<T>()))
    }

    /// `_`: matches any one term and binds nothing.
    pub fn wild() -> Elem {
        Elem(Node::Wild)
    }

    /// `..`: matches zero or more remaining terms; only the last element of
    /// a sequence (a message, tuple or list).
    pub fn rest() -> Elem {
        Elem(Node::Rest)
    }

    /// `(p, q, ..)`: matches a tuple term (never a list) whose elements match.
    pub fn tuple(elems: Vec<Elem>) -> Elem {
        Elem(Node::Tuple(elems))
    }

    /// `[p, q, ..]`: matches a list term (never a tuple) whose elements match.
    pub fn list(elems: Vec<Elem>) -> Elem {
        Elem(Node::List(elems))
    }

    /// `{k: p, ..}`: matches a map term holding every key with a matching
    /// value; extra keys are allowed.
    pub fn map(entries: Vec<(Term, Elem)>) -> Elem {
        Elem(Node::Map(entries))
    }

    /// A predicate: matches a term that converts to `T` and passes `test`,
    /// and binds it.
    ///
    /// `test` runs on a copy of the term (see [`Term::try_clone`]), so a
    /// term holding an opaque value never passes. A `test` that panics
    /// counts as no match.
    pub fn pred<T: FromTerm + 'static>(test: impl Fn(T) -> bool + Send + Sync + 'static) -> Elem {
        let test = move |term: Term| T::from_term(term).is_ok_and(&test);
        Elem(Node::Pred(Bound::of::<T>(), Box::new(test)))
    }

    fn is_rest(&self) -> bool {
        matches!(self.0, Node::Rest)
    }

    fn matches(&self, term: &Term) -> bool {
        match (&self.0, term) {
            (Node::Lit(lit), _) => lit == term,
            (Node::Type(bound), _) => (bound.matches)(term),
            (Node::Wild | Node::Rest, _) => true,
            (Node::Tuple(elems), Term::Tuple(items)) | (Node::List(elems), Term::List(items)) => {
                seq_matches(elems, items)
            }
            (Node::Map(entries), Term::Map(map)) => entries
                .iter()
                .all(|(key, elem)| map.get(key).is_some_and(|value| elem.matches(value))),
            (Node::Pred(bound, test), _) => (bound.matches)(term) && passes(&**test, term),
            _ => false,
        }
    }

    /// Moves the terms this element binds out of `term` (which it matches)
    /// into `out`.
    fn bind(&self, term: Term, out: &mut Elements) {
        match (&self.0, term) {
            (Node::Type(_) | Node::Pred(..), term) => out.push(term),
            (Node::Tuple(elems), Term::Tuple(items)) | (Node::List(elems), Term::List(items)) => {
                bind_seq(elems, items, out);
            }
            (Node::Map(entries), Term::Map(mut map)) => {
                for (key, elem) in entries {
                    if let Some(value) = map.remove(key) {
                        elem.bind(value, out);
                    }
                }
            }
            _ => {}
        }
    }

    /// Appends the types this element binds, depth first, left to right.
    fn collect_bounds(&self, out: &mut Vec<Bound>) {
        match &self.0 {
            Node::Type(bound) | Node::Pred(bound, _) => out.push(*bound),
            Node::Tuple(elems) | Node::List(elems) => {
                elems.iter().for_each(|elem| elem.collect_bounds(out));
            }
            Node::Map(entries) => entries
                .iter()
                .for_each(|(_, elem)| elem.collect_bounds(out)),
            Node::Lit(_) | Node::Wild | Node::Rest => {}
        }
    }

    fn validate(&self) -> Result<(), PatternError> {
        match &self.0 {
            Node::Tuple(elems) | Node::List(elems) => validate_seq(elems),
            Node::Map(entries) => validate_map(entries),
            _ => Ok(()),
        }
    }
}

/// Runs a predicate on a copy of `term`; a panic or an uncopyable term is
/// no match. Shared with the compiled receivers (`__private::pred`).
pub(crate) fn passes(test: impl Fn(Term) -> bool, term: &Term) -> bool {
    term.try_clone()
        .is_some_and(|copy| catch_unwind(AssertUnwindSafe(|| test(copy))).unwrap_or(false))
}

fn seq_matches(elems: &[Elem], items: &[Term]) -> bool {
    let fixed = match elems.split_last() {
        Some((last, fixed)) if last.is_rest() => {
            if items.len() < fixed.len() {
                return false;
            }
            fixed
        }
        _ if items.len() != elems.len() => return false,
        _ => elems,
    };
    fixed
        .iter()
        .zip(items)
        .all(|(elem, item)| elem.matches(item))
}

fn bind_seq(elems: &[Elem], items: impl IntoIterator<Item = Term>, out: &mut Elements) {
    for (elem, item) in elems.iter().zip(items) {
        elem.bind(item, out);
    }
}

fn validate_seq(elems: &[Elem]) -> Result<(), PatternError> {
    let before_last = &elems[..elems.len().saturating_sub(1)];
    if before_last.iter().any(Elem::is_rest) {
        return Err(PatternError::MisplacedRest);
    }
    elems.iter().try_for_each(Elem::validate)
}

fn validate_map(entries: &[(Term, Elem)]) -> Result<(), PatternError> {
    for (i, (key, elem)) in entries.iter().enumerate() {
        if elem.is_rest() {
            return Err(PatternError::RestAsMapValue {
                key: format!("{key:?}"),
            });
        }
        if entries[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(PatternError::DuplicateMapKey {
                key: format!("{key:?}"),
            });
        }
        elem.validate()?;
    }
    Ok(())
}

/// A pattern matched against a whole message: `("hello", String, ..)`.
///
/// `Pattern::new(vec![Elem::lit("hello")])` matches exactly the message
/// `("hello",)`; an empty pattern matches the empty message, and
/// `Pattern::new(vec![Elem::rest()])` matches every message.
pub struct Pattern {
    elems: Vec<Elem>,
    /// The types bound, in binding order.
    bounds: Vec<Bound>,
}

impl Pattern {
    /// A pattern of these elements; fails if a `..` is not the last element
    /// of its sequence, or a map pattern is malformed.
    pub fn new(elems: Vec<Elem>) -> Result<Pattern, PatternError> {
        validate_seq(&elems)?;
        Ok(Pattern::build(elems))
    }

    /// A pattern the `pattern!` macro has already validated.
    pub(crate) fn checked(elems: Vec<Elem>) -> Pattern {
        debug_assert!(
            validate_seq(&elems).is_ok(),
            "pattern! emitted an invalid pattern"
        );
        Pattern::build(elems)
    }

    fn build(elems: Vec<Elem>) -> Pattern {
        let mut bounds = Vec::new();
        elems
            .iter()
            .for_each(|elem| elem.collect_bounds(&mut bounds));
        Pattern { elems, bounds }
    }

    /// Whether the message, taken as a whole tuple, matches.
    pub fn matches(&self, message: &[Term]) -> bool {
        seq_matches(&self.elems, message)
    }

    /// The terms a matching message binds, depth first, left to right,
    /// moved out of it, as a tuple (one binding allocates nothing).
    /// For a message that does not match, the result is unspecified (but no
    /// panic).
    pub fn bind(&self, message: Message) -> Message {
        let mut out = Elements::with_capacity(self.bounds.len());
        bind_seq(&self.elems, message, &mut out);
        Message::from_terms(out)
    }

    /// How many terms [`Pattern::bind`] returns.
    pub fn binding_count(&self) -> usize {
        self.bounds.len()
    }
}

/// A pattern whose bindings' types are known when the code compiles: what
/// `pattern!` builds. `A` is the tuple of the types it binds, in order
/// (`()` for none), so a handler registered with it takes exactly `A`:
/// its argument types are inferred, and a handler of other types is a
/// compile error at the pattern.
///
/// ```
/// use paragram::{Ctx, Pid, Root, Spawn, pattern};
/// let root = Root::new();
/// let pid = root
///     .spawn(Spawn::from_fn(|ctx| {
///         // `who` is a `String`, `from` a `Pid`: the pattern says so.
///         ctx.receive(pattern!("hello", String, Pid), |_, (who, from)| {
///             let _ = from.send(format!("hello, {who}"));
///         })
///     }))
///     .unwrap();
/// # pid.terminate();
/// ```
///
/// It dereferences to its [`Pattern`]; [`TypedPattern::untyped`] gives the
/// pattern itself, for a handler that takes `Term` for a binding or
/// `Vec<Term>` for all of them.
pub struct TypedPattern<A> {
    pattern: Pattern,
    bindings: PhantomData<fn() -> A>,
}

impl<A> TypedPattern<A> {
    /// The pattern `pattern!` built, whose bindings are of the types `A`.
    pub(crate) fn new(pattern: Pattern) -> TypedPattern<A> {
        TypedPattern {
            pattern,
            bindings: PhantomData,
        }
    }

    /// The pattern, without its bindings' types: checked against a
    /// handler's argument types when the handler is registered.
    pub fn untyped(self) -> Pattern {
        self.pattern
    }
}

impl<A> std::ops::Deref for TypedPattern<A> {
    type Target = Pattern;

    fn deref(&self) -> &Pattern {
        &self.pattern
    }
}

impl<A> fmt::Debug for TypedPattern<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pattern.fmt(f)
    }
}

/// What a receiver can be registered with, for a handler taking `A`: a
/// [`TypedPattern`] whose bindings are `A` (from `pattern!`; nothing left
/// to check), or a [`Pattern`] built at run time (checked against `A` when
/// the handler is registered).
#[diagnostic::on_unimplemented(
    message = "the handler takes `{A}`, but the pattern binds other types",
    label = "this pattern's bindings are not `{A}`",
    note = "a handler registered with `pattern!(...)` takes a tuple of exactly the types the \
            pattern binds, in order; to take `Term` for one of them, or `Vec<Term>` for all, \
            register the pattern's `.untyped()` form"
)]
pub trait IntoPattern<A> {
    /// The pattern, or why a handler taking `A` does not fit it.
    fn into_pattern(self) -> Result<Pattern, PatternError>;
}

impl<A: FromBindings> IntoPattern<A> for TypedPattern<A> {
    fn into_pattern(self) -> Result<Pattern, PatternError> {
        debug_assert!(
            A::check(&self.pattern).is_ok(),
            "pattern! typed its bindings wrongly"
        );
        Ok(self.pattern)
    }
}

impl<A: FromBindings> IntoPattern<A> for Pattern {
    fn into_pattern(self) -> Result<Pattern, PatternError> {
        A::check(&self)?;
        Ok(self)
    }
}

impl fmt::Debug for Elem {
    /// Source-like notation: `"hi"`, `i32`, `_`, `..`, `(1, ..)`,
    /// `[String]`, `{"k": f64}`, `|_: f64| ..` for a predicate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Node::Lit(term) => write!(f, "{term:?}"),
            Node::Type(bound) => f.write_str(&short_type_name(bound.name)),
            Node::Wild => f.write_str("_"),
            Node::Rest => f.write_str(".."),
            Node::Tuple(elems) => write_tuple(f, elems),
            Node::List(elems) => f.debug_list().entries(elems).finish(),
            Node::Map(entries) => f
                .debug_map()
                .entries(entries.iter().map(|(k, v)| (k, v)))
                .finish(),
            Node::Pred(bound, _) => write!(f, "|_: {}| ..", short_type_name(bound.name)),
        }
    }
}

impl fmt::Debug for Pattern {
    /// The pattern as the tuple it matches: `("hello", i32, _, ..)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tuple(f, &self.elems)
    }
}

/// Writes elements as a tuple pattern: `()`, `(p,)`, `(p, q)`, and `(..)`.
fn write_tuple(f: &mut fmt::Formatter<'_>, elems: &[Elem]) -> fmt::Result {
    f.write_str("(")?;
    for (i, elem) in elems.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{elem:?}")?;
    }
    if let [elem] = elems
        && !elem.is_rest()
    {
        f.write_str(",")?;
    }
    f.write_str(")")
}

/// A type name without module paths: `Vec<String>` for
/// `alloc::vec::Vec<alloc::string::String>`.
fn short_type_name(name: &str) -> String {
    let mut short = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find("::") {
        short.push_str(&rest[..at]);
        let segment_start = short
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        short.truncate(segment_start);
        rest = &rest[at + 2..];
    }
    short.push_str(rest);
    short
}

/// Why a pattern could not be built, or a handler's arguments do not fit a
/// pattern's bindings.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatternError {
    /// A `..` before the end of a message, tuple or list pattern.
    #[error("expected `..` only as the last element of a pattern")]
    MisplacedRest,
    /// A `..` as the value of a map pattern's key.
    #[error("expected a pattern for the value of map key {key}, found `..`")]
    RestAsMapValue {
        /// The key, printed as a term.
        key: String,
    },
    /// The same key twice in one map pattern.
    #[error("expected each map key once, found {key} twice")]
    DuplicateMapKey {
        /// The key, printed as a term.
        key: String,
    },
    /// A handler takes a different number of arguments than the pattern binds.
    #[error(
        "expected {bindings} handler argument(s) for the pattern's bindings, found {arguments}"
    )]
    ArgumentCount {
        /// How many terms the pattern binds.
        bindings: usize,
        /// How many arguments the handler takes.
        arguments: usize,
    },
    /// A handler argument's type is not the type the pattern binds there.
    #[error("expected handler argument {position} to be `{expected}` or `Term`, found `{found}`")]
    ArgumentType {
        /// The argument's position, counting from 1.
        position: usize,
        /// The type the pattern binds at that position.
        expected: String,
        /// The argument's type.
        found: String,
    },
}

/// A handler's arguments, built from the terms a pattern binds: `()`, a
/// tuple of up to 12 [`FromTerm`] types, or `Vec<Term>` for every binding
/// as it is.
///
/// An argument of type [`Term`] takes any binding; any other argument must
/// be exactly the type the pattern binds at its position.
pub trait FromBindings: Sized {
    /// Whether these arguments fit `pattern`'s bindings; checked once, when
    /// a handler is registered.
    fn check(pattern: &Pattern) -> Result<(), PatternError>;

    /// The arguments from the bindings of a message that matched a pattern
    /// [`FromBindings::check`] accepted.
    ///
    /// Returns `None` only if that contract is broken (the message did not
    /// match, the check was skipped, or a [`FromTerm`] impl converts a term
    /// its `matches` rejected): a caller may treat `None` as a bug to
    /// report, never as a panic.
    fn from_bindings(bindings: Message) -> Option<Self>;
}

impl FromBindings for () {
    fn check(pattern: &Pattern) -> Result<(), PatternError> {
        check_arguments(pattern, &[])
    }
    fn from_bindings(bindings: Message) -> Option<Self> {
        bindings.is_empty().then_some(())
    }
}

impl FromBindings for Vec<Term> {
    fn check(_: &Pattern) -> Result<(), PatternError> {
        Ok(())
    }
    fn from_bindings(bindings: Message) -> Option<Self> {
        Some(bindings.into_terms())
    }
}

fn check_arguments(pattern: &Pattern, arguments: &[Bound]) -> Result<(), PatternError> {
    if arguments.len() != pattern.bounds.len() {
        return Err(PatternError::ArgumentCount {
            bindings: pattern.bounds.len(),
            arguments: arguments.len(),
        });
    }
    let any = TypeId::of::<Term>();
    let mismatch = arguments
        .iter()
        .zip(&pattern.bounds)
        .position(|(argument, bound)| argument.id != bound.id && argument.id != any);
    match mismatch {
        None => Ok(()),
        Some(i) => Err(PatternError::ArgumentType {
            position: i + 1,
            expected: short_type_name(pattern.bounds[i].name),
            found: short_type_name(arguments[i].name),
        }),
    }
}

macro_rules! bindings {
    ($( ($($n:tt $t:ident),+) )*) => {$(
        impl<$($t: FromTerm + 'static),+> FromBindings for ($($t,)+) {
            fn check(pattern: &Pattern) -> Result<(), PatternError> {
                check_arguments(pattern, &[$(Bound::of::<$t>()),+])
            }
            fn from_bindings(bindings: Message) -> Option<Self> {
                let mut bindings = bindings.into_iter();
                let arguments = ($(<$t>::from_term(bindings.next()?).ok()?,)+);
                bindings.next().is_none().then_some(arguments)
            }
        }
    )*};
}

for_each_tuple!(bindings);

#[cfg(test)]
mod tests {

    use super::*;
    use crate::term::Opaque;

    struct Secret;
    impl Opaque for Secret {}

    fn t(value: impl IntoTerm) -> Term {
        value.into_term()
    }

    fn map(entries: Vec<(Term, Term)>) -> Term {
        Term::map(entries)
    }

    fn pattern(elems: Vec<Elem>) -> Pattern {
        Pattern::new(elems).expect("valid pattern")
    }

    /// Whether `elem`, as the only element of a pattern, matches the
    /// one-element message `(term,)`.
    fn elem_matches(elem: Elem, term: Term) -> bool {
        pattern(vec![elem]).matches(&[term])
    }

    #[test]
    fn rest_not_last_is_an_error_at_every_level() {
        let top = Pattern::new(vec![Elem::rest(), Elem::wild()]);
        let tuple = Pattern::new(vec![Elem::tuple(vec![Elem::rest(), Elem::wild()])]);
        let list = Pattern::new(vec![Elem::list(vec![Elem::rest(), Elem::rest()])]);
        let nested = Pattern::new(vec![Elem::map(vec![(
            t("k"),
            Elem::list(vec![Elem::rest(), Elem::lit(1)]),
        )])]);
        for result in [top, tuple, list, nested] {
            assert_eq!(result.err(), Some(PatternError::MisplacedRest));
        }
        assert_eq!(
            PatternError::MisplacedRest.to_string(),
            "expected `..` only as the last element of a pattern"
        );
    }

    #[test]
    fn rest_last_is_accepted_at_every_level() {
        let nested = Elem::tuple(vec![
            Elem::list(vec![Elem::wild(), Elem::rest()]),
            Elem::rest(),
        ]);
        assert!(Pattern::new(vec![nested, Elem::rest()]).is_ok());
        assert!(Pattern::new(Vec::new()).is_ok());
    }

    #[test]
    fn rest_as_map_value_and_duplicate_keys_are_errors() {
        let rest_value = Pattern::new(vec![Elem::map(vec![(t("k"), Elem::rest())])]);
        assert_eq!(
            rest_value.err().map(|e| e.to_string()).as_deref(),
            Some("expected a pattern for the value of map key \"k\", found `..`")
        );
        let duplicate = Pattern::new(vec![Elem::map(vec![
            (t(1), Elem::wild()),
            (t(1), Elem::of::<i32>()),
        ])]);
        assert_eq!(
            duplicate.err(),
            Some(PatternError::DuplicateMapKey {
                key: "1".to_owned()
            })
        );
    }

    #[test]
    fn pattern_matches_the_whole_message() {
        let hello = pattern(vec![Elem::lit("hello")]);
        assert!(hello.matches(&[t("hello")]));
        assert!(!hello.matches(&[t("hello"), t(1)]));
        assert!(!hello.matches(&[]));
        assert!(pattern(Vec::new()).matches(&[]));
        assert!(!pattern(Vec::new()).matches(&[t(1)]));
        let all = pattern(vec![Elem::rest()]);
        assert!(all.matches(&[]));
        assert!(all.matches(&[t(1), t("two")]));
    }

    #[test]
    fn literals_compare_strictly() {
        assert!(!elem_matches(Elem::lit(1), t(1.0)));
        assert!(!elem_matches(Elem::lit(1), t(true)));
        assert!(!elem_matches(Elem::lit(1.0), t(1)));
        assert!(elem_matches(Elem::lit(1u8), t(1i64)));
    }

    #[test]
    fn bind_returns_bindings_in_order() {
        let p = pattern(vec![
            Elem::of::<String>(),
            Elem::lit(1),
            Elem::wild(),
            Elem::of::<i32>(),
            Elem::rest(),
        ]);
        let message = vec![t("a"), t(1), t(2), t(3), t(4)];
        assert!(p.matches(&message));
        assert_eq!(p.binding_count(), 2);
        assert_eq!(
            p.bind(Message::new(message)).into_terms(),
            vec![t("a"), t(3)]
        );
    }

    #[test]
    fn bind_reaches_nested_tuples_lists_and_maps() {
        let p = pattern(vec![
            Elem::tuple(vec![
                Elem::of::<i32>(),
                Elem::list(vec![Elem::of::<String>(), Elem::rest()]),
            ]),
            Elem::map(vec![
                (t("b"), Elem::of::<bool>()),
                (t("a"), Elem::tuple(vec![Elem::of::<char>()])),
            ]),
            Elem::pred::<f64>(|x| x < 0.0),
        ]);
        let message = vec![
            t((1, vec!["x", "y"])),
            map(vec![(t("a"), t(('c',))), (t("b"), t(true)), (t("z"), t(0))]),
            t(-2.5),
        ];
        assert!(p.matches(&message));
        assert_eq!(p.binding_count(), 5);
        assert_eq!(
            p.bind(Message::new(message)).into_terms(),
            vec![t(1), t("x"), t(true), t('c'), t(-2.5)]
        );
    }

    #[test]
    fn term_type_binds_any_element() {
        let p = pattern(vec![Elem::of::<Term>(), Elem::of::<Term>()]);
        let message = vec![t(Secret), t([1, 2])];
        assert!(p.matches(&message));
        let bound = p.bind(Message::new(message)).into_terms();
        assert!(bound[0].is::<Secret>());
        assert_eq!(bound[1], t([1, 2]));
    }

    #[test]
    fn panicking_predicate_is_no_match() {
        let p = pattern(vec![Elem::pred::<i32>(|x| {
            assert!(x != 13, "unlucky");
            true
        })]);
        assert!(p.matches(&[t(12)]));
        assert!(!p.matches(&[t(13)]));
    }

    #[test]
    fn predicate_on_opaque_value_is_no_match() {
        assert!(!elem_matches(Elem::pred::<Term>(|_| true), t(Secret)));
        assert!(elem_matches(Elem::pred::<Term>(|_| true), t("copyable")));
    }

    #[test]
    fn tuple_and_list_patterns_never_cross() {
        assert!(!elem_matches(Elem::tuple(vec![Elem::rest()]), t(vec![1])));
        assert!(!elem_matches(Elem::list(vec![Elem::rest()]), t((1,))));
        assert!(!elem_matches(Elem::map(Vec::new()), t(())));
        assert!(elem_matches(Elem::map(Vec::new()), map(Vec::new())));
    }

    #[test]
    fn debug_prints_source_like_patterns() {
        let p = pattern(vec![
            Elem::lit("hello"),
            Elem::of::<i32>(),
            Elem::of::<Vec<String>>(),
            Elem::tuple(vec![Elem::lit(1)]),
            Elem::list(vec![Elem::tuple(vec![Elem::rest()])]),
            Elem::map(vec![(t("k"), Elem::pred::<f64>(|x| x > 0.0))]),
            Elem::wild(),
            Elem::rest(),
        ]);
        assert_eq!(
            format!("{p:?}"),
            r#"("hello", i32, Vec<String>, (1,), [(..)], {"k": |_: f64| ..}, _, ..)"#
        );
        assert_eq!(
            format!("{:?}", pattern(vec![Elem::of::<Term>()])),
            "(Term,)"
        );
        assert_eq!(format!("{:?}", pattern(Vec::new())), "()");
    }

    #[test]
    fn from_bindings_checks_count_and_types() {
        let p = pattern(vec![Elem::of::<String>(), Elem::pred::<f64>(|x| x > 0.0)]);
        assert_eq!(<(String, f64)>::check(&p), Ok(()));
        assert_eq!(<(Term, f64)>::check(&p), Ok(()));
        assert_eq!(<Vec<Term>>::check(&p), Ok(()));
        assert_eq!(
            <(String,)>::check(&p),
            Err(PatternError::ArgumentCount {
                bindings: 2,
                arguments: 1
            })
        );
        assert_eq!(
            <()>::check(&p).map_err(|e| e.to_string()),
            Err("expected 2 handler argument(s) for the pattern's bindings, found 0".to_owned())
        );
        let mismatch = <(String, f32)>::check(&p).err();
        assert_eq!(
            mismatch.map(|e| e.to_string()).as_deref(),
            Some("expected handler argument 2 to be `f64` or `Term`, found `f32`")
        );
        let bound_term = pattern(vec![Elem::of::<Term>()]);
        assert!(<(i32,)>::check(&bound_term).is_err());
    }

    #[test]
    fn from_bindings_converts_a_matched_message() {
        let p = pattern(vec![
            Elem::of::<String>(),
            Elem::of::<u8>(),
            Elem::of::<Term>(),
        ]);
        let message = vec![t("a"), t(7), t(1.5)];
        assert!(p.matches(&message));
        let arguments = <(String, u8, Term)>::from_bindings(p.bind(Message::new(message)));
        assert_eq!(arguments, Some(("a".to_owned(), 7, t(1.5))));
        assert_eq!(<()>::from_bindings(Message::new(Vec::new())), Some(()));
    }

    #[test]
    fn from_bindings_is_none_when_the_contract_is_broken() {
        assert_eq!(<(u8,)>::from_bindings(Message::new(vec![t(300)])), None);
        assert_eq!(<(u8,)>::from_bindings(Message::new(vec![t(3), t(4)])), None);
        assert_eq!(<(u8, u8)>::from_bindings(Message::new(vec![t(3)])), None);
        assert_eq!(<()>::from_bindings(Message::new(vec![t(3)])), None);
    }

    #[test]
    fn short_type_names_drop_module_paths() {
        assert_eq!(
            short_type_name("alloc::vec::Vec<alloc::string::String>"),
            "Vec<String>"
        );
        assert_eq!(
            short_type_name("std::collections::hash::map::HashMap<i32, (u8, my_crate::Foo)>"),
            "HashMap<i32, (u8, Foo)>"
        );
        assert_eq!(short_type_name("&str"), "&str");
    }

    /// SPEC §3's conformance table: each row's pattern element as the only
    /// element of a pattern, against one-element messages.
    #[test]
    fn conformance_table() {
        type Row = (fn() -> Elem, Vec<Term>, Vec<Term>);
        let rows: Vec<Row> = vec![
            (
                Elem::wild,
                vec![t("text"), t(13.7), t((1, "", Secret))],
                vec![],
            ),
            (
                || Elem::lit("land shark"),
                vec![t("land shark")],
                vec![t("dolphin"), t(42), t(Vec::<i32>::new())],
            ),
            (
                || Elem::lit(13.7),
                vec![t(13.7)],
                vec![t("text"), t(13.6), map(vec![(t("A"), t(14))])],
            ),
            (
                Elem::of::<i64>,
                vec![t(13), t(42), t(0)],
                vec![t("text"), t(13.7), t(Vec::<i32>::new())],
            ),
            (
                Elem::of::<String>,
                vec![t("plumber"), t("")],
                vec![t(42), t(0.9)],
            ),
            (
                || Elem::pred::<f64>(|x| x > 20.0),
                vec![t(42), t(100), t(67.7)],
                vec![t(13), t(0), t(-67.7)],
            ),
            (
                || Elem::tuple(vec![Elem::of::<String>(), Elem::of::<i64>()]),
                vec![t(("shark", 42)), t(("dolphin", 0))],
                vec![t(vec![t("shark"), t(42)]), t(("dolphin", 42, 0))],
            ),
            (
                || {
                    Elem::tuple(vec![
                        Elem::of::<String>(),
                        Elem::lit(20),
                        Elem::pred::<f64>(|x| x < 0.0),
                    ])
                },
                vec![t(("shark", 20, -54.76)), t(("dolphin", 20, -1))],
                vec![t(("shark", 21, -6)), t((20, 20, -1)), t(("", 20))],
            ),
            (
                || {
                    Elem::list(vec![
                        Elem::lit("A"),
                        Elem::of::<String>(),
                        Elem::of::<String>(),
                    ])
                },
                vec![t(["A", "B", "C"])],
                vec![t(["A", "B"]), t(["C", "B", "A"]), t(["A"])],
            ),
            (
                || Elem::list(vec![Elem::of::<String>(), Elem::of::<i64>()]),
                vec![t(vec![t("dolphin"), t(42)])],
                vec![
                    t(["shark"]),
                    t([42, 0]),
                    t(vec![t("dolphin"), t(42), t("shark")]),
                ],
            ),
            (
                || Elem::list(vec![Elem::rest()]),
                vec![t(vec![t("dolphin"), t(42), t(0.9)]), t(Vec::<i32>::new())],
                vec![t(("dolphin", 42, 0.9)), t("shark")],
            ),
            (
                || {
                    Elem::map(vec![
                        (t("S"), Elem::of::<i64>()),
                        (t(19), Elem::of::<String>()),
                    ])
                },
                vec![
                    map(vec![(t("S"), t(3)), (t(19), t("foo"))]),
                    map(vec![(t("S"), t(-65)), (t(19), t("bar")), (t("T"), t("me"))]),
                ],
                vec![
                    map(vec![(t("S"), t("Charlie")), (t(19), t("foo"))]),
                    map(vec![(t("S"), t(3))]),
                ],
            ),
            (
                || Elem::tuple(vec![Elem::lit(1), Elem::lit(2), Elem::rest()]),
                vec![t((1, 2)), t((1, 2, 3)), t((1, 2, 3, 4, "not a number"))],
                vec![t((1, 3)), t((1, 1, 2))],
            ),
        ];
        for (elem, matching, other) in rows {
            let p = pattern(vec![elem()]);
            for term in matching {
                assert!(
                    p.matches(std::slice::from_ref(&term)),
                    "{p:?} should match ({term:?},)"
                );
            }
            for term in other {
                assert!(
                    !p.matches(std::slice::from_ref(&term)),
                    "{p:?} should not match ({term:?},)"
                );
            }
        }
    }

    #[test]
    fn patterns_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Pattern>();
        assert_send::<PatternError>();
    }
}
