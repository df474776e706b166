use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello")]
    fn hello(&mut self) -> u32 {
        1
    }
}

fn main() {}
