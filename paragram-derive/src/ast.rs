//! A typed view of a `#[paragram::process]` impl: its receivers and its
//! start-up method, each keeping the syntax it came from for error spans.

use syn::{Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, Type};

use crate::attr::{self, Ours};
use crate::pattern::{Errors, Pattern};

/// The impl block and what its attributes mark.
pub struct ProcessImpl<'a> {
    pub original: &'a ItemImpl,
    pub receivers: Vec<Receiver<'a>>,
    pub starts: Vec<Start<'a>>,
}

/// A method marked `#[receive(...)]` (one per attribute).
pub struct Receiver<'a> {
    pub method: &'a ImplItemFn,
    pub attr: &'a Attribute,
    pub pattern: Pattern,
    pub handler: Handler<'a>,
}

/// A method marked `#[start]`.
pub struct Start<'a> {
    pub method: &'a ImplItemFn,
    pub attr: &'a Attribute,
    pub handler: Handler<'a>,
}

/// A method's arguments after `self`: whether the first is the context,
/// and the rest.
pub struct Handler<'a> {
    pub ctx: bool,
    pub args: Vec<Arg<'a>>,
}

/// A handler argument that takes a binding.
pub struct Arg<'a> {
    pub original: &'a syn::PatType,
    /// `Term`: takes any binding as it is.
    pub is_term: bool,
}

impl<'a> ProcessImpl<'a> {
    pub fn from_syn(original: &'a ItemImpl, errors: &mut Errors) -> Self {
        let mut receivers = Vec::new();
        let mut starts = Vec::new();
        for item in &original.items {
            let ImplItem::Fn(method) = item else { continue };
            for attr in &method.attrs {
                match attr::ours(attr) {
                    Some(Ours::Receive) => match attr::receive_pattern(attr) {
                        Ok(pattern) => receivers.push(Receiver::new(method, attr, pattern)),
                        Err(error) => errors.push(error),
                    },
                    Some(Ours::Start) => {
                        attr::start_options(attr, errors);
                        starts.push(Start::new(method, attr));
                    }
                    None => {}
                }
            }
        }
        ProcessImpl {
            original,
            receivers,
            starts,
        }
    }
}

impl<'a> Receiver<'a> {
    fn new(method: &'a ImplItemFn, attr: &'a Attribute, pattern: Pattern) -> Self {
        Receiver {
            method,
            attr,
            pattern,
            handler: Handler::from_syn(method),
        }
    }
}

impl<'a> Start<'a> {
    fn new(method: &'a ImplItemFn, attr: &'a Attribute) -> Self {
        Start {
            method,
            attr,
            handler: Handler::from_syn(method),
        }
    }
}

impl<'a> Handler<'a> {
    fn from_syn(method: &'a ImplItemFn) -> Self {
        let mut typed = method.sig.inputs.iter().filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        });
        let mut typed_peek = typed.clone();
        let ctx = typed_peek.next().is_some_and(|arg| is_ctx(&arg.ty));
        if ctx {
            typed.next();
        }
        let args = typed
            .map(|original| Arg {
                original,
                is_term: is_term(&original.ty),
            })
            .collect();
        Handler { ctx, args }
    }
}

/// `&mut Ctx` (by any path ending in `Ctx`).
fn is_ctx(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) => {
            reference.mutability.is_some() && last_segment_is(&reference.elem, "Ctx")
        }
        _ => false,
    }
}

/// `Term` (by any path ending in `Term`).
fn is_term(ty: &Type) -> bool {
    last_segment_is(ty, "Term")
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == name && last.arguments.is_none()),
        Type::Group(group) => last_segment_is(&group.elem, name),
        Type::Paren(paren) => last_segment_is(&paren.elem, name),
        _ => false,
    }
}
