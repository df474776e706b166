//! The original library's quickstart, translated line for line: start a
//! process, send it a message, and let its receiver end it.
//!
//! Prints `process started!` then `process ending.`.

use paragram::{Ctx, PatternError, Spawn, pattern};

fn init_process(proc: &mut Ctx) -> Result<(), PatternError> {
    println!("process started!");
    proc.receive(pattern!("go away"), |proc, ()| {
        println!("process ending.");
        proc.terminate();
    })
}

fn main() {
    let proc = paragram::main()
        .spawn_link(Spawn::new(init_process).name("my first process"))
        .expect("a fresh program can start a thread");
    proc.send("go away").expect("the process is alive");
    let exit = proc.wait().expect("the top level is not the process");
    assert!(
        exit.is_normal(),
        "the process should end normally, not with {exit}"
    );
}
