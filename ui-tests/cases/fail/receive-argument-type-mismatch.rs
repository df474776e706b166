use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello", String, u32)]
    fn hello(&mut self, _who: String, _times: i64) {}
}

fn main() {}
