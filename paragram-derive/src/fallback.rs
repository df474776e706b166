//! What to emit when the input is bad: the errors, the user's impl intact
//! (our attributes stripped), and a stand-in `impl Process` so that one
//! mistake does not cascade into "not a process" errors elsewhere.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

use crate::attr;

pub fn process(item: &ItemImpl, errors: &syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let stripped = attr::strip(item);
    let stand_in = item.trait_.is_none().then(|| stand_in(item));
    quote! {
        #errors
        #stripped
        #stand_in
    }
}

/// `impl Process` that matches nothing.
fn stand_in(item: &ItemImpl) -> TokenStream {
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    quote! {
        impl #impl_generics ::paragram::__private::Process for #self_ty #where_clause {
            fn handle(
                &mut self,
                _: &mut ::paragram::__private::Ctx,
                message: ::paragram::__private::Message,
            ) -> ::paragram::__private::Handled {
                ::paragram::__private::Handled::Unmatched(message)
            }
        }
    }
}

/// What an attribute that is not on the item it expects emits: the error,
/// then the item unchanged.
pub fn misplaced(error: &syn::Error, item: TokenStream) -> TokenStream {
    let error = error.to_compile_error();
    quote!(#error #item)
}
