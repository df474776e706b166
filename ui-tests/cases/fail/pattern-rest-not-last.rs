use paragram::{Spawn, pattern};

fn main() {
    let _ = Spawn::from_fn(|ctx| {
        ctx.receive(pattern!("move", .., i32), |_, (n,): (i32,)| {
            let _ = n;
        })
    });
}
