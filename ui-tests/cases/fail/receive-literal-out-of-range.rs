use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("byte", 300u8)]
    fn byte(&mut self) {}
}

fn main() {}
