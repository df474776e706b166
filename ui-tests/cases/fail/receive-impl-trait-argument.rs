use paragram::Process;

#[derive(Process)]
struct Echo;

#[paragram::process]
impl Echo {
    #[receive(String)]
    fn echo(&mut self, _text: impl AsRef<str>) {}
}

fn main() {}
