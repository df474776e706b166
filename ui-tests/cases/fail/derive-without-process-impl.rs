use paragram::Process;

#[derive(Process)]
struct Greeter;

impl Greeter {
    fn hello(&mut self) {}
}

fn main() {}
