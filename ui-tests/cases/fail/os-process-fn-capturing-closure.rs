// A closure that captures state cannot run in another OS process: its
// state would be left behind.
use paragram::{Ctx, Spawn};

fn main() {
    let greeting = 7;
    let _ = Spawn::os_process_fn(move |_: &mut Ctx, n: i64| println!("{greeting} {n}"), 1);
}
