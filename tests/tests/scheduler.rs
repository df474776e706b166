//! The scheduler kind on one worker, where nothing runs unless the
//! scheduler lets it: a flooded process, or two that wake each other, do
//! not keep the others from running; neither does a process blocked in
//! `Pid::wait` or in its own code, which the monitor reports.
//!
//! In its own binary: the worker count is set once, before the scheduler
//! starts, and the system monitor is global.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use paragram::{BoxError, Ctx, Kind, Pid, Root, Spawn, pattern};
use paragram_tests::{DEADLINE, ended, recv};

/// A root whose processes run on the scheduler kind, on one worker.
fn one_worker() -> Root {
    paragram::set_scheduler_workers(1);
    Root::with_kind(Kind::SCHEDULER)
}

/// A process that answers `("ping", Pid)` with `"pong"`.
fn ponger(root: &Root) -> Pid {
    root.spawn(Spawn::from_fn(|ctx| {
        ctx.receive(pattern!("ping", Pid), |_, (from,): (Pid,)| {
            from.send("pong")?;
            Ok::<(), BoxError>(())
        })
    }))
    .unwrap()
}

/// A process of the thread kind that forwards every `"pong"` to the test.
fn listener(root: &Root) -> (Pid, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(
            Spawn::from_fn(move |ctx| {
                ctx.receive(pattern!("pong"), move |_, ()| {
                    let _ = tx.send(());
                })
            })
            .kind(Kind::THREAD),
        )
        .unwrap();
    (pid, rx)
}

#[test]
fn a_process_that_floods_itself_does_not_starve_the_others() {
    let root = one_worker();
    let handled = Arc::new(AtomicU64::new(0));
    let count = handled.clone();
    // Each message it handles queues two more: it always has work.
    let flood = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("more"), move |ctx, ()| {
                count.fetch_add(1, Ordering::Relaxed);
                let me = ctx.me();
                if me.mailbox_len() < 10_000 {
                    me.send("more")?;
                    me.send("more")?;
                }
                Ok::<(), BoxError>(())
            })
        }))
        .unwrap();
    flood.send("more").unwrap();
    let ponger = ponger(&root);
    let (listener, pongs) = listener(&root);
    for _ in 0..20 {
        let before = handled.load(Ordering::Relaxed);
        ponger.send(("ping", listener.clone())).unwrap();
        recv(&pongs);
        assert!(
            handled.load(Ordering::Relaxed) > before || before == 0,
            "the flood runs between pings"
        );
    }
    assert!(flood.mailbox_len() > 0, "the flood was still going");
    for pid in [&flood, &ponger, &listener] {
        pid.terminate();
        assert!(ended(pid).is_normal());
    }
}

#[test]
fn two_processes_that_wake_each_other_do_not_starve_a_third() {
    let root = one_worker();
    // Each sends the other a ball as it gets one: each send puts the other
    // in the worker's LIFO slot, forever.
    let ball = |ctx: &mut Ctx| {
        ctx.receive(pattern!("ball", Pid), |ctx, (to,): (Pid,)| {
            let _ = to.send(("ball", ctx.me().clone()));
        })
    };
    let a = root.spawn(Spawn::from_fn(ball)).unwrap();
    let b = root.spawn(Spawn::from_fn(ball)).unwrap();
    // A process spawned on the worker waits in its queue, behind the
    // LIFO slot: its start-up code runs only if the slot gives way.
    let (started_tx, started) = mpsc::channel();
    let spawner = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("spawn"), move |ctx, ()| {
                let started = started_tx.clone();
                ctx.spawn(move |_: &mut Ctx| {
                    let _ = started.send(());
                })?;
                Ok::<(), BoxError>(())
            })
        }))
        .unwrap();
    a.send(("ball", b.clone())).unwrap();
    for _ in 0..20 {
        spawner.send("spawn").unwrap();
        recv(&started);
    }
    for pid in [&a, &b, &spawner] {
        pid.terminate();
        ended(pid);
    }
}

#[test]
fn blocking_in_wait_or_in_user_code_does_not_stall_the_others() {
    let root = one_worker();
    let (reports_tx, reports) = mpsc::channel();
    let monitor = root
        .spawn(
            Spawn::from_fn(move |ctx| {
                ctx.receive(
                    pattern!("monitor", Pid, "long_schedule", u64),
                    move |_, (pid, ms): (Pid, u64)| {
                        let _ = reports_tx.send((pid, ms));
                    },
                )
            })
            .kind(Kind::THREAD),
        )
        .unwrap();
    paragram::system_monitor(Some(monitor.clone()));

    // One waits for a process that ends only when told to.
    let awaited = root
        .spawn(Spawn::from_fn(|ctx| {
            ctx.receive(pattern!("never"), |_, ()| {})
        }))
        .unwrap();
    let (waited_tx, waited) = mpsc::channel();
    let (waiting_tx, waiting) = mpsc::channel();
    let waiter = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("wait for", Pid), move |_, (pid,): (Pid,)| {
                let _ = waiting_tx.send(());
                let _ = waited_tx.send(pid.wait());
            })
        }))
        .unwrap();
    waiter.send(("wait for", awaited.clone())).unwrap();
    recv(&waiting);

    // Another blocks in its own code until the test lets it go.
    let (release, released) = mpsc::channel::<()>();
    let (stuck_tx, stuck) = mpsc::channel();
    let blocker = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("block"), move |_, ()| {
                let _ = stuck_tx.send(());
                let _ = released.recv_timeout(DEADLINE);
            })
        }))
        .unwrap();
    blocker.send("block").unwrap();
    recv(&stuck);

    // The one worker is held twice over; processes spawned and woken now
    // still run.
    let ponger = ponger(&root);
    let (listener, pongs) = listener(&root);
    for _ in 0..20 {
        ponger.send(("ping", listener.clone())).unwrap();
        recv(&pongs);
    }

    // The monitor reports the process blocked in its own code, not the
    // one in `wait`: that one told the scheduler. (Other tests of this
    // binary may run beside this one, and their processes be reported.)
    let ms = loop {
        let (reported, ms) = recv(&reports);
        assert_ne!(reported, waiter, "a process in `wait` is not reported");
        if reported == blocker {
            break ms;
        }
    };
    assert!(
        Duration::from_millis(ms) >= paragram::LONG_SCHEDULE,
        "{ms} ms"
    );
    release.send(()).unwrap();
    awaited.terminate();
    let waited = recv(&waited).expect("another process's wait");
    assert!(waited.is_normal());
    for (reported, _) in reports.try_iter() {
        assert_ne!(reported, waiter, "a process in `wait` is not reported");
        assert_ne!(reported, blocker, "a process is reported once");
    }
    paragram::system_monitor(None);
    for pid in [&waiter, &blocker, &ponger, &listener, &monitor] {
        pid.terminate();
        assert!(ended(pid).is_normal());
    }
}
