//! Registered names: `register`, `whereis`, `unregister`, `send_named`, for
//! every kind. The table is the program's, and tests run side by side:
//! each test uses names of its own.

use std::sync::{Arc, Barrier, mpsc};

use paragram::{BoxError, Ctx, Exit, Kind, Pid, RegisterError, Root, SendFailure, Spawn, pattern};
use paragram_tests::{ended, recv};
use serde::{Deserialize, Serialize};

/// A process that answers `("ping", Pid)` with `("pong", its name)`.
fn ponger(kind: Kind) -> Spawn {
    Spawn::from_fn(|ctx| {
        ctx.receive(pattern!("ping", Pid), |ctx, (from,): (Pid,)| {
            from.send(("pong", ctx.name().to_owned()))?;
            Ok::<(), BoxError>(())
        })
    })
    .kind(kind)
}

/// A process of the thread kind that passes on every `("pong", name)`.
fn listener(root: &Root) -> (Pid, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("pong", String), move |_, (name,): (String,)| {
                let _ = tx.send(name);
            })
        }))
        .unwrap();
    (pid, rx)
}

#[test]
fn a_name_finds_its_process_until_it_is_freed() {
    for kind in [Kind::THREAD, Kind::SCHEDULER] {
        let root = Root::with_kind(kind);
        let name = format!("names-basic-{kind:?}");
        let pid = root.spawn(ponger(kind)).unwrap();
        let (listener, pongs) = listener(&root);
        paragram::register(name.clone(), &pid).unwrap();
        assert_eq!(paragram::whereis(&name), Some(pid.clone()));
        assert!(paragram::registered().contains(&name));
        paragram::send_named(&name, ("ping", listener.clone())).unwrap();
        assert_eq!(recv(&pongs), pid.name());

        assert_eq!(paragram::unregister(&name), Some(pid.clone()));
        assert_eq!(paragram::whereis(&name), None);
        assert_eq!(paragram::unregister(&name), None);
        let refused = paragram::send_named(&name, ("ping", listener.clone())).unwrap_err();
        assert_eq!(refused.reason(), SendFailure::NotRegistered);
        assert_eq!(
            format!("{:?}", refused.into_inner()),
            format!("(\"ping\", {listener:?})"),
            "the message is handed back"
        );
        for pid in [&pid, &listener] {
            pid.terminate();
            assert!(ended(pid).is_normal());
        }
    }
}

#[test]
fn register_refuses_a_taken_name_a_second_name_an_ended_process_and_a_long_name() {
    let root = Root::new();
    let a = root.spawn(ponger(Kind::THREAD)).unwrap();
    let b = root.spawn(ponger(Kind::SCHEDULER)).unwrap();
    paragram::register("names-refusals", &a).unwrap();
    assert_eq!(
        paragram::register("names-refusals", &b),
        Err(RegisterError::Taken {
            name: "names-refusals".into(),
            holder: (&a).into(),
        })
    );
    assert_eq!(
        paragram::register("names-refusals-2", &a),
        Err(RegisterError::AlreadyRegistered {
            name: "names-refusals".into()
        })
    );
    let long = "n".repeat(paragram::MAX_NAME + 1);
    assert_eq!(
        paragram::register(long, &b),
        Err(RegisterError::TooLong {
            len: paragram::MAX_NAME + 1
        })
    );
    b.terminate();
    ended(&b);
    assert_eq!(
        paragram::register("names-refusals-3", &b),
        Err(RegisterError::Ended)
    );
    assert_eq!(paragram::whereis("names-refusals-3"), None);
    a.terminate();
    ended(&a);
    assert_eq!(paragram::whereis("names-refusals"), None);
}

#[test]
fn a_name_is_free_before_links_hear_of_the_end() {
    // A keeper, linked to the named process, starts a new one under the
    // same name the moment it hears the old one ended.
    const ROUNDS: usize = 300;
    for kind in [Kind::THREAD, Kind::SCHEDULER] {
        let root = Root::with_kind(kind);
        let name = format!("names-again-{kind:?}");
        let (tx, rx) = mpsc::channel();
        let keeper_name = name.clone();
        let keeper = root
            .spawn(Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                let first = ctx.spawn_link(ponger(kind))?;
                paragram::register(keeper_name.clone(), &first)?;
                tx.send(Ok(first))?;
                ctx.receive(pattern!(Exit, Pid), move |ctx, (_, _): (Exit, Pid)| {
                    let next = ctx.spawn_link(ponger(kind))?;
                    let taken = paragram::register(keeper_name.clone(), &next);
                    tx.send(taken.map(|()| next))?;
                    Ok::<(), BoxError>(())
                })?;
                Ok(())
            }))
            .unwrap();
        let mut holder: Pid = recv(&rx).unwrap();
        for round in 0..ROUNDS {
            holder.terminate_with("stop");
            let next = recv(&rx).unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(paragram::whereis(&name), Some(next.clone()));
            holder = next;
        }
        keeper.terminate();
        ended(&keeper);
        ended(&holder);
        assert_eq!(paragram::whereis(&name), None);
    }
}

#[test]
fn a_registered_process_with_no_handle_left_runs_on() {
    for kind in [Kind::THREAD, Kind::SCHEDULER] {
        let root = Root::with_kind(kind);
        let name = format!("names-unreachable-{kind:?}");
        // Its receiver holds a sender: the channel closes when it ends.
        let (held, ended_rx) = mpsc::channel::<()>();
        let pid = root
            .spawn(
                Spawn::from_fn(move |ctx| {
                    ctx.receive(pattern!("ping", Pid), move |ctx, (from,): (Pid,)| {
                        let _ = &held;
                        from.send(("pong", ctx.name().to_owned()))?;
                        Ok::<(), BoxError>(())
                    })
                })
                .kind(kind),
            )
            .unwrap();
        paragram::register(name.clone(), &pid).unwrap();
        drop(pid);
        let (listener, pongs) = listener(&root);
        paragram::send_named(&name, ("ping", listener.clone())).unwrap();
        recv(&pongs);
        // Freed, the name's handle was the last: the process ends.
        drop(paragram::unregister(&name).unwrap());
        assert_eq!(
            ended_rx.recv_timeout(paragram_tests::DEADLINE),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
        listener.terminate();
        ended(&listener);
    }
}

#[test]
fn of_many_threads_registering_one_name_one_wins() {
    const THREADS: usize = 8;
    for round in 0..50 {
        let root = Root::with_kind(Kind::SCHEDULER);
        let name = format!("names-race-{round}");
        let pids: Vec<Pid> = (0..THREADS)
            .map(|_| root.spawn(ponger(Kind::SCHEDULER)).unwrap())
            .collect();
        let start = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = pids
            .iter()
            .cloned()
            .map(|pid| {
                let (start, name) = (start.clone(), name.clone());
                std::thread::spawn(move || {
                    start.wait();
                    paragram::register(name, &pid).map(|()| pid)
                })
            })
            .collect();
        let results: Vec<_> = threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect();
        let winners: Vec<Pid> = results.iter().filter_map(|r| r.clone().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert_eq!(paragram::whereis(&name).as_ref(), winners.first());
        for result in &results {
            if let Err(error) = result {
                assert!(
                    matches!(error, RegisterError::Taken { holder, .. } if *holder == winners[0]),
                    "{error}"
                );
            }
        }
        for pid in &pids {
            pid.terminate();
            ended(pid);
        }
        assert_eq!(paragram::whereis(&name), None);
    }
}

/// Answers `("ping", Pid)` from a child OS process.
#[derive(paragram::Process, Serialize, Deserialize)]
struct Remote;

#[paragram::process]
impl Remote {
    #[receive("ping", Pid)]
    fn ping(&mut self, from: Pid) -> Result<(), BoxError> {
        from.send(("pong", "remote".to_owned()))?;
        Ok(())
    }
}

#[paragram::test]
fn an_os_process_is_named_in_the_program_that_holds_its_pid() {
    paragram::os_process::hook(|r| {
        r.register::<Remote>();
    });
    let root = Root::new();
    let remote = root.spawn(Spawn::os_process(Remote)).unwrap();
    paragram::register("names-os", &remote).unwrap();
    let (listener, pongs) = listener(&root);
    paragram::send_named("names-os", ("ping", listener.clone())).unwrap();
    assert_eq!(recv(&pongs), "remote");
    remote.terminate();
    ended(&remote);
    assert_eq!(paragram::whereis("names-os"), None);
    listener.terminate();
    ended(&listener);
}

#[test]
fn a_process_registers_itself() {
    let root = Root::with_kind(Kind::SCHEDULER);
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(move |ctx: &mut Ctx| {
            let _ = tx.send(ctx.register("names-self"));
            let _ = tx.send(ctx.register("names-self-again"));
        })
        .unwrap();
    assert_eq!(recv(&rx), Ok(()));
    assert_eq!(
        recv(&rx),
        Err(RegisterError::AlreadyRegistered {
            name: "names-self".into()
        })
    );
    assert_eq!(paragram::whereis("names-self"), Some(pid.clone()));
    pid.terminate();
    ended(&pid);
}
