//! Procedural macros for paragram: each entry point only parses its input and hands it to a module.

mod pattern;

use proc_macro::TokenStream;

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
