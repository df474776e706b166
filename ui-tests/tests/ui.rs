//! Compile-fail and compile-pass cases for paragram's macros. Regenerate
//! the `.stderr` files with `TRYBUILD=overwrite` and review them as a diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("cases/fail/*.rs");
    t.pass("cases/pass/*.rs");
}
