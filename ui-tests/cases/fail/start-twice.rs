use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[start]
    fn first(&mut self) {}

    #[start]
    fn second(&mut self) {}
}

fn main() {}
