//! Procedural macros for paragram.
use proc_macro::TokenStream;

/// A runtime pattern.
#[proc_macro]
pub fn pattern(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
