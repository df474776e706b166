//! Procedural macros for paragram: each entry point only parses its input
//! and hands it to the stages: `ast` (typed view), `attr` (attribute
//! arguments), `valid` (cross-checks), `expand` and `compiled` (tokens),
//! `fallback` (what bad input emits). `pattern` is the pattern grammar
//! shared by `pattern!` and `#[receive(...)]`; `term` the grammar of
//! `term!`; `harness` the `#[paragram::test]` attribute. `tests` checks
//! what the impl attribute expands to.

mod ast;
mod attr;
mod compiled;
mod expand;
mod fallback;
mod harness;
mod pattern;
mod term;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use proc_macro2::Span;
use syn::{DeriveInput, ItemImpl, parse_macro_input};

use crate::ast::ProcessImpl;
use crate::pattern::Errors;

/// Builds a runtime `paragram::Pattern` from pattern syntax.
///
/// `pattern!("move", i32, i32, ..)` matches the message `("move", 3, 4)`
/// and any longer one, and binds the two integers.
#[proc_macro]
pub fn pattern(input: TokenStream) -> TokenStream {
    match syn::parse::<pattern::Pattern>(input) {
        Ok(pattern) => pattern.to_runtime(),
        Err(errors) => pattern::fallback(&errors),
    }
    .into()
}

/// Builds a `paragram::Term` from literal syntax: `(..)` a tuple, `[..]` a
/// list, `{k: v, ..}` a map, as in a pattern, and any other Rust expression
/// a leaf, converted with `IntoTerm` (an unsuffixed integer literal as an
/// `i128`).
///
/// `term!(("ok", [1, 2.5, 'c'], {"k": name}))` is the tuple of a string, a
/// list and a map.
#[proc_macro]
pub fn term(input: TokenStream) -> TokenStream {
    match syn::parse::<term::Input>(input) {
        Ok(term::Input(term)) => term.expand(),
        Err(error) => error.to_compile_error(),
    }
    .into()
}

/// Makes a type spawnable as a process; its receivers are the
/// `#[receive(...)]` methods of an `impl` block marked
/// `#[paragram::process]`.
#[proc_macro_derive(Process)]
pub fn derive_process(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// Compiles the `#[receive(...)]` methods of an `impl` block into one
/// static `match`: `impl paragram::Process` for the type. An optional
/// `#[start]` method runs before the first message.
#[proc_macro_attribute]
pub fn process(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: ItemImpl = match syn::parse(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "expected `#[paragram::process]` on an `impl` block",
            );
            return fallback::misplaced(&error, input.into()).into();
        }
    };
    let mut errors = Errors::default();
    attr::options(args.into(), &mut errors);
    let ast = ProcessImpl::from_syn(&item, &mut errors);
    valid::check(&ast, &mut errors);
    match errors.finish(()) {
        Ok(()) => expand::process(&ast),
        Err(errors) => fallback::process(&item, &errors),
    }
    .into()
}

/// A test, run by cargo's own harness, that can spawn OS processes: call
/// `paragram::os_process::hook` first thing in it, as `main` would. Its
/// OS processes are the test binary run on this test alone; in them, the
/// hook runs the process and exits before the rest of the test.
///
/// ```ignore
/// #[paragram::test]
/// fn echo_answers() {
///     paragram::os_process::hook(|r| {
///         r.register::<Echo>();
///     });
///     let root = paragram::Root::new();
///     let echo = root.spawn(paragram::Spawn::os_process(Echo)).unwrap();
///     // ...
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, input: TokenStream) -> TokenStream {
    harness::expand(args.into(), input.into()).into()
}

/// Marks a receiver inside an `impl` block marked `#[paragram::process]`,
/// which removes it; anywhere else it is an error.
#[proc_macro_attribute]
pub fn receive(_args: TokenStream, input: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "expected `#[receive]` inside an `impl` block marked `#[paragram::process]`",
    );
    fallback::misplaced(&error, input.into()).into()
}
