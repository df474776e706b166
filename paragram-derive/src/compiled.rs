//! A pattern compiled for one arm of the static `match`: the slice pattern
//! over the message, the guard that checks what the slice cannot, and the
//! statements that move the bindings out of the message once it matched.
//!
//! Guards borrow the message and allocate nothing (predicates aside, which
//! test a copy of their term as the runtime does); bindings are moved out.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Ident, Lit, Type};

use crate::pattern::{Elem, Literal, MapEntry, Pattern, Predicate};

/// One binding: the variable holding its term, and the type the pattern
/// converts it to.
pub struct Binding<'a> {
    pub term: Ident,
    pub ty: &'a Type,
}

/// A local of the generated code, invisible to the user's tokens.
pub fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// The slice pattern over the message's terms: `[__t0, __t1, ..]`.
pub fn slice(pattern: &Pattern) -> TokenStream {
    slice_of(&pattern.elems, "__t")
}

fn slice_of(elems: &[Elem], prefix: &str) -> TokenStream {
    let slots = elems.iter().enumerate().map(|(i, elem)| match elem {
        Elem::Rest(_) => quote!(..),
        _ => {
            let slot = local(&format!("{prefix}_{i}"));
            quote!(#slot)
        }
    });
    quote!([#(#slots),*])
}

/// `if` and the guard, or nothing when the slice says it all.
pub fn guard(pattern: &Pattern) -> TokenStream {
    match seq_guard(&pattern.elems, "__t") {
        Some(guard) => quote!(if #guard),
        None => TokenStream::new(),
    }
}

/// The conjunction of the guards of a sequence's elements, bound by
/// `slice_of(elems, prefix)`.
fn seq_guard(elems: &[Elem], prefix: &str) -> Option<TokenStream> {
    let guards: Vec<TokenStream> = elems
        .iter()
        .enumerate()
        .filter_map(|(i, elem)| elem_guard(elem, &local(&format!("{prefix}_{i}"))))
        .collect();
    (!guards.is_empty()).then(|| quote!(#(#guards)&&*))
}

/// Whether the `&Term` named `term` matches `elem`; `None` for "always".
fn elem_guard(elem: &Elem, term: &Ident) -> Option<TokenStream> {
    let span = elem.span();
    Some(match elem {
        Elem::Wild(_) | Elem::Rest(_) => return None,
        Elem::Lit(literal) => literal_guard(literal, term),
        Elem::Type(ty) => {
            quote_spanned!(span=> <#ty as ::paragram::__private::FromTerm>::matches(#term))
        }
        Elem::Pred(predicate) => {
            let Predicate { closure, ty } = &**predicate;
            quote_spanned!(span=> ::paragram::__private::pred::<#ty>(#term, #closure))
        }
        Elem::Tuple(_, elems) => seq_term_guard(quote!(tuple), elems, term),
        Elem::List(_, elems) => seq_term_guard(quote!(list), elems, term),
        Elem::Map(_, entries) => map_guard(entries, term),
    })
}

fn seq_term_guard(kind: TokenStream, elems: &[Elem], term: &Ident) -> TokenStream {
    let prefix = term.to_string();
    let slice = slice_of(elems, &prefix);
    let guard = seq_guard(elems, &prefix).map(|guard| quote!(if #guard));
    quote! {
        ::core::matches!(
            ::paragram::__private::#kind(#term),
            ::core::option::Option::Some(#slice) #guard
        )
    }
}

fn map_guard(entries: &[MapEntry], term: &Ident) -> TokenStream {
    let checks = entries.iter().enumerate().map(|(i, entry)| {
        let value = local(&format!("{term}_{i}"));
        let is_key = key_fn(&entry.key);
        let found = quote!(::paragram::__private::map_get(#term, #is_key));
        match elem_guard(&entry.value, &value) {
            Some(guard) => quote!(#found.is_some_and(|#value| #guard)),
            None => quote!(#found.is_some()),
        }
    });
    quote!((::paragram::__private::is_map(#term) #(&& #checks)*))
}

/// `|key| key == literal`, allocating nothing.
fn key_fn(key: &Literal) -> TokenStream {
    let key_term = local("__key");
    let guard = literal_guard(key, &key_term);
    quote!(|#key_term: &::paragram::__private::Term| #guard)
}

/// Whether the `&Term` named `term` equals the literal, as `Term`'s `==`
/// decides (floats by `total_cmp`, no kind equals another).
fn literal_guard(literal: &Literal, term: &Ident) -> TokenStream {
    let span = literal.span();
    match &literal.lit {
        Lit::Str(s) => quote_spanned!(span=> ::paragram::__private::lit_str(#term, #s)),
        Lit::ByteStr(b) => quote_spanned!(span=> ::paragram::__private::lit_bytes(#term, #b)),
        _ => {
            let value = literal.to_value();
            quote_spanned!(span=> ::paragram::__private::lit(#term, #value))
        }
    }
}

/// Statements that move the bindings out of the message's terms (the
/// iterator `terms`) inside a closure returning `Option`; `?` fires only if
/// a `FromTerm` impl breaks its contract. Appends the bindings in order.
pub fn extract<'a>(pattern: &'a Pattern, terms: &Ident, out: &mut Vec<Binding<'a>>) -> TokenStream {
    extract_seq(&pattern.elems, terms, "__v", out)
}

fn extract_seq<'a>(
    elems: &'a [Elem],
    iter: &Ident,
    prefix: &str,
    out: &mut Vec<Binding<'a>>,
) -> TokenStream {
    let needed = elems
        .iter()
        .rposition(|elem| elem.binding_count() > 0)
        .map_or(0, |last| last + 1);
    let steps = elems[..needed].iter().enumerate().map(|(i, elem)| {
        if elem.binding_count() == 0 {
            return quote!(::core::iter::Iterator::next(&mut #iter)?;);
        }
        let term = local(&format!("{prefix}_{i}"));
        let inner = extract_elem(elem, &term, out);
        quote! {
            let #term = ::core::iter::Iterator::next(&mut #iter)?;
            #inner
        }
    });
    // Collected eagerly so that `out` is filled in order.
    let steps: Vec<TokenStream> = steps.collect();
    quote!(#(#steps)*)
}

fn extract_elem<'a>(elem: &'a Elem, term: &Ident, out: &mut Vec<Binding<'a>>) -> TokenStream {
    match elem {
        Elem::Type(ty) => bind(term, ty, out),
        Elem::Pred(predicate) => bind(term, &predicate.ty, out),
        Elem::Tuple(_, elems) => extract_nested(quote!(into_tuple), elems, term, out),
        Elem::List(_, elems) => extract_nested(quote!(into_list), elems, term, out),
        Elem::Map(_, entries) => extract_map(entries, term, out),
        Elem::Wild(_) | Elem::Rest(_) | Elem::Lit(_) => TokenStream::new(),
    }
}

fn bind<'a>(term: &Ident, ty: &'a Type, out: &mut Vec<Binding<'a>>) -> TokenStream {
    out.push(Binding {
        term: term.clone(),
        ty,
    });
    TokenStream::new()
}

fn extract_nested<'a>(
    kind: TokenStream,
    elems: &'a [Elem],
    term: &Ident,
    out: &mut Vec<Binding<'a>>,
) -> TokenStream {
    let iter = local(&format!("{term}_it"));
    let inner = extract_seq(elems, &iter, &term.to_string(), out);
    quote! {
        let mut #iter = ::core::iter::IntoIterator::into_iter(
            ::paragram::__private::#kind(#term)?
        );
        #inner
    }
}

fn extract_map<'a>(
    entries: &'a [MapEntry],
    term: &Ident,
    out: &mut Vec<Binding<'a>>,
) -> TokenStream {
    let binding: Vec<(usize, &MapEntry)> = entries
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.value.binding_count() > 0)
        .collect();
    let values: Vec<Ident> = binding
        .iter()
        .map(|(i, _)| local(&format!("{term}_{i}")))
        .collect();
    let keys = binding.iter().map(|(_, entry)| key_fn(&entry.key));
    let inner: Vec<TokenStream> = binding
        .iter()
        .zip(&values)
        .map(|((_, entry), value)| {
            let rest = extract_elem(&entry.value, value, out);
            quote!(let #value = #value?; #rest)
        })
        .collect();
    quote! {
        let [#(#values),*] = ::paragram::__private::map_take(#term, [#(#keys),*]);
        #(#inner)*
    }
}
