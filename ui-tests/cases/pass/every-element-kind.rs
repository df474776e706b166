//! Every pattern element of SPEC §3 in attribute form compiles.
#![allow(clippy::all)]

use paragram::{Ctx, Exit, Opaque, Pid, Process, Term};

struct Deposit(u64);
impl Opaque for Deposit {}

#[derive(Process)]
struct Everything;

#[paragram::process]
impl Everything {
    #[receive("hi", 42, -1, 2.5, true, 'c', b"raw", 7u8)]
    fn literals(&mut self) {}

    #[receive(i32, u8, i64, f64, bool, String, Vec<u8>, Pid, Exit, Deposit)]
    fn types(
        &mut self,
        _a: i32,
        _b: u8,
        _c: i64,
        _d: f64,
        _e: bool,
        _f: String,
        _g: Vec<u8>,
        _h: Pid,
        _i: Exit,
        _j: Deposit,
    ) {
    }

    #[receive(Term, _, (1, String, ..), [i32, ..], {"k": i64, 19: [_]}, |x: f64| x < 0.0, ..)]
    fn structure(&mut self, _ctx: &mut Ctx, _t: Term, _s: String, _i: i32, _k: i64, _x: f64) {}

    #[receive()]
    fn empty(&mut self) -> Result<(), std::io::Error> {
        Ok(())
    }

    #[receive(Exit, Pid)]
    fn linked_exit(&mut self, _exit: Exit, _peer: Pid) {}
}

fn main() {}
