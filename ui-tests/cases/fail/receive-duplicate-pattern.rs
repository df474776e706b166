use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello", String)]
    fn hello(&mut self, _who: String) {}

    #[receive("hello", String)]
    fn hello_again(&mut self, _who: String) {}
}

fn main() {}
