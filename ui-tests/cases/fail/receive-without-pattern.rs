use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive]
    fn hello(&mut self) {}
}

fn main() {}
