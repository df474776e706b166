use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive({"k": ..})]
    fn map(&mut self) {}
}

fn main() {}
