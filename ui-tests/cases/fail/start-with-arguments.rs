use paragram::{Ctx, Process};

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[start]
    fn start(&mut self, _ctx: &mut Ctx, _greeting: String) {}
}

fn main() {}
