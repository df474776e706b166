//! Reliability: a process that no handle can reach ends and releases what
//! it holds (its thread, for the thread kind), roots included. In its own
//! binary because it counts every thread of the OS process, the root's
//! among them (a root's thread is named `__main__`, as every root's is),
//! so no other test may run beside it.

mod stress_support;

use std::sync::mpsc;
use std::time::Duration;

use paragram::{BoxError, Ctx, Kind, Root, pattern};
use stress_support::{DEADLINE, await_threads, size, thread_names, threads, warm_up};

type Started = Result<(), BoxError>;

#[test]
fn stress_unreachable_processes_release_their_threads() {
    let rounds = size(20, 200);
    warm_up();
    let baseline = threads();
    let named = thread_names();
    for round in 0..rounds {
        // The pair's handlers hold a sender each: once both have ended,
        // the channel is disconnected. Neither is linked: a link would
        // keep each reachable from the other.
        let (held, ended) = mpsc::channel::<()>();
        let root = Root::new();
        let idle = root.spawn(|_: &mut Ctx| {}).unwrap();
        let pair = root
            .spawn(move |ctx: &mut Ctx| -> Started {
                let mine = held.clone();
                let partner = ctx.spawn(move |ctx: &mut Ctx| {
                    ctx.receive(pattern!("never"), move |_, ()| {
                        let _ = &held;
                    })
                })?;
                ctx.receive(pattern!("never"), move |_, ()| {
                    let _ = (&partner, &mine);
                })?;
                Ok(())
            })
            .unwrap();
        if Kind::default() == Kind::THREAD {
            assert!(threads() > baseline);
        }
        drop((idle, pair, root));
        assert_eq!(
            ended.recv_timeout(DEADLINE),
            Err(mpsc::RecvTimeoutError::Disconnected),
            "round {round}: a process no handle reaches is still running"
        );
        let left = await_threads(baseline, Duration::from_secs(1));
        assert_eq!(
            left,
            baseline,
            "round {round}: threads left 1 s after the last handle: {:?}, at the baseline: {named:?}",
            thread_names()
        );
    }
}
