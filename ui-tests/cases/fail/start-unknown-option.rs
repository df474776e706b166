use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[start(eager)]
    fn start(&mut self) {}
}

fn main() {}
