use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("sum", [.., i64])]
    fn sum(&mut self, _last: i64) {}
}

fn main() {}
