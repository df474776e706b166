//! Reliability: a process that no handle can reach ends and releases its
//! thread, roots included. In its own binary because it counts every
//! thread of the OS process, the root's among them (a root's thread is
//! named `__main__`, as every root's is), so no other test may run beside
//! it.

mod stress_support;

use std::time::Duration;

use paragram::{BoxError, Ctx, Root, pattern};
use stress_support::{await_threads, size, threads};

type Started = Result<(), BoxError>;

#[test]
fn stress_unreachable_processes_release_their_threads() {
    let rounds = size(20, 200);
    let baseline = threads();
    for round in 0..rounds {
        let root = Root::new();
        let idle = root.spawn(|_: &mut Ctx| {}).unwrap();
        let pair = root
            .spawn(|ctx: &mut Ctx| -> Started {
                let partner = ctx.spawn_link(|_: &mut Ctx| {})?;
                ctx.receive(pattern!("never"), move |_, ()| {
                    let _ = &partner;
                })?;
                Ok(())
            })
            .unwrap();
        assert!(threads() > baseline);
        drop((idle, pair, root));
        let left = await_threads(baseline, Duration::from_secs(1));
        assert_eq!(
            left, baseline,
            "round {round}: threads left 1 s after the last handle"
        );
    }
}
