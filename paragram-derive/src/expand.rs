//! The tokens: `impl IntoSpawn` for a derived type, and `impl Process` with
//! one static `match` for a `#[paragram::process]` impl.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, ReturnType};

use crate::ast::{Handler, ProcessImpl, Receiver, Start};
use crate::attr;
use crate::compiled::{self, Binding, local};

/// `#[derive(Process)]`: spawnable as itself, and marked as derived.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    // A generic type's `impl Process` may add bounds of its own: require it
    // rather than guess them. A plain type gets the clearer error here when
    // its `#[paragram::process]` impl is missing.
    let spawn_where = if input.generics.params.is_empty() {
        quote!(#where_clause)
    } else {
        let mut generics = input.generics.clone();
        generics
            .make_where_clause()
            .predicates
            .push(syn::parse_quote!(Self: ::paragram::__private::Process));
        let where_clause = &generics.where_clause;
        quote!(#where_clause)
    };
    quote! {
        impl #impl_generics ::paragram::__private::IntoSpawn for #name #ty_generics #spawn_where {
            fn into_spawn(self) -> ::paragram::__private::Spawn {
                ::paragram::__private::Spawn::process(self)
            }
        }
        impl #impl_generics ::paragram::__private::Derived for #name #ty_generics #where_clause {}
    }
}

/// The impl, stripped of our attributes, and `impl Process` for its type.
pub fn process(ast: &ProcessImpl) -> TokenStream {
    let item = attr::strip(ast.original);
    let (impl_generics, _, where_clause) = ast.original.generics.split_for_impl();
    let self_ty = &ast.original.self_ty;
    let assert_derived = quote_spanned! {self_ty.span()=>
        ::paragram::__private::assert_derived::<#self_ty>();
    };
    let start = ast.starts.first().map(start);
    let message = local("__message");
    let ctx = local("__ctx");
    let arms = ast.receivers.iter().map(arm);
    // After `#[receive(..)]` (which `valid` keeps last) nothing is unmatched.
    let unmatched = (!ast.receivers.iter().any(|r| r.pattern.is_catch_all()))
        .then(|| quote!(_ => ::paragram::__private::Handled::Unmatched(#message),));
    quote! {
        #item

        impl #impl_generics ::paragram::__private::Process for #self_ty #where_clause {
            #start

            fn handle(
                &mut self,
                #ctx: &mut ::paragram::__private::Ctx,
                #message: ::paragram::__private::Message,
            ) -> ::paragram::__private::Handled {
                #assert_derived
                match ::paragram::__private::Message::terms(&#message) {
                    #(#arms)*
                    #unmatched
                }
            }
        }
    }
}

/// `fn start` calling the `#[start]` method.
fn start(start: &Start) -> TokenStream {
    let ctx = local("__ctx");
    let call = call(start.method, &start.handler, Vec::new());
    quote! {
        fn start(
            &mut self,
            #ctx: &mut ::paragram::__private::Ctx,
        ) -> ::core::result::Result<(), ::paragram::__private::Exit> {
            #call
        }
    }
}

/// One arm: the slice and guard; then the bindings moved out and the
/// handler called.
fn arm(receiver: &Receiver) -> TokenStream {
    let slice = compiled::slice(&receiver.pattern);
    let guard = compiled::guard(&receiver.pattern);
    let body = if receiver.pattern.binding_count() == 0 {
        let call = call(receiver.method, &receiver.handler, Vec::new());
        quote!(::paragram::__private::Handled::Done(#call))
    } else {
        bind_and_call(receiver)
    };
    quote!(#slice #guard => { #body })
}

fn bind_and_call(receiver: &Receiver) -> TokenStream {
    let message = local("__message");
    let terms = local("__terms");
    let bound = local("__bound");
    let mut bindings = Vec::new();
    let extract = compiled::extract(&receiver.pattern, &terms, &mut bindings);
    let names: Vec<_> = (0..bindings.len())
        .map(|i| local(&format!("__b{i}")))
        .collect();
    let converts = bindings
        .iter()
        .zip(&receiver.handler.args)
        .zip(&names)
        .map(|((binding, arg), name)| convert(binding, arg.is_term, name));
    let args = bindings
        .iter()
        .zip(&receiver.handler.args)
        .zip(&names)
        .map(|((binding, arg), name)| {
            let (pattern_ty, arg_ty) = (binding.ty, &arg.original.ty);
            if arg.is_term {
                quote!(#name)
            } else {
                quote_spanned! {arg_ty.span()=>
                    <#pattern_ty as ::paragram::__private::Binds<#arg_ty>>::into_arg(#name)
                }
            }
        })
        .collect();
    let call = call(receiver.method, &receiver.handler, args);
    quote! {
        let mut #terms = ::core::iter::IntoIterator::into_iter(
            #message,
        );
        let #bound = (|| {
            #extract
            #(#converts)*
            ::core::option::Option::Some((#(#names,)*))
        })();
        match #bound {
            ::core::option::Option::Some((#(#names,)*)) => {
                ::paragram::__private::Handled::Done(#call)
            }
            ::core::option::Option::None => ::paragram::__private::Handled::Done(
                ::core::result::Result::Err(::paragram::__private::binding_failed()),
            ),
        }
    }
}

/// The binding converted to the pattern's type, or kept as the term for a
/// `Term` argument.
fn convert(binding: &Binding, is_term: bool, name: &syn::Ident) -> TokenStream {
    let term = &binding.term;
    let ty = binding.ty;
    if is_term {
        quote!(let #name = #term;)
    } else {
        quote! {
            let #name = ::core::result::Result::ok(
                <#ty as ::paragram::__private::FromTerm>::from_term(#term),
            )?;
        }
    }
}

/// `Outcome::into_exit(Self::method(self, ctx?, args...))`, the conversion
/// spanned at the return type so that a bad error type is reported there.
fn call(method: &syn::ImplItemFn, handler: &Handler, args: Vec<TokenStream>) -> TokenStream {
    let name = &method.sig.ident;
    let ctx = handler.ctx.then(|| local("__ctx"));
    let ctx = ctx.iter();
    let into_exit = match &method.sig.output {
        ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
            <#ty as ::paragram::__private::Outcome>::into_exit
        },
        ReturnType::Default => quote!(::paragram::__private::Outcome::into_exit),
    };
    quote!(#into_exit(Self::#name(self, #(#ctx,)* #(#args),*)))
}
