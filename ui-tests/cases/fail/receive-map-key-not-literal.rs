use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive({String: i32})]
    fn map(&mut self, _a: i32) {}
}

fn main() {}
