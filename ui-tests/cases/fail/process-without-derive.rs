struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("hello")]
    fn hello(&mut self) {}
}

fn main() {}
