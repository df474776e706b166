//! Reachability: a process ends as unreachable only when no `Pid`, link or
//! monitor of another process reaches it (a registered name and a pending
//! timer hold a `Pid`); a root ends when its `Root` is dropped. Liveness is
//! seen through a receive timeout, which holds no handle: a process that
//! ticks is running.

use std::sync::mpsc;
use std::time::Duration;

use paragram::{BoxError, Kind, Pid, ReceiveTimeout, Root, Spawn, pattern};
use paragram_tests::{DEADLINE, Fault, ended, recv};

const KINDS: [Kind; 2] = [Kind::THREAD, Kind::SCHEDULER];

/// A process of `kind` that reports a tick every 5 ms of quiet, and ends
/// with `Fault` at the first tick after `stop` has a message, if it is
/// given.
fn ticker(kind: Kind, stop: Option<mpsc::Receiver<()>>) -> (Spawn, mpsc::Receiver<u32>) {
    linked_ticker(kind, stop, None)
}

/// A [`ticker`] that links itself to `peer` first, keeping no handle.
fn linked_ticker(
    kind: Kind,
    stop: Option<mpsc::Receiver<()>>,
    peer: Option<Pid>,
) -> (Spawn, mpsc::Receiver<u32>) {
    let (tx, rx) = mpsc::channel();
    let spawn = Spawn::from_fn(move |ctx| {
        if let Some(peer) = peer {
            ctx.link(&peer);
        }
        ctx.set_receive_timeout(Duration::from_millis(5));
        let mut count = 0;
        ctx.receive(
            pattern!(ReceiveTimeout),
            move |_, (_,): (ReceiveTimeout,)| {
                count += 1;
                let _ = tx.send(count);
                match &stop {
                    Some(stop) if stop.try_recv().is_ok() => {
                        Err(BoxError::from(Fault { code: count }))
                    }
                    _ => Ok(()),
                }
            },
        )
    })
    .kind(kind);
    (spawn, rx)
}

/// Waits until `rx`'s senders are all gone: the process holding them has
/// ended.
fn disconnected(rx: &mpsc::Receiver<u32>) {
    loop {
        match rx.recv_timeout(DEADLINE) {
            Ok(_) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running after {DEADLINE:?}"),
        }
    }
}

#[test]
fn a_linked_process_whose_pid_is_dropped_runs_on_and_keeps_the_root() {
    for kind in KINDS {
        let root = Root::new();
        let (worker, ticks) = ticker(kind, None);
        let _ = root.spawn_link(worker).unwrap();
        // Running well after its last `Pid` went, and the root with it.
        for n in 1..=3 {
            assert_eq!(recv(&ticks), n, "{kind:?}");
        }
        assert!(root.is_alive(), "{kind:?}");
        // The root's end reaches it through the link.
        drop(root);
        disconnected(&ticks);
    }
}

#[test]
fn a_monitored_process_runs_on_until_the_monitor_goes() {
    for kind in KINDS {
        let root = Root::new();
        let (worker, ticks) = ticker(kind, None);
        let worker = root.spawn(worker).unwrap();
        let reference = root.monitor(&worker);
        drop(worker);
        for n in 1..=3 {
            assert_eq!(recv(&ticks), n, "{kind:?}");
        }
        assert!(
            root.demonitor(reference),
            "{kind:?}: the monitor was active"
        );
        disconnected(&ticks);
    }
}

#[test]
fn a_process_monitored_by_one_that_ended_is_reached_no_more() {
    let root = Root::new();
    let (worker, ticks) = ticker(Kind::SCHEDULER, None);
    let worker = root.spawn(worker).unwrap();
    let target = worker.clone();
    let watcher = root
        .spawn(move |ctx: &mut paragram::Ctx| {
            ctx.monitor(&target);
        })
        .unwrap();
    watcher.terminate();
    ended(&watcher);
    // Its monitor ended with it: once its last handle goes, nothing
    // reaches the worker.
    drop(worker);
    disconnected(&ticks);
}

#[test]
fn linked_processes_with_no_handle_run_on_until_one_ends() {
    for kind in KINDS {
        let root = Root::new();
        let (stop, stopped) = mpsc::channel();
        let (first, first_ticks) = ticker(kind, Some(stopped));
        let first = root.spawn(first).unwrap();
        let (second, second_ticks) = linked_ticker(kind, None, Some(first.clone()));
        drop(root.spawn(second).unwrap());
        // The link alone keeps the second running; the first's handle
        // goes once the second has linked (its first tick is after).
        assert_eq!(recv(&second_ticks), 1, "{kind:?}");
        drop(first);
        assert_eq!(recv(&second_ticks), 2, "{kind:?}");
        // Told to, the first ends with a fault at its next tick, and takes
        // the second with it through the link.
        stop.send(()).unwrap();
        disconnected(&first_ticks);
        disconnected(&second_ticks);
    }
}

#[test]
fn dropping_a_root_ends_it_whatever_holds_its_pid() {
    let root = Root::new();
    let (worker, ticks) = ticker(Kind::SCHEDULER, None);
    root.spawn_link(worker).unwrap();
    let held = root.pid().clone();
    drop(root);
    assert!(ended(&held).is_normal());
    disconnected(&ticks);
}

#[test]
fn a_monitor_taken_by_an_ended_root_does_not_keep_its_target() {
    let root = Root::new();
    let (worker, ticks) = ticker(Kind::SCHEDULER, None);
    let worker = root.spawn(worker).unwrap();
    root.pid().terminate();
    ended(root.pid());
    root.monitor(&worker);
    drop(worker);
    disconnected(&ticks);
}
