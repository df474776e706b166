use paragram::Process;

#[derive(Process)]
struct Greeter;

struct NotAnError;

#[paragram::process]
impl Greeter {
    #[receive("hello")]
    fn hello(&mut self) -> Result<(), NotAnError> {
        Ok(())
    }
}

fn main() {}
