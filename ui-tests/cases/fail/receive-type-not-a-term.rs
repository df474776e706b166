use paragram::Process;

#[derive(Process)]
struct Greeter;

struct Deposit(u64);

#[paragram::process]
impl Greeter {
    #[receive("deposit", Deposit)]
    fn deposit(&mut self, _deposit: Deposit) {}
}

fn main() {}
