//! The generated code names everything by absolute path, so shadowing the
//! prelude changes nothing.
#![allow(dead_code, non_camel_case_types)]

use paragram::{Ctx, Process, Root};

struct Option;
struct Result;
struct Box;
trait Send {}
struct String;
struct Vec;
struct Ok;
struct Err;
struct Some;
struct None;
mod core {}

#[derive(Process)]
struct Greeter {
    greeted: u32,
}

#[paragram::process]
impl Greeter {
    #[start]
    fn start(&mut self, _ctx: &mut Ctx) -> ::std::result::Result<(), paragram::BoxError> {
        ::std::result::Result::Ok(())
    }

    #[receive("hello", ::std::string::String, [i64, ..], {"k": (bool, _)})]
    fn hello(&mut self, ctx: &mut Ctx, who: ::std::string::String, n: i64, flag: bool) {
        self.greeted += 1;
        let _ = (ctx.name(), who, n, flag);
    }

    #[receive(|x: f64| x > 0.0)]
    fn positive(&mut self, _x: paragram::Term) -> ::std::result::Result<(), ::std::io::Error> {
        ::std::result::Result::Ok(())
    }
}

fn main() {
    let root = Root::new();
    let pid = root.spawn(Greeter { greeted: 0 }).unwrap();
    pid.send(("hello", "world", vec![1, 2], ::std::collections::BTreeMap::from([("k", (true, 0))])))
        .unwrap();
    pid.send(2.5).unwrap();
    pid.terminate();
    assert!(pid.wait_timeout(::std::time::Duration::from_secs(10)).unwrap().is_normal());
}
