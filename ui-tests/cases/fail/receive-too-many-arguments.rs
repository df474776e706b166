use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello", String)]
    fn hello(&mut self, _who: String, _times: u32) {}
}

fn main() {}
