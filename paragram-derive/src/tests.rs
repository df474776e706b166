//! Checks on what the impl attribute expands to, with the expansion
//! pretty-printed to `target/expanded/` for reading.

use quote::quote;
use syn::ItemImpl;

use crate::ast::ProcessImpl;
use crate::pattern::Errors;
use crate::{expand, valid};

fn expand(item: proc_macro2::TokenStream) -> String {
    let item: ItemImpl = syn::parse2(item).expect("an impl block");
    let mut errors = Errors::default();
    let ast = ProcessImpl::from_syn(&item, &mut errors);
    valid::check(&ast, &mut errors);
    errors.finish(()).expect("valid receivers");
    let file: syn::File = syn::parse2(expand::process(&ast)).expect("the expansion parses");
    prettyplease::unparse(&file)
}

#[test]
fn receivers_expand_to_one_static_match() {
    let expanded = expand(quote! {
        impl Greeter {
            #[start]
            fn start(&mut self, ctx: &mut Ctx) {}
            #[receive("hello", String)]
            fn hello(&mut self, ctx: &mut Ctx, who: String) {}
            #[receive((i32, [f64, ..]), {"k": |x: i64| x > 0})]
            fn nested(&mut self, a: i32, b: f64, k: i64) -> Result<(), Error> { Ok(()) }
            #[receive(Exit, Pid)]
            fn linked_exit(&mut self, exit: Exit, peer: Term) {}
            #[receive(..)]
            fn rest(&mut self) {}
        }
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/expanded");
    std::fs::create_dir_all(&dir).expect("create target/expanded");
    std::fs::write(dir.join("greeter.rs"), &expanded).expect("write the expansion");

    let dispatch = expanded
        .matches("match ::paragram::__private::Message::terms(&__message)")
        .count();
    assert_eq!(dispatch, 1, "one match over the message:\n{expanded}");
    for dynamic in [
        "dyn ",
        "Box",
        "Pattern",
        "Elem",
        "vec!",
        "to_owned",
        "String::from",
    ] {
        assert!(
            !expanded.contains(dynamic),
            "no `{dynamic}` in:\n{expanded}"
        );
    }
    assert!(
        !expanded.contains("#[receive"),
        "our attributes are stripped"
    );
    assert!(expanded.contains("lit_str(__t_0, \"hello\")"), "{expanded}");
}
