use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello")]
    unsafe fn hello(&mut self) {}
}

fn main() {}
