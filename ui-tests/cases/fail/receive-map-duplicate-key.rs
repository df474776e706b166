use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive({"k": i32, "k": i64})]
    fn map(&mut self, _a: i32, _b: i64) {}
}

fn main() {}
