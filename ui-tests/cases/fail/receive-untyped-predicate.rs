use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive(|x| x > 0)]
    fn positive(&mut self, _x: i32) {}
}

fn main() {}
