//! Walks over terms that keep their stack on the heap: pre-order visits,
//! comparison, hashing, copying and dropping, at any depth.

use std::cmp::Ordering;
use std::collections::{BTreeMap, btree_map};
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use smallvec::SmallVec;

use super::{Term, TermMap, Terms};
use crate::text;

/// The terms directly inside a container, in order; a map's as key,
/// value, key, value...
pub(crate) enum Children<'a> {
    Seq(std::slice::Iter<'a, Term>),
    Map(btree_map::Iter<'a, Term, Term>, Option<&'a Term>),
}

impl<'a> Iterator for Children<'a> {
    type Item = &'a Term;

    fn next(&mut self) -> Option<&'a Term> {
        match self {
            Children::Seq(items) => items.next(),
            Children::Map(entries, value) => value.take().or_else(|| {
                let (k, v) = entries.next()?;
                *value = Some(v);
                Some(k)
            }),
        }
    }
}

impl Term {
    /// The terms inside this one, if it is a container.
    pub(crate) fn children(&self) -> Option<Children<'_>> {
        match self {
            Term::Tuple(items) | Term::List(items) => Some(Children::Seq(items.iter())),
            Term::Map(map) => Some(Children::Map(map.iter(), None)),
            _ => None,
        }
    }
}

/// Open containers a walk keeps inline before it allocates.
const INLINE: usize = 4;

/// Every term in a term, itself first, in pre-order, each with how many
/// containers enclose it: the order the wire writes them in.
pub(crate) struct PreOrder<'a> {
    next: Option<&'a Term>,
    open: SmallVec<[Children<'a>; INLINE]>,
}

impl<'a> PreOrder<'a> {
    pub(crate) fn new(term: &'a Term) -> PreOrder<'a> {
        PreOrder {
            next: Some(term),
            open: SmallVec::new(),
        }
    }
}

impl<'a> Iterator for PreOrder<'a> {
    type Item = (usize, &'a Term);

    fn next(&mut self) -> Option<(usize, &'a Term)> {
        let term = match self.next.take() {
            Some(term) => term,
            None => loop {
                match self.open.last_mut()?.next() {
                    Some(term) => break term,
                    None => {
                        self.open.pop();
                    }
                }
            },
        };
        let depth = self.open.len();
        if let Some(children) = term.children() {
            self.open.push(children);
        }
        Some((depth, term))
    }
}

/// How two terms compare before their elements are: by kind, then by
/// value for a scalar, by length for a tuple or a map (a list compares its
/// elements first, as a `Vec` does).
fn cmp_head(a: &Term, b: &Term) -> Ordering {
    match (a, b) {
        (Term::Bool(a), Term::Bool(b)) => a.cmp(b),
        (Term::Int(a), Term::Int(b)) => a.cmp(b),
        (Term::Float(a), Term::Float(b)) => a.total_cmp(b),
        (Term::Char(a), Term::Char(b)) => a.cmp(b),
        (Term::Str(a), Term::Str(b)) => a.cmp(b),
        (Term::Bytes(a), Term::Bytes(b)) => a.cmp(b),
        (Term::Tuple(a), Term::Tuple(b)) => a.len().cmp(&b.len()),
        (Term::List(_), Term::List(_)) => Ordering::Equal,
        (Term::Map(a), Term::Map(b)) => a.len().cmp(&b.len()),
        (Term::Pid(a), Term::Pid(b)) => a.cmp(b),
        (Term::Exit(a), Term::Exit(b)) => a.identity().cmp(&b.identity()),
        (Term::Opaque(a), Term::Opaque(b)) => a.key().cmp(&b.key()),
        _ => a.rank().cmp(&b.rank()),
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
    /// Erlang's term order); terms of one kind by value, containers
    /// element by element.
    fn cmp(&self, other: &Self) -> Ordering {
        let mut open: SmallVec<[(Children<'_>, Children<'_>); INLINE]> = SmallVec::new();
        let (mut a, mut b) = (self, other);
        loop {
            let head = cmp_head(a, b);
            if head != Ordering::Equal {
                return head;
            }
            if let (Some(x), Some(y)) = (a.children(), b.children()) {
                open.push((x, y));
            }
            loop {
                let Some((x, y)) = open.last_mut() else {
                    return Ordering::Equal;
                };
                match (x.next(), y.next()) {
                    (Some(x), Some(y)) => {
                        (a, b) = (x, y);
                        break;
                    }
                    (None, None) => {
                        open.pop();
                    }
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                }
            }
        }
    }
}

impl Hash for Term {
    /// Every term in pre-order: its kind, and its value or its length.
    fn hash<H: Hasher>(&self, state: &mut H) {
        for (_, term) in self.pre_order() {
            term.rank().hash(state);
            match term {
                Term::Bool(v) => v.hash(state),
                Term::Int(v) => v.hash(state),
                Term::Float(v) => v.to_bits().hash(state),
                Term::Char(v) => v.hash(state),
                Term::Str(v) => v.hash(state),
                Term::Bytes(v) => v.hash(state),
                Term::Tuple(v) | Term::List(v) => v.len().hash(state),
                Term::Map(v) => v.len().hash(state),
                Term::Pid(v) => v.hash(state),
                Term::Exit(v) => v.identity().hash(state),
                Term::Opaque(v) => v.key().hash(state),
            }
        }
    }
}

/// A container being copied: its kind, how many terms it still needs, and
/// those it has.
struct Copying {
    kind: Shape,
    left: usize,
    items: Vec<Term>,
}

#[derive(Clone, Copy)]
enum Shape {
    Tuple,
    List,
    Map,
}

impl Term {
    /// A deep copy of this term, or `None` if it holds an opaque value
    /// anywhere inside (opaque values cannot be copied).
    ///
    /// Copied handles and exit values keep their identity: the copy of a
    /// `Pid` or an `Exit` equals the original.
    pub fn try_clone(&self) -> Option<Term> {
        let mut open: Vec<Copying> = Vec::new();
        for (_, term) in self.pre_order() {
            let (kind, len) = match term {
                Term::Tuple(items) => (Shape::Tuple, items.len()),
                Term::List(items) => (Shape::List, items.len()),
                Term::Map(map) => (Shape::Map, 2 * map.len()),
                leaf => {
                    let copy = leaf.clone_leaf()?;
                    if let Some(done) = add_copy(&mut open, copy) {
                        return Some(done);
                    }
                    continue;
                }
            };
            open.push(Copying {
                kind,
                left: len,
                items: Vec::with_capacity(len),
            });
            if let Some(done) = close_copies(&mut open) {
                return Some(done);
            }
        }
        None
    }

    /// A copy of a term that is not a container.
    fn clone_leaf(&self) -> Option<Term> {
        Some(match self {
            Term::Bool(v) => Term::Bool(*v),
            Term::Int(v) => Term::Int(*v),
            Term::Float(v) => Term::Float(*v),
            Term::Char(v) => Term::Char(*v),
            Term::Str(v) => Term::Str(v.clone()),
            Term::Bytes(v) => Term::Bytes(v.clone()),
            Term::Pid(v) => Term::Pid(v.clone()),
            Term::Exit(v) => Term::Exit(v.clone()),
            Term::Tuple(_) | Term::List(_) | Term::Map(_) | Term::Opaque(_) => return None,
        })
    }
}

/// Adds a finished copy to the innermost open container, closing those it
/// fills; the whole copy once the outermost is closed.
fn add_copy(open: &mut Vec<Copying>, copy: Term) -> Option<Term> {
    let Some(top) = open.last_mut() else {
        return Some(copy);
    };
    top.items.push(copy);
    top.left -= 1;
    close_copies(open)
}

/// Closes every open container that has all its terms, innermost first;
/// the whole copy once the outermost is closed.
fn close_copies(open: &mut Vec<Copying>) -> Option<Term> {
    while open.last().is_some_and(|top| top.left == 0) {
        let done = open.pop()?;
        let term = match done.kind {
            Shape::Tuple => Term::Tuple(Terms(done.items)),
            Shape::List => Term::List(Terms(done.items)),
            Shape::Map => Term::Map(pairs(done.items)),
        };
        let Some(top) = open.last_mut() else {
            return Some(term);
        };
        top.items.push(term);
        top.left -= 1;
    }
    None
}

/// The map of `items` taken as key, value, key, value...
// `Term` keys hash by value or identity, never by interior state: the
// README's note on `mutable_key_type`.
#[allow(clippy::mutable_key_type)]
pub(crate) fn pairs(items: Vec<Term>) -> TermMap {
    let mut map = BTreeMap::new();
    let mut items = items.into_iter();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        map.insert(k, v);
    }
    TermMap(map)
}

/// Whether dropping `term` may recurse or run a user's `Drop`: a
/// container with something in it, an opaque value, an exit value.
pub(crate) fn needs_care(term: &Term) -> bool {
    match term {
        Term::Tuple(items) | Term::List(items) => !items.is_empty(),
        Term::Map(map) => !map.is_empty(),
        Term::Opaque(_) | Term::Exit(_) => true,
        _ => false,
    }
}

/// Drops `items` and everything inside them one term at a time, from a
/// stack on the heap, so that no depth of nesting can overflow the thread's
/// stack. A panic in a user's `Drop` does not stop the others from being
/// dropped: the first is raised again once all are (or, if the thread is
/// already unwinding, contained).
pub(crate) fn dismantle(items: Vec<Term>) {
    if !items.iter().any(needs_care) {
        return;
    }
    let mut stack = items;
    let mut first_panic = None;
    while let Some(mut term) = stack.pop() {
        match &mut term {
            Term::Tuple(items) | Term::List(items) => stack.append(&mut items.0),
            Term::Map(map) => {
                for (k, v) in std::mem::take(&mut map.0) {
                    stack.push(k);
                    stack.push(v);
                }
            }
            _ => {}
        }
        // Only a leaf, or an emptied container, is dropped here.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(term))) {
            match first_panic {
                None => first_panic = Some(payload),
                Some(_) => text::forget_quietly(payload),
            }
        }
    }
    if let Some(payload) = first_panic {
        if std::thread::panicking() {
            text::forget_quietly(payload);
        } else {
            resume_unwind(payload);
        }
    }
}

/// Drops the entries of a map as [`dismantle`] drops terms.
// `Term` keys hash by value or identity, never by interior state: the
// README's note on `mutable_key_type`.
#[allow(clippy::mutable_key_type)]
pub(super) fn dismantle_map(map: BTreeMap<Term, Term>) {
    if !map.iter().any(|(k, v)| needs_care(k) || needs_care(v)) {
        return;
    }
    dismantle(map.into_iter().flat_map(|(k, v)| [k, v]).collect());
}
