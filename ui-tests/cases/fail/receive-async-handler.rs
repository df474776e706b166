use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello")]
    async fn hello(&mut self) {}
}

fn main() {}
