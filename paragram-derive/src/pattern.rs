//! The pattern grammar shared by `pattern!` and `#[receive(...)]`: a typed
//! view of the syntax that keeps every node's tokens for error spans, its
//! parser (which reports every mistake at once), and the expansion into the
//! runtime's `Elem` builders.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    ExprClosure, Ident, Lit, LitInt, Pat, Token, Type, braced, bracketed, parenthesized, token,
};

const MISPLACED_REST: &str = "expected `..` only as the last element of a pattern";
const EXPECTED_ELEM: &str =
    "expected a pattern: a literal, a type, `_`, `..`, `(...)`, `[...]`, `{...}` or `|x: T| ...`";
const EXPECTED_PREDICATE: &str =
    "expected a predicate with exactly one typed argument: `|x: T| ...`";

/// A whole pattern: comma-separated elements matched against a message.
pub struct Pattern {
    pub elems: Vec<Elem>,
}

/// One pattern element.
pub enum Elem {
    /// `_`: any one term, not bound.
    Wild(Token![_]),
    /// `..`: the remaining terms of a sequence, not bound.
    Rest(Token![..]),
    /// A literal: an equal term.
    Lit(Literal),
    /// A type: a term that converts to it, bound.
    Type(Box<Type>),
    /// `|x: T| test`: a term that converts to `T` and passes the test, bound.
    Pred(Box<Predicate>),
    /// `(p, q)`: a tuple term.
    Tuple(token::Paren, Vec<Elem>),
    /// `[p, q]`: a list term.
    List(token::Bracket, Vec<Elem>),
    /// `{key: p}`: a map term holding the keys.
    Map(token::Brace, Vec<MapEntry>),
}

/// A literal, with the `-` of a negative number.
pub struct Literal {
    pub minus: Option<Token![-]>,
    pub lit: Lit,
}

/// A predicate closure and the type of its one argument.
pub struct Predicate {
    pub closure: ExprClosure,
    pub ty: Type,
}

/// `key: pattern` in a map pattern.
pub struct MapEntry {
    pub key: Literal,
    pub value: Elem,
}

/// A literal's value, to find duplicate map keys the way the runtime
/// compares terms: `1` and `1u8` are the same key.
#[derive(PartialEq)]
enum KeyValue {
    Str(String),
    Bytes(Vec<u8>),
    Int(i128),
    Float(u64),
    Bool(bool),
    Char(char),
}

/// Every error found so far, reported together.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `value`, or every error pushed.
    pub fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

impl Parse for Pattern {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let elems = parse_seq(input, &mut errors);
        errors.finish(Pattern { elems })
    }
}

/// Parses comma-separated items to the end of `input`, recording each bad
/// item's error and skipping to the next comma.
fn parse_items<T>(
    input: ParseStream,
    errors: &mut Errors,
    mut item: impl FnMut(ParseStream, &mut Errors) -> syn::Result<T>,
) -> Vec<T> {
    let mut items = Vec::new();
    while !input.is_empty() {
        match item(input, errors) {
            Ok(parsed) => items.push(parsed),
            Err(error) => {
                errors.push(error);
                skip_to_comma(input);
            }
        }
        if input.is_empty() {
            break;
        }
        if let Err(error) = input.parse::<Token![,]>() {
            errors.push(error);
            skip_to_comma(input);
            let _ = input.parse::<Option<Token![,]>>();
        }
    }
    items
}

fn skip_to_comma(input: ParseStream) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            if matches!(&tree, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

/// Parses a sequence (a message, tuple or list), reporting every `..` that
/// is followed by another element.
fn parse_seq(input: ParseStream, errors: &mut Errors) -> Vec<Elem> {
    let mut open_rest: Option<Token![..]> = None;
    parse_items(input, errors, |input, errors| {
        if let Some(rest) = open_rest.take() {
            errors.push(syn::Error::new_spanned(rest, MISPLACED_REST));
        }
        let elem = parse_elem(input, errors)?;
        if let Elem::Rest(rest) = &elem {
            open_rest = Some(*rest);
        }
        Ok(elem)
    })
}

fn parse_elem(input: ParseStream, errors: &mut Errors) -> syn::Result<Elem> {
    if input.peek(Token![_]) {
        input.parse().map(Elem::Wild)
    } else if input.peek(Token![..]) {
        input.parse().map(Elem::Rest)
    } else if input.peek(Lit) || input.peek(Token![-]) {
        input.parse().map(Elem::Lit)
    } else if input.peek(token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        Ok(Elem::Tuple(paren, parse_seq(&content, errors)))
    } else if input.peek(token::Bracket) {
        let content;
        let bracket = bracketed!(content in input);
        Ok(Elem::List(bracket, parse_seq(&content, errors)))
    } else if input.peek(token::Brace) {
        let content;
        let brace = braced!(content in input);
        Ok(Elem::Map(brace, parse_map(&content, errors)))
    } else if input.peek(Token![|])
        || input.peek(Token![||])
        || input.peek(Token![move])
        || input.peek(Token![async])
    {
        input.parse().map(Elem::Pred)
    } else if starts_type(input) {
        input.parse().map(Elem::Type)
    } else {
        Err(syn::Error::new(input.span(), EXPECTED_ELEM))
    }
}

/// Whether the next token can begin a type, so that syn's own error for a
/// malformed type is the precise one.
fn starts_type(input: ParseStream) -> bool {
    input.peek(Ident::peek_any)
        || input.peek(Token![::])
        || input.peek(Token![<])
        || input.peek(Token![&])
        || input.peek(Token![*])
        || input.peek(Token![!])
}

fn parse_map(input: ParseStream, errors: &mut Errors) -> Vec<MapEntry> {
    let mut keys: Vec<Option<KeyValue>> = Vec::new();
    parse_items(input, errors, |input, errors| {
        let entry = parse_entry(input, errors)?;
        let key = entry.key.value();
        if key.is_some() && keys.contains(&key) {
            errors.push(syn::Error::new(
                entry.key.span(),
                "expected each map key once",
            ));
        }
        keys.push(key);
        Ok(entry)
    })
}

fn parse_entry(input: ParseStream, errors: &mut Errors) -> syn::Result<MapEntry> {
    let key = match parse_elem(input, errors)? {
        Elem::Lit(key) => key,
        other => {
            return Err(syn::Error::new(
                other.span(),
                "expected a literal as a map key",
            ));
        }
    };
    input.parse::<Token![:]>()?;
    match parse_elem(input, errors)? {
        Elem::Rest(rest) => Err(syn::Error::new_spanned(
            rest,
            "expected a pattern for the map value, found `..`",
        )),
        value => Ok(MapEntry { key, value }),
    }
}

impl Parse for Literal {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let minus: Option<Token![-]> = input.parse()?;
        let lit: Lit = input.parse()?;
        match (&minus, &lit) {
            (Some(_), Lit::Int(_) | Lit::Float(_)) => {}
            (Some(_), _) => return Err(syn::Error::new(lit.span(), "expected a number after `-`")),
            (None, Lit::Str(_) | Lit::ByteStr(_) | Lit::Byte(_) | Lit::Char(_))
            | (None, Lit::Int(_) | Lit::Float(_) | Lit::Bool(_)) => {}
            (None, _) => {
                return Err(syn::Error::new(
                    lit.span(),
                    "expected a string, byte string, number, bool or char literal",
                ));
            }
        }
        Ok(Literal { minus, lit })
    }
}

impl Parse for Predicate {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let closure: ExprClosure = input.parse()?;
        if let Some(asyncness) = &closure.asyncness {
            return Err(syn::Error::new_spanned(
                asyncness,
                "expected a predicate that is not `async`",
            ));
        }
        let mut inputs = closure.inputs.iter();
        let ty = match (inputs.next(), inputs.next()) {
            (Some(Pat::Type(arg)), None) => (*arg.ty).clone(),
            (Some(arg), None) => return Err(syn::Error::new_spanned(arg, EXPECTED_PREDICATE)),
            _ => return Err(syn::Error::new(closure.or1_token.span, EXPECTED_PREDICATE)),
        };
        Ok(Predicate { closure, ty })
    }
}

impl Elem {
    /// The span errors about this element point at.
    pub fn span(&self) -> Span {
        match self {
            Elem::Wild(token) => token.span,
            Elem::Rest(token) => token.spans[0],
            Elem::Lit(literal) => literal.span(),
            Elem::Type(ty) => ty.span(),
            Elem::Pred(predicate) => predicate.closure.or1_token.span,
            Elem::Tuple(paren, _) => paren.span.join(),
            Elem::List(bracket, _) => bracket.span.join(),
            Elem::Map(brace, _) => brace.span.join(),
        }
    }
}

impl Pattern {
    /// How many handler arguments the pattern binds.
    pub fn binding_count(&self) -> usize {
        self.elems.iter().map(Elem::binding_count).sum()
    }

    /// Whether the pattern is `..`, which matches every message.
    pub fn is_catch_all(&self) -> bool {
        matches!(self.elems.as_slice(), [Elem::Rest(_)])
    }
}

impl Elem {
    /// How many terms this element binds, nested ones included.
    pub fn binding_count(&self) -> usize {
        match self {
            Elem::Type(_) | Elem::Pred(_) => 1,
            Elem::Tuple(_, elems) | Elem::List(_, elems) => {
                elems.iter().map(Elem::binding_count).sum()
            }
            Elem::Map(_, entries) => entries.iter().map(|e| e.value.binding_count()).sum(),
            Elem::Wild(_) | Elem::Rest(_) | Elem::Lit(_) => 0,
        }
    }
}

impl Literal {
    /// The span of the literal, from its `-` if it has one.
    pub fn span(&self) -> Span {
        self.minus
            .as_ref()
            .map_or_else(|| self.lit.span(), |minus| minus.span)
    }

    /// The value as the runtime would compare it, or `None` where it cannot
    /// be known here (an out-of-range integer, which rustc reports).
    fn value(&self) -> Option<KeyValue> {
        let negative = self.minus.is_some();
        Some(match &self.lit {
            Lit::Str(s) => KeyValue::Str(s.value()),
            Lit::ByteStr(s) => KeyValue::Bytes(s.value()),
            Lit::Byte(b) => KeyValue::Int(i128::from(b.value())),
            Lit::Char(c) => KeyValue::Char(c.value()),
            Lit::Bool(b) => KeyValue::Bool(b.value),
            // `1f64` is an integer literal to syn and a float to rustc.
            Lit::Int(int) if matches!(int.suffix(), "f32" | "f64") => {
                let magnitude = int.base10_parse::<f64>().ok()?;
                KeyValue::Float(if negative { -magnitude } else { magnitude }.to_bits())
            }
            Lit::Int(int) => {
                let magnitude: u128 = int.base10_parse().ok()?;
                KeyValue::Int(if negative {
                    0i128.checked_sub_unsigned(magnitude)?
                } else {
                    i128::try_from(magnitude).ok()?
                })
            }
            Lit::Float(float) => {
                let magnitude = if float.suffix() == "f32" {
                    f64::from(float.base10_parse::<f32>().ok()?)
                } else {
                    float.base10_parse::<f64>().ok()?
                };
                KeyValue::Float(if negative { -magnitude } else { magnitude }.to_bits())
            }
            _ => return None,
        })
    }
}

/// What `pattern!` expands to on bad input: every error, then an empty
/// pattern whose bindings take the handler's types, so that the errors do
/// not cascade into type errors where the handler's are written out.
pub fn fallback(errors: &syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    quote!({ #errors ::paragram::__private::typed::<_>(::std::vec::Vec::new()) })
}

impl Pattern {
    /// The runtime pattern, typed with its bindings:
    /// `::paragram::__private::typed::<(T, U,)>(vec![...])`.
    pub fn to_runtime(&self) -> TokenStream {
        let elems = self.elems.iter().map(Elem::to_runtime);
        let mut types = Vec::new();
        for elem in &self.elems {
            elem.binding_types(&mut types);
        }
        quote!(::paragram::__private::typed::<(#(#types,)*)>(::std::vec![#(#elems),*]))
    }
}

impl Elem {
    /// Appends the types this element binds, depth first, left to right:
    /// the order the runtime binds them in.
    fn binding_types<'a>(&'a self, out: &mut Vec<&'a Type>) {
        match self {
            Elem::Type(ty) => out.push(ty),
            Elem::Pred(predicate) => out.push(&predicate.ty),
            Elem::Tuple(_, elems) | Elem::List(_, elems) => {
                for elem in elems {
                    elem.binding_types(out);
                }
            }
            Elem::Map(_, entries) => {
                for entry in entries {
                    entry.value.binding_types(out);
                }
            }
            Elem::Wild(_) | Elem::Rest(_) | Elem::Lit(_) => {}
        }
    }
}

impl Elem {
    /// The `::paragram::Elem` builder call for this element, spanned at the
    /// user's tokens so type errors land there.
    fn to_runtime(&self) -> TokenStream {
        let span = self.span();
        match self {
            Elem::Wild(_) => quote_spanned!(span=> ::paragram::Elem::wild()),
            Elem::Rest(_) => quote_spanned!(span=> ::paragram::Elem::rest()),
            Elem::Lit(literal) => {
                let value = literal.to_value();
                quote_spanned!(span=> ::paragram::Elem::lit(#value))
            }
            Elem::Type(ty) => quote_spanned!(span=> ::paragram::Elem::of::<#ty>()),
            Elem::Pred(predicate) => {
                let Predicate { closure, ty } = &**predicate;
                quote_spanned!(span=> ::paragram::Elem::pred::<#ty>(#closure))
            }
            Elem::Tuple(_, elems) => {
                let elems = elems.iter().map(Elem::to_runtime);
                quote_spanned!(span=> ::paragram::Elem::tuple(::std::vec![#(#elems),*]))
            }
            Elem::List(_, elems) => {
                let elems = elems.iter().map(Elem::to_runtime);
                quote_spanned!(span=> ::paragram::Elem::list(::std::vec![#(#elems),*]))
            }
            Elem::Map(_, entries) => {
                let entries = entries.iter().map(MapEntry::to_runtime);
                quote_spanned!(span=> ::paragram::Elem::map(::std::vec![#(#entries),*]))
            }
        }
    }
}

impl MapEntry {
    fn to_runtime(&self) -> TokenStream {
        let key = self.key.to_value();
        let value = self.value.to_runtime();
        quote_spanned!(self.key.span()=> (::paragram::IntoTerm::into_term(#key), #value))
    }
}

impl Literal {
    /// The literal as a Rust value that converts into the right term: an
    /// unsuffixed integer becomes an `i128`, so any integer term can be
    /// written; a byte string becomes `::paragram::Bytes`.
    pub fn to_value(&self) -> TokenStream {
        let minus = &self.minus;
        match &self.lit {
            Lit::Int(int) if int.suffix().is_empty() => {
                let wide = LitInt::new(&format!("{}i128", int.base10_digits()), int.span());
                quote!(#minus #wide)
            }
            Lit::ByteStr(bytes) => {
                quote_spanned!(bytes.span()=> ::paragram::Bytes(<[u8]>::to_vec(#bytes)))
            }
            lit => quote!(#minus #lit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: TokenStream) -> syn::Result<Pattern> {
        syn::parse2(tokens)
    }

    fn messages(tokens: TokenStream) -> Vec<String> {
        match parse(tokens) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn parentheses_always_make_a_tuple() {
        let pattern = parse(quote!((p), (p,), (), [])).expect("valid");
        let arities: Vec<Option<usize>> = pattern
            .elems
            .iter()
            .map(|elem| match elem {
                Elem::Tuple(_, elems) => Some(elems.len()),
                _ => None,
            })
            .collect();
        assert_eq!(arities, [Some(1), Some(1), Some(0), None]);
    }

    #[test]
    fn every_element_kind_parses() {
        let pattern = parse(quote!(
            _, "s", -1, 2.5, true, 'c', b"b", 5u8, Vec<u8>, ::std::string::String,
            |x: f64| x < 0.0, move |x: i32| x > 1, [i32, ..], {"k": _, -3: i32}, ..,
        ))
        .expect("valid");
        assert_eq!(pattern.elems.len(), 15);
    }

    #[test]
    fn every_misplaced_rest_is_reported() {
        let errors = messages(quote!(.., (.., _), [.., ..], ..));
        assert_eq!(errors, vec![MISPLACED_REST; 3]);
    }

    #[test]
    fn map_mistakes_are_reported_together() {
        let errors = messages(quote!({ "k": .., x: i32, 1: _, 1u8: _, "ok": i32 }));
        assert_eq!(
            errors,
            [
                "expected a pattern for the map value, found `..`",
                "expected a literal as a map key",
                "expected each map key once",
            ]
        );
    }

    #[test]
    fn predicates_need_one_typed_argument() {
        let errors = messages(quote!(
            |x| true,
            |x: i32, y: i32| true,
            || true,
            async |x: i32| true
        ));
        assert_eq!(errors.len(), 4);
        assert!(errors[..3].iter().all(|e| e == EXPECTED_PREDICATE));
        assert_eq!(errors[3], "expected a predicate that is not `async`");
    }

    #[test]
    fn bad_elements_do_not_hide_later_ones() {
        let errors = messages(quote!(-"s", i32 i64, = , ..,  c"x", _));
        assert_eq!(
            errors,
            [
                "expected a number after `-`",
                "expected `,`",
                EXPECTED_ELEM,
                MISPLACED_REST,
                "expected a string, byte string, number, bool or char literal",
            ]
        );
    }

    #[test]
    fn unsuffixed_integers_expand_to_i128() {
        let pattern = parse(quote!(-7, 7u8)).expect("valid");
        let expanded = pattern.to_runtime().to_string();
        assert!(expanded.contains("- 7i128"), "{expanded}");
        assert!(expanded.contains("7u8"), "{expanded}");
    }
}
