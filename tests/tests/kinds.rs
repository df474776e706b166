//! Processes of every kind together: links, exits, messages and `Pid`s
//! cross between the thread kind, the scheduler kind and OS processes as
//! they do within one kind.

use std::sync::mpsc;

use paragram::{BoxError, Ctx, Exit, Kind, LinkedExit, Pid, Root, Spawn, pattern};
use paragram_tests::{Fault, ended, recv};
use serde::{Deserialize, Serialize};

/// Doubles numbers in a child OS process, reporting to `report_to`; fails
/// when told to.
#[derive(paragram::Process, Serialize, Deserialize)]
struct Doubler {
    report_to: Pid,
}

#[paragram::process]
impl Doubler {
    #[receive("double", i64)]
    fn double(&mut self, n: i64) -> Result<(), BoxError> {
        self.report_to.send(("doubled", n * 2))?;
        Ok(())
    }

    #[receive("fail")]
    fn fail(&mut self) -> Result<(), BoxError> {
        Err(Fault { code: 9 }.into())
    }
}

fn hook() {
    paragram::os_process::hook(|r| {
        r.register::<Doubler>();
    });
}

/// A process of `kind` that forwards `("doubled", n)` to `to`.
fn forwarder(kind: Kind, to: Pid) -> Spawn {
    Spawn::from_fn(move |ctx| {
        ctx.receive(pattern!("doubled", i64), move |_, (n,): (i64,)| {
            to.send(("doubled", n))?;
            Ok::<(), BoxError>(())
        })
    })
    .kind(kind)
}

#[paragram::test]
fn messages_and_pids_cross_every_kind() {
    hook();
    let root = Root::with_kind(Kind::THREAD);
    let (tx, rx) = mpsc::channel();
    // An OS process reports to a process of the scheduler kind, which
    // forwards to one of the thread kind, which reports to the test.
    let last = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("doubled", i64), move |_, (n,): (i64,)| {
                let _ = tx.send(n);
            })
        }))
        .unwrap();
    let middle = root
        .spawn(forwarder(Kind::SCHEDULER, last.clone()))
        .unwrap();
    let doubler = root
        .spawn(Spawn::os_process(Doubler {
            report_to: middle.clone(),
        }))
        .unwrap();
    // And the first send comes from a process of the scheduler kind, given
    // the OS process's `Pid` in a message.
    let first = root
        .spawn(
            Spawn::from_fn(|ctx| {
                ctx.receive(pattern!("to", Pid, i64), |_, (to, n): (Pid, i64)| {
                    to.send(("double", n))?;
                    Ok::<(), BoxError>(())
                })
            })
            .kind(Kind::SCHEDULER),
        )
        .unwrap();
    for n in 0..100 {
        first.send(("to", doubler.clone(), n)).unwrap();
    }
    let got: Vec<i64> = (0..100).map(|_| recv(&rx)).collect();
    let want: Vec<i64> = (0..100).map(|n| n * 2).collect();
    assert_eq!(
        got, want,
        "in order, one sender to one receiver at each hop"
    );
    for pid in [&first, &doubler, &middle, &last] {
        pid.terminate();
        assert!(ended(pid).is_normal(), "{pid:?}");
    }
}

#[paragram::test]
fn a_crash_cascades_flat_through_every_kind() {
    hook();
    paragram_tests::quiet_deliberate_panics();
    let root = Root::with_kind(Kind::THREAD);
    let (tx, rx) = mpsc::channel();
    let (pids, spawned) = mpsc::channel();
    // A process of the thread kind traps the exit of the chain it heads:
    // scheduler -> (OS process, and scheduler -> thread).
    let head = root
        .spawn(Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
            ctx.receive(pattern!(Exit, Pid), move |_, (exit, from): (Exit, Pid)| {
                let _ = tx.send((exit, from));
            })?;
            let (sink, _) = mpsc::channel::<i64>();
            let report = ctx.me().clone();
            let middle = ctx.spawn_link(
                Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                    let os = ctx.spawn_link(Spawn::os_process(Doubler { report_to: report }))?;
                    let to_test = pids.clone();
                    let tail = ctx.spawn_link(
                        Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                            let last = ctx.spawn_link(
                                Spawn::from_fn(move |_: &mut Ctx| drop(sink)).kind(Kind::THREAD),
                            )?;
                            to_test.send(last)?;
                            Ok(())
                        })
                        .kind(Kind::SCHEDULER),
                    )?;
                    pids.send(os)?;
                    pids.send(tail)?;
                    Ok(())
                })
                .kind(Kind::SCHEDULER),
            )?;
            let _ = middle;
            Ok(())
        }))
        .unwrap();
    let mut chain: Vec<Pid> = (0..3).map(|_| recv(&spawned)).collect();
    chain.sort_by_key(Pid::id);
    let [os, tail, last] = <[Pid; 3]>::try_from(chain).unwrap();
    assert!(format!("{os:?}").starts_with("<#OsProcess"), "{os:?}");

    os.send("fail").unwrap();

    let cause = ended(&os);
    assert_eq!(cause.to_string(), "fault 9");
    let (middle_exit, middle) = recv(&rx);
    assert!(
        format!("{middle:?}").starts_with("<#Scheduler"),
        "{middle:?}"
    );
    for (exit, peer) in [
        (middle_exit, &os),
        (ended(&tail), &middle),
        (ended(&last), &tail),
    ] {
        let linked = exit
            .downcast_ref::<LinkedExit>()
            .unwrap_or_else(|| panic!("a linked exit, not {exit}"));
        assert_eq!(&linked.peer, peer);
        assert!(
            linked.cause.downcast_ref::<LinkedExit>().is_none(),
            "the cause is flat: {exit}"
        );
        assert_eq!(exit.root_cause().to_string(), "fault 9");
    }
    assert!(head.is_alive(), "the head traps the exit");
    head.terminate();
    assert!(ended(&head).is_normal());
}
