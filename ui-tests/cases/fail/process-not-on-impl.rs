#[paragram::process]
struct Greeter;

fn main() {}
