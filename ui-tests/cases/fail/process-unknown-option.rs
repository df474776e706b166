use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process(name = "greeter")]
impl Greeter {
    #[receive("hello")]
    fn hello(&mut self) {}
}

fn main() {}
