use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello", .., String)]
    fn hello(&mut self, _who: String) {}

    #[receive("bye")]
    async fn bye(&mut self) {}

    #[receive("count", u32)]
    fn count(&self, _n: u32) {}

    #[receive("bye")]
    fn bye_again(&mut self) {}
}

fn main() {}
