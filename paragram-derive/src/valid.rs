//! Rules across the parsed impl: handler signatures, argument counts,
//! return types, unreachable receivers and start-up methods.

use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, PathArguments, ReturnType, Signature, Type};

use crate::ast::{Handler, ProcessImpl, Receiver, Start};
use crate::attr::{self, Ours};
use crate::pattern::Errors;

const RETURN: &str = "expected the handler to return `()` or `Result<(), E>`";

pub fn check(ast: &ProcessImpl, errors: &mut Errors) {
    for receiver in &ast.receivers {
        check_signature(&receiver.method.sig, errors);
        check_arguments(receiver, errors);
    }
    check_reachable(&ast.receivers, errors);
    check_starts(&ast.starts, errors);
}

/// Not `async`, `unsafe` or generic; `&mut self` first; a known return type.
fn check_signature(sig: &Signature, errors: &mut Errors) {
    if let Some(asyncness) = &sig.asyncness {
        errors.push(syn::Error::new_spanned(
            asyncness,
            "expected a handler that is not `async`: a process handles one message at a time",
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            "expected a handler that is not `unsafe`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "expected a handler without generic parameters",
        ));
    }
    for input in &sig.inputs {
        if let FnArg::Typed(arg) = input
            && let Type::ImplTrait(impl_trait) = &*arg.ty
        {
            errors.push(syn::Error::new_spanned(
                impl_trait,
                "expected a handler without generic parameters",
            ));
        }
    }
    check_receiver(sig, errors);
    check_return(&sig.output, errors);
}

fn check_receiver(sig: &Signature, errors: &mut Errors) {
    const SELF: &str = "expected `&mut self` as the handler's first argument";
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some()
                && receiver.mutability.is_some()
                && receiver.colon_token.is_none() => {}
        Some(FnArg::Receiver(receiver)) => errors.push(syn::Error::new_spanned(receiver, SELF)),
        _ => errors.push(syn::Error::new(sig.ident.span(), SELF)),
    }
}

fn check_return(output: &ReturnType, errors: &mut Errors) {
    if let ReturnType::Type(_, ty) = output
        && !is_unit(ty)
        && !is_unit_result(ty)
    {
        errors.push(syn::Error::new_spanned(ty, RETURN));
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// `Result<(), E>` by any path ending in `Result` (also `io::Result<()>`).
fn is_unit_result(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    last.ident == "Result"
        && matches!(args.args.first(), Some(GenericArgument::Type(ok)) if is_unit(ok))
}

fn check_arguments(receiver: &Receiver, errors: &mut Errors) {
    let expected = receiver.pattern.binding_count();
    let args = &receiver.handler.args;
    if args.len() == expected {
        return;
    }
    let message = format!(
        "expected {expected} handler argument{} for the pattern's bindings \
         (after `&mut self` and an optional `&mut Ctx`), found {}",
        if expected == 1 { "" } else { "s" },
        args.len(),
    );
    let span = match args.get(expected) {
        Some(extra) => extra.original.span(),
        None => receiver.method.sig.paren_token.span.join(),
    };
    errors.push(syn::Error::new(span, message));
}

/// A receiver after an identical pattern or after `#[receive(..)]` can
/// never run.
fn check_reachable(receivers: &[Receiver], errors: &mut Errors) {
    for (i, receiver) in receivers.iter().enumerate() {
        let earlier = &receivers[..i];
        let message = if let Some(all) = earlier.iter().find(|r| r.pattern.is_catch_all()) {
            format!(
                "unreachable receiver: `{}` above matches every message",
                all.method.sig.ident
            )
        } else if let Some(same) = earlier.iter().find(|r| same_pattern(r, receiver)) {
            format!(
                "unreachable receiver: `{}` above has the same pattern",
                same.method.sig.ident
            )
        } else {
            continue;
        };
        errors.push(syn::Error::new_spanned(receiver.attr, message));
    }
}

fn same_pattern(a: &Receiver, b: &Receiver) -> bool {
    let tokens = |r: &Receiver| r.attr.meta.require_list().map(|l| l.tokens.to_string());
    matches!((tokens(a), tokens(b)), (Ok(a), Ok(b)) if a == b)
}

/// At most one `#[start]`, on a method taking `&mut self` and an optional
/// `&mut Ctx`, and not also a receiver.
fn check_starts(starts: &[Start], errors: &mut Errors) {
    for (i, start) in starts.iter().enumerate() {
        if i > 0 {
            errors.push(syn::Error::new_spanned(
                start.attr,
                "expected one `#[start]` method per process",
            ));
        }
        check_signature(&start.method.sig, errors);
        check_start_arguments(&start.handler, errors);
        if start
            .method
            .attrs
            .iter()
            .any(|a| attr::ours(a) == Some(Ours::Receive))
        {
            errors.push(syn::Error::new_spanned(
                start.attr,
                "expected `#[start]` on a method that is not also a receiver",
            ));
        }
    }
}

fn check_start_arguments(handler: &Handler, errors: &mut Errors) {
    if let Some(extra) = handler.args.first() {
        errors.push(syn::Error::new_spanned(
            extra.original,
            "expected a `#[start]` method to take only `&mut self` and an optional `&mut Ctx`",
        ));
    }
}
