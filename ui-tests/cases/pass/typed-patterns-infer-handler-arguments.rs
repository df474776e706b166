//! A handler registered with `pattern!` takes the pattern's bindings with
//! no type written: each binding's type comes from the pattern, nested
//! ones included; a closure process's `ctx` from `Spawn::from_fn`.

use paragram::{Exit, Pid, Root, Spawn, pattern};

fn main() {
    let root = Root::new();
    let pid = root
        .spawn(Spawn::from_fn(|ctx| {
            ctx.receive(pattern!("ping", Pid), |_, (from,)| {
                let _ = from.send("pong");
            })?;
            ctx.receive(
                pattern!("deep", (String, [u8, ..]), {"k": |x: f64| x > 0.0}),
                |ctx, (name, first, weight)| {
                    let _: (&str, u8, f64) = (name.as_str(), first, weight);
                    ctx.terminate();
                },
            )?;
            ctx.receive(pattern!(Exit, Pid), |_, (exit, peer)| {
                let _ = (exit.is_normal(), peer.name().len());
            })
        }))
        .unwrap();
    root.receive(pattern!("pong"), |_, ()| {}).unwrap();
    pid.send(("ping", root.pid())).unwrap();
    pid.terminate();
    let _ = pid.wait();
}
