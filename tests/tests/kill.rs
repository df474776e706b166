//! `Pid::kill`: untrappable, ahead of whatever is queued, seen by links as
//! `killed`, for every kind; an OS process stuck in a loop is killed and
//! reaped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use paragram::{BoxError, Ctx, Exit, Killed, Kind, LinkedExit, Pid, Root, Spawn, pattern};
use paragram_tests::{DEADLINE, ended, recv};
use serde::{Deserialize, Serialize};

const KINDS: [Kind; 2] = [Kind::THREAD, Kind::SCHEDULER];

#[test]
fn a_kill_goes_ahead_of_what_is_queued() {
    for kind in KINDS {
        let root = Root::with_kind(kind);
        let handled = Arc::new(AtomicUsize::new(0));
        let (held, hold) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel();
        let count = handled.clone();
        let pid = root
            .spawn(Spawn::from_fn(move |ctx| {
                ctx.receive(pattern!("work"), move |_, ()| {
                    if count.fetch_add(1, Ordering::SeqCst) == 0 {
                        let _ = started_tx.send(());
                        let _ = hold.recv_timeout(DEADLINE);
                    }
                })
            }))
            .unwrap();
        pid.send("work").unwrap();
        recv(&started);
        for _ in 0..1_000 {
            pid.send("work").unwrap();
        }
        pid.kill();
        held.send(()).unwrap();
        let exit = ended(&pid);
        assert!(exit.downcast_ref::<Killed>().is_some(), "{kind:?}: {exit}");
        assert_eq!(exit.to_string(), "killed");
        assert_eq!(
            handled.load(Ordering::SeqCst),
            1,
            "{kind:?}: nothing queued is handled after a kill"
        );
    }
}

#[test]
fn a_kill_cannot_be_trapped_or_observed() {
    for kind in KINDS {
        let root = Root::with_kind(kind);
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let pid = root
            .spawn(Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                let observed = tx.clone();
                ctx.receive(pattern!(Exit), move |_, (exit,): (Exit,)| {
                    let _ = observed.send(exit.to_string());
                })?;
                let trapped = tx.clone();
                ctx.receive(pattern!(Exit, Pid), move |_, (exit, _): (Exit, Pid)| {
                    let _ = trapped.send(exit.to_string());
                })?;
                ctx.receive(pattern!(..), move |_, ()| {
                    let _ = tx.send("caught".to_owned());
                })?;
                ready_tx.send(())?;
                Ok(())
            }))
            .unwrap();
        recv(&ready);
        // Idle, parked or asleep: the kill wakes it.
        pid.kill();
        let exit = ended(&pid);
        assert!(exit.downcast_ref::<Killed>().is_some(), "{kind:?}: {exit}");
        assert!(rx.try_recv().is_err(), "{kind:?}: no receiver ran");
        // Killing it again, dead, does nothing.
        pid.kill();
        assert!(pid.exit().unwrap().downcast_ref::<Killed>().is_some());
    }
}

#[test]
fn links_hear_killed() {
    for kind in KINDS {
        let root = Root::with_kind(kind);
        let (trapped_tx, trapped) = mpsc::channel();
        let (pids_tx, pids) = mpsc::channel();
        // A trapper linked to the victim, and a follower linked to it that
        // does not trap.
        let trapper = root
            .spawn(Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                ctx.receive(pattern!(Exit, Pid), move |_, (exit, from): (Exit, Pid)| {
                    let _ = trapped_tx.send((exit, from));
                })?;
                let victim =
                    ctx.spawn_link(|ctx: &mut Ctx| ctx.receive(pattern!("x"), |_, ()| {}))?;
                let (linked_tx, linked) = mpsc::channel();
                let to_follow = victim.clone();
                let follower = ctx.spawn(move |ctx: &mut Ctx| {
                    ctx.link(&to_follow);
                    let _ = linked_tx.send(());
                    ctx.receive(pattern!("x"), |_, ()| {})
                })?;
                linked.recv_timeout(DEADLINE)?;
                pids_tx.send((victim, follower))?;
                Ok(())
            }))
            .unwrap();
        let (victim, follower) = recv(&pids);
        victim.kill();
        let (exit, from) = recv(&trapped);
        assert_eq!(from, victim);
        assert!(exit.downcast_ref::<Killed>().is_some(), "{kind:?}: {exit}");
        let followed = ended(&follower);
        let linked = followed
            .downcast_ref::<LinkedExit>()
            .unwrap_or_else(|| panic!("{kind:?}: {followed}"));
        assert_eq!(linked.peer, victim);
        assert!(linked.cause.downcast_ref::<Killed>().is_some());
        trapper.terminate();
        assert!(ended(&trapper).is_normal());
    }
}

/// Spins when told to, in a child OS process; reports its OS pid.
#[derive(paragram::Process, Serialize, Deserialize)]
struct Spinner {
    report_to: Pid,
}

#[paragram::process]
impl Spinner {
    #[receive("os pid")]
    fn os_pid(&mut self) -> Result<(), BoxError> {
        self.report_to
            .send(("os pid", u64::from(std::process::id())))?;
        Ok(())
    }

    #[receive("spin")]
    fn spin(&mut self) {
        loop {
            std::hint::spin_loop();
        }
    }

    #[receive("spawn")]
    fn spawn(&mut self, ctx: &mut Ctx) -> Result<(), BoxError> {
        let inner = ctx.spawn(|ctx: &mut Ctx| ctx.receive(pattern!("x"), |_, ()| {}))?;
        self.report_to.send(("inner", inner))?;
        Ok(())
    }
}

fn hook() {
    paragram::os_process::hook(|r| {
        r.register::<Spinner>();
    });
}

#[paragram::test]
fn an_os_process_stuck_in_a_loop_is_killed_and_reaped() {
    hook();
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let report_to = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("os pid", u64), move |_, (os,): (u64,)| {
                let _ = tx.send(os);
            })
        }))
        .unwrap();
    let spinner = root
        .spawn(Spawn::os_process(Spinner {
            report_to: report_to.clone(),
        }))
        .unwrap();
    spinner.send("os pid").unwrap();
    let os = recv(&rx);
    spinner.send("spin").unwrap();
    spinner.kill();
    let exit = ended(&spinner);
    assert!(exit.downcast_ref::<Killed>().is_some(), "{exit}");
    assert!(
        !std::path::Path::new(&format!("/proc/{os}")).exists(),
        "the child is reaped"
    );
    report_to.terminate();
    ended(&report_to);
}

#[paragram::test]
fn a_process_in_an_os_process_is_killed_from_its_parent() {
    hook();
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let report_to = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("inner", Pid), move |_, (inner,): (Pid,)| {
                let _ = tx.send(inner);
            })
        }))
        .unwrap();
    let spinner = root
        .spawn(Spawn::os_process(Spinner {
            report_to: report_to.clone(),
        }))
        .unwrap();
    spinner.send("spawn").unwrap();
    let inner = recv(&rx);
    inner.kill();
    let exit = ended(&inner);
    assert!(exit.downcast_ref::<Killed>().is_some(), "{exit}");
    assert!(spinner.is_alive(), "only the process killed ends");
    for pid in [&spinner, &report_to] {
        pid.terminate();
        assert!(ended(pid).is_normal());
    }
}
