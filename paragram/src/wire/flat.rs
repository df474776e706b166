//! Terms as flat lists of nodes, and messages rebuilt from them with an
//! explicit stack under a nesting limit.

use crate::message::{Elements, Message};
use crate::pid::Pid;
use crate::term::{Term, pairs};

use super::*;

/// Flattens `terms` into nodes, in pre-order, naming each process handle
/// with `pid`. Opaque values have no wire form; the caller checks for them
/// first. The reference for [`encode_deliver`], which writes the same
/// nodes directly.
#[cfg(all(test, not(loom)))]
pub(crate) fn flatten(terms: &[Term], pid: &mut dyn FnMut(&Pid) -> WirePid) -> Vec<Node> {
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    terms
        .iter()
        .flat_map(Term::pre_order)
        .map(|(_, term)| match term {
            Term::Bool(v) => Node::Bool(*v),
            Term::Int(v) => Node::Int(*v),
            Term::Float(v) => Node::Float(*v),
            Term::Char(v) => Node::Char(*v),
            Term::Str(v) => Node::Str(v.clone()),
            Term::Bytes(v) => Node::Bytes(v.clone()),
            Term::Tuple(items) => Node::Tuple(len(items.len())),
            Term::List(items) => Node::List(len(items.len())),
            Term::Map(map) => Node::Map(len(map.len())),
            Term::Pid(p) => Node::Pid(pid(p)),
            Term::Exit(e) => Node::Exit(WireExit::from_exit(e)),
            Term::Opaque(_) => Node::Tuple(0),
        })
        .collect()
}

/// A container being rebuilt: its shape, how many terms it still needs,
/// and those it has.
pub(super) struct Open {
    shape: Container,
    left: u32,
    items: Vec<Term>,
}

#[derive(Clone, Copy)]
pub(super) enum Container {
    Tuple,
    List,
    Map,
}

/// Resolves a process handle from the wire to a local `Pid`.
pub(crate) type ResolvePid<'a> = dyn FnMut(WirePid) -> Result<Pid, WireError> + 'a;

/// Rebuilds a message from its nodes, one at a time, with an explicit
/// stack of open containers (empty, and unallocated, for a flat message).
#[derive(Default)]
pub(super) struct Builder {
    top: Elements,
    stack: Vec<Open>,
}

impl Builder {
    /// Adds a node: the reference for the hand-written decoder, which adds
    /// the terms it reads straight away.
    #[cfg(all(test, not(loom)))]
    pub(super) fn push(&mut self, node: Node, pid: &mut ResolvePid<'_>) -> Result<(), WireError> {
        let term = match node {
            Node::Bool(v) => Term::Bool(v),
            Node::Int(v) => Term::Int(v),
            Node::Float(v) => Term::Float(v),
            Node::Char(v) => Term::Char(v),
            Node::Str(v) => Term::Str(v),
            Node::Bytes(v) => Term::Bytes(v),
            Node::Pid(p) => Term::Pid(pid(p)?),
            Node::Exit(e) => Term::Exit(e.into_exit()),
            Node::Tuple(n) => return self.open(Container::Tuple, n),
            Node::List(n) => return self.open(Container::List, n),
            Node::Map(n) => return self.open(Container::Map, n),
        };
        self.push_leaf(term)
    }

    /// Adds a term that is not a container.
    pub(super) fn push_leaf(&mut self, term: Term) -> Result<(), WireError> {
        self.push_term(term)?;
        self.close_full()
    }

    /// Opens a container of `n` terms (pairs, for a map).
    pub(super) fn open(&mut self, shape: Container, n: u32) -> Result<(), WireError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(WireError::Malformed("terms nested too deep".into()));
        }
        let left = match shape {
            Container::Map => n
                .checked_mul(2)
                .ok_or_else(|| WireError::Malformed("map too long".into()))?,
            _ => n,
        };
        self.stack.push(Open {
            shape,
            left,
            items: Vec::new(),
        });
        self.close_full()
    }

    fn push_term(&mut self, term: Term) -> Result<(), WireError> {
        let Some(top) = self.stack.last_mut() else {
            self.top.push(term);
            return Ok(());
        };
        if top.left == 0 {
            return Err(WireError::Malformed("too many terms".into()));
        }
        top.left -= 1;
        top.items.push(term);
        Ok(())
    }

    /// Closes every container that has all its terms, innermost first.
    fn close_full(&mut self) -> Result<(), WireError> {
        while self.stack.last().is_some_and(|open| open.left == 0) {
            let Some(done) = self.stack.pop() else { break };
            let term = match done.shape {
                Container::Tuple => Term::Tuple(done.items.into()),
                Container::List => Term::List(done.items.into()),
                Container::Map => Term::Map(pairs(done.items)),
            };
            self.push_term(term)?;
        }
        Ok(())
    }

    #[cfg(all(test, not(loom)))]
    pub(super) fn finish(self) -> Result<Message, WireError> {
        if !self.stack.is_empty() {
            return Err(WireError::Malformed("term ends early".into()));
        }
        Ok(Message::from_terms(self.top))
    }

    /// Pushes `wrap` of the finished message onto `out`.
    pub(super) fn finish_into<T>(
        self,
        out: &mut Vec<T>,
        wrap: impl FnOnce(Message) -> T,
    ) -> Result<(), WireError> {
        if !self.stack.is_empty() {
            return Err(WireError::Malformed("term ends early".into()));
        }
        out.push(wrap(Message::from_terms(self.top)));
        Ok(())
    }
}

/// Rebuilds the message that `nodes` flatten, resolving each process handle
/// with `pid`. Errors, never panics, on any malformed input.
#[cfg(all(test, not(loom)))]
pub(crate) fn unflatten(nodes: Vec<Node>, pid: &mut ResolvePid<'_>) -> Result<Message, WireError> {
    let mut builder = Builder::default();
    for node in nodes {
        builder.push(node, pid)?;
    }
    builder.finish()
}
