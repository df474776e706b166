//! Printing terms as a user writes them, `("hello", 1, [2.5, 'c'])`, with
//! a stack on the heap rather than recursion.

use std::fmt;

use smallvec::SmallVec;

use super::walk::Children;
use super::{Bytes, OpaqueValue, Term, TermMap, Terms};

/// A container being printed.
struct Level<'a> {
    children: Children<'a>,
    close: char,
    /// How many of its terms have been started.
    index: usize,
    map: bool,
    /// A 1-tuple, printed `(x,)`.
    one_tuple: bool,
}

impl<'a> Level<'a> {
    fn of(term: &'a Term) -> Option<(char, Level<'a>)> {
        let (open, close, map, one_tuple) = match term {
            Term::Tuple(items) => ('(', ')', false, items.len() == 1),
            Term::List(_) => ('[', ']', false, false),
            Term::Map(_) => ('{', '}', true, false),
            _ => return None,
        };
        let level = Level {
            children: term.children()?,
            close,
            index: 0,
            map,
            one_tuple,
        };
        Some((open, level))
    }
}

/// Writes `next`, then the rest of the containers in `open`, innermost
/// first. `{:#?}` (or `{:#}`) puts each element on a line of its own.
fn write_terms<'a>(
    f: &mut fmt::Formatter<'_>,
    mut next: Option<&'a Term>,
    mut open: SmallVec<[Level<'a>; 8]>,
) -> fmt::Result {
    let pretty = f.alternate();
    loop {
        if let Some(term) = next.take() {
            match Level::of(term) {
                Some((bracket, level)) => {
                    f.write_fmt(format_args!("{bracket}"))?;
                    open.push(level);
                }
                None => write_leaf(f, term)?,
            }
        }
        let depth = open.len();
        let Some(level) = open.last_mut() else {
            return Ok(());
        };
        match level.children.next() {
            Some(child) => {
                let value = level.map && level.index % 2 == 1;
                if value {
                    f.write_str(": ")?;
                } else if pretty {
                    f.write_str(if level.index == 0 { "\n" } else { ",\n" })?;
                    indent(f, depth)?;
                } else if level.index > 0 {
                    f.write_str(", ")?;
                }
                level.index += 1;
                next = Some(child);
            }
            None => {
                if pretty && level.index > 0 {
                    f.write_str(",\n")?;
                    indent(f, depth - 1)?;
                } else if level.one_tuple {
                    f.write_str(",")?;
                }
                f.write_fmt(format_args!("{}", level.close))?;
                open.pop();
            }
        }
    }
}

fn indent(f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
    for _ in 0..depth {
        f.write_str("    ")?;
    }
    Ok(())
}

fn write_leaf(f: &mut fmt::Formatter<'_>, term: &Term) -> fmt::Result {
    match term {
        Term::Bool(v) => write!(f, "{v}"),
        Term::Int(v) => write!(f, "{v}"),
        Term::Float(v) => write!(f, "{v:?}"),
        Term::Char(v) => write!(f, "{v:?}"),
        Term::Str(v) => write!(f, "{v:?}"),
        Term::Bytes(v) => write_bytes(f, v),
        Term::Pid(v) => write!(f, "{v:?}"),
        Term::Exit(v) => write!(f, "{v:?}"),
        Term::Opaque(v) => write!(f, "{v:?}"),
        // Containers are opened by `write_terms`.
        Term::Tuple(_) | Term::List(_) | Term::Map(_) => Ok(()),
    }
}

/// `b"raw\x00"`: a byte string literal.
fn write_bytes(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    write!(f, "b\"{}\"", bytes.escape_ascii())
}

/// Writes `items` as a Rust tuple: `()`, `(1,)`, `(1, 2)`.
pub(crate) fn write_tuple(f: &mut fmt::Formatter<'_>, items: &[Term]) -> fmt::Result {
    f.write_str("(")?;
    let mut open = SmallVec::new();
    open.push(Level {
        children: Children::Seq(items.iter()),
        close: ')',
        index: 0,
        map: false,
        one_tuple: items.len() == 1,
    });
    write_terms(f, None, open)
}

impl fmt::Debug for Term {
    /// As a user writes the term, with Rust literals: `("hello", 1, [2.5,
    /// 'c'], {"k": b"raw"})`; a `Pid` as `<#Thread: ponger [7]>`, an exit
    /// value as `Exit(normal)`, an opaque value as its type, `<my::Token>`.
    /// `{:#?}` puts each element on a line of its own.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_terms(f, Some(self), SmallVec::new())
    }
}

impl fmt::Display for Term {
    /// As `Debug` does: the term as a user writes it.
    ///
    /// ```
    /// use paragram::{IntoTerm, Term};
    /// let term = ("hello", 1, vec![2.5, 3.0]).into_term();
    /// assert_eq!(term.to_string(), r#"("hello", 1, [2.5, 3.0])"#);
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_terms(f, Some(self), SmallVec::new())
    }
}

impl fmt::Debug for Terms {
    /// As a list: `[1, 2]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        let mut open = SmallVec::new();
        open.push(Level {
            children: Children::Seq(self.iter()),
            close: ']',
            index: 0,
            map: false,
            one_tuple: false,
        });
        write_terms(f, None, open)
    }
}

impl fmt::Debug for TermMap {
    /// As a map: `{"k": 1}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        let mut open = SmallVec::new();
        open.push(Level {
            children: Children::Map(self.iter(), None),
            close: '}',
            index: 0,
            map: true,
            one_tuple: false,
        });
        write_terms(f, None, open)
    }
}

impl fmt::Debug for OpaqueValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.type_name)
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bytes(f, &self.0)
    }
}
