use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello")]
    fn hello(&self) {}
}

fn main() {}
