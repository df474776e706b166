use paragram::{Pid, Spawn, pattern};

fn main() {
    let _ = Spawn::from_fn(|ctx| {
        ctx.receive(pattern!("ping", Pid), |_, (name,): (String,)| {
            let _ = name;
        })
    });
}
