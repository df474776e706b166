struct Greeter;

impl Greeter {
    #[paragram::receive("hello")]
    fn hello(&mut self) {}
}

fn main() {}
