use paragram::{Ctx, Process};

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello", String, u32)]
    fn hello(&mut self, _ctx: &mut Ctx, _who: String) {}
}

fn main() {}
