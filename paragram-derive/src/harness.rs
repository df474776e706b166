//! `#[paragram::test]`: a test that cargo's own harness runs and that can
//! spawn OS processes, its children being the test binary run on it alone.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;
use syn::spanned::Spanned;

/// The test, marked for the harness, its body run with its thread marked
/// as running it.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new(
                proc_macro2::Span::call_site(),
                "expected `#[paragram::test]` on a test function",
            );
            let error = error.to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut errors = Vec::new();
    if !args.is_empty() {
        errors.push(syn::Error::new(
            args.span(),
            "expected no arguments: register processes with `paragram::os_process::hook` first \
             thing in the test",
        ));
    }
    if let Some(asyncness) = function.sig.asyncness {
        errors.push(syn::Error::new(
            asyncness.span,
            "expected a test that is not `async`",
        ));
    }
    if !function.sig.inputs.is_empty() {
        errors.push(syn::Error::new(
            function.sig.inputs.span(),
            "expected a test that takes no arguments",
        ));
    }
    let errors = errors.iter().map(syn::Error::to_compile_error);
    let name = function.sig.ident.to_string();
    let body = &function.block;
    function.block = syn::parse_quote!({
        let __paragram_test = ::paragram::__private::os_test(::core::module_path!(), #name);
        #body
    });
    quote! {
        #(#errors)*
        #[::core::prelude::v1::test]
        #function
    }
}
