use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello", .., String)]
    fn hello(&mut self, _who: String) {}
}

fn main() {}
