//! The `term!` literal grammar and its expansion: tuples `(..)`, lists
//! `[..]` and maps `{k: v, ..}` written as patterns are, with any Rust
//! expression as a leaf.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    Expr, ExprLit, ExprUnary, Lit, LitInt, Token, UnOp, braced, bracketed, parenthesized, token,
};

/// One term, as written.
pub enum TermLit {
    /// `(a, b)`: parentheses always make a tuple, as in a pattern.
    Tuple(Vec<TermLit>),
    /// `[a, b]`.
    List(Vec<TermLit>),
    /// `{k: v}`.
    Map(Vec<(TermLit, TermLit)>),
    /// Any other expression, converted with `IntoTerm`.
    Leaf(Box<Expr>),
}

/// What `term!` takes: exactly one term.
pub struct Input(pub TermLit);

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let term = input.parse()?;
        if input.peek(Token![,]) && !input.peek2(syn::parse::End) {
            return Err(input
                .error("expected one term: write several as a tuple `(a, b)` or a list `[a, b]`"));
        }
        input.parse::<Option<Token![,]>>()?;
        if !input.is_empty() {
            return Err(input.error("expected one term"));
        }
        Ok(Input(term))
    }
}

impl Parse for TermLit {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(token::Paren) {
            let content;
            parenthesized!(content in input);
            Ok(TermLit::Tuple(items(&content)?))
        } else if input.peek(token::Bracket) {
            let content;
            bracketed!(content in input);
            Ok(TermLit::List(items(&content)?))
        } else if input.peek(token::Brace) {
            let content;
            braced!(content in input);
            let entries = content.parse_terminated(entry, Token![,])?;
            Ok(TermLit::Map(entries.into_iter().collect()))
        } else {
            Ok(TermLit::Leaf(Box::new(input.parse()?)))
        }
    }
}

fn items(input: ParseStream) -> syn::Result<Vec<TermLit>> {
    let items = input.parse_terminated(TermLit::parse, Token![,])?;
    Ok(items.into_iter().collect())
}

fn entry(input: ParseStream) -> syn::Result<(TermLit, TermLit)> {
    let key = input.parse()?;
    input.parse::<Token![:]>()?;
    let value = input.parse()?;
    Ok((key, value))
}

impl TermLit {
    /// The expression that builds the term, through the runtime's hidden
    /// module; each leaf converted at its own tokens, so that a value that
    /// is not a term is an error there.
    pub fn expand(&self) -> TokenStream {
        match self {
            TermLit::Tuple(items) => {
                let items = items.iter().map(TermLit::expand);
                quote!(::paragram::__private::Term::tuple([#(#items),*]))
            }
            TermLit::List(items) => {
                let items = items.iter().map(TermLit::expand);
                quote!(::paragram::__private::Term::list([#(#items),*]))
            }
            TermLit::Map(entries) => {
                let entries = entries.iter().map(|(key, value)| {
                    let (key, value) = (key.expand(), value.expand());
                    quote!((#key, #value))
                });
                quote!(::paragram::__private::Term::map([#(#entries),*]))
            }
            TermLit::Leaf(expr) => {
                let value = as_pattern_reads(expr).unwrap_or_else(|| quote!(#expr));
                quote_spanned!(expr.span()=> ::paragram::__private::IntoTerm::into_term(#value))
            }
        }
    }
}

/// A literal written as a pattern reads it: an unsuffixed integer (with
/// its `-`) as an `i128`, so that any integer term can be written; a byte
/// string as a byte-string term, not a list of integers.
fn as_pattern_reads(expr: &Expr) -> Option<TokenStream> {
    if let Expr::Lit(ExprLit {
        lit: Lit::ByteStr(bytes),
        ..
    }) = expr
    {
        return Some(
            quote_spanned!(bytes.span()=> ::paragram::__private::Bytes(<[u8]>::to_vec(#bytes))),
        );
    }
    let (minus, lit) = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => (None, int),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(minus),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => (Some(minus), int),
            _ => return None,
        },
        _ => return None,
    };
    if !lit.suffix().is_empty() {
        return None;
    }
    let wide = LitInt::new(&format!("{}i128", lit.base10_digits()), lit.span());
    Some(quote!(#minus #wide))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(tokens: TokenStream) -> syn::Result<String> {
        let Input(term) = syn::parse2(tokens)?;
        Ok(term.expand().to_string())
    }

    #[test]
    fn structure_and_leaves_expand_to_builders_and_conversions() {
        let text = expand(quote!(("ok", [1, -2, x], {"k": (y,)}))).expect("valid");
        assert!(
            text.starts_with(":: paragram :: __private :: Term :: tuple"),
            "{text}"
        );
        assert!(text.contains("1i128"), "{text}");
        assert!(text.contains("- 2i128"), "{text}");
        assert!(text.contains("Term :: map"), "{text}");
        assert!(text.contains("into_term (x)"), "{text}");
        let bytes = expand(quote!(b"raw")).expect("valid");
        assert!(bytes.contains("Bytes"), "{bytes}");
    }

    #[test]
    fn several_terms_at_the_top_are_an_error() {
        let error = expand(quote!(1, 2)).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("expected one term: write several as a tuple `(a, b)` or a list `[a, b]`")
        );
        assert!(expand(quote!(1,)).is_ok());
    }
}
