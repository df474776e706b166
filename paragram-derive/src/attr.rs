//! The attributes the impl attribute reads: its own options, `#[receive(...)]`
//! and `#[start]` on methods, and stripping them before the impl is emitted.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, ImplItem, ItemImpl, Meta, Token};

use crate::pattern::{Errors, Pattern};

/// Which of our attributes an attribute is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ours {
    Receive,
    Start,
}

/// `Some` for `#[receive(...)]` (or `#[paragram::receive(...)]`) and `#[start]`.
pub fn ours(attr: &Attribute) -> Option<Ours> {
    let path = attr.path();
    let last = path.segments.last()?;
    let plain = path.segments.len() == 1 && path.leading_colon.is_none();
    let qualified = path.segments.len() == 2 && path.segments[0].ident == "paragram";
    if !(plain || qualified) {
        return None;
    }
    if last.ident == "receive" {
        Some(Ours::Receive)
    } else if last.ident == "start" && plain {
        Some(Ours::Start)
    } else {
        None
    }
}

/// The options of `#[paragram::process(...)]`: none are known yet, so each
/// one given is reported.
pub fn options(args: TokenStream, errors: &mut Errors) {
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => metas,
        Err(error) => return errors.push(error),
    };
    for meta in metas {
        let name = meta.path();
        let shown = quote::quote!(#name).to_string().replace(' ', "");
        errors.push(syn::Error::new(
            meta.path().span(),
            format!("unknown option `{shown}`: `#[paragram::process]` takes no options"),
        ));
    }
}

/// The pattern of a `#[receive(...)]`.
pub fn receive_pattern(attr: &Attribute) -> syn::Result<Pattern> {
    match &attr.meta {
        Meta::List(list) => syn::parse2(list.tokens.clone()),
        _ => Err(syn::Error::new_spanned(
            attr,
            "expected a pattern: `#[receive(...)]`, or `#[receive()]` for the empty message",
        )),
    }
}

/// Checks that a `#[start]` has no arguments.
pub fn start_options(attr: &Attribute, errors: &mut Errors) {
    if let Meta::List(list) = &attr.meta {
        errors.push(syn::Error::new_spanned(
            &list.tokens,
            "unknown option: `#[start]` takes no options",
        ));
    } else if let Meta::NameValue(nv) = &attr.meta {
        errors.push(syn::Error::new_spanned(
            &nv.value,
            "unknown option: `#[start]` takes no options",
        ));
    }
}

/// The impl with every `#[receive]` and `#[start]` removed from its methods.
pub fn strip(item: &ItemImpl) -> ItemImpl {
    let mut item = item.clone();
    for impl_item in &mut item.items {
        if let ImplItem::Fn(method) = impl_item {
            method.attrs.retain(|attr| ours(attr).is_none());
        }
    }
    item
}
