//! The original library's process scenarios, translated: closure processes
//! with runtime receivers, spawning, links, exits and the root process.

use paragram_tests::{DEADLINE, Fault, ended, recv};
use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

use paragram::{
    BoxError, Ctx, Exit, Kind, LinkedExit, Panicked, Pid, ROOT_NAME, Root, Spawn, Term,
    UnhandledMessage, pattern,
};

/// A process that stays alive, handling nothing, until told to end.
fn idle(_: &mut Ctx) {}

/// A parent process, spawned from `root`, with an idle child it spawned
/// linked to itself.
fn parent_with_linked_idle_child(root: &Root) -> (Pid, Pid) {
    let (child_tx, child_rx) = mpsc::channel();
    let parent = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            child_tx.send(ctx.spawn_link(idle)?).unwrap();
            Ok(())
        })
        .unwrap();
    (parent, recv(&child_rx))
}

/// A process that fails with `Fault { code }` when sent `"fail"`.
fn fails_on_request(code: u32) -> impl FnOnce(&mut Ctx) -> Result<(), paragram::PatternError> {
    move |ctx: &mut Ctx| ctx.receive(pattern!("fail"), move |_, ()| Err(Fault { code }))
}

#[derive(Debug, PartialEq)]
enum Event {
    Pong,
    ChildExit { normal: bool, from_child: bool },
}

#[test]
fn spawned_link_answers_ping_and_its_exit_reaches_the_parent() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let parent = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            let child = ctx.spawn_link(|ctx: &mut Ctx| {
                ctx.receive(pattern!("ping", Pid), |ctx, (from,): (Pid,)| {
                    from.send("pong").map_err(|e| e.to_string())?;
                    ctx.terminate();
                    Ok::<(), BoxError>(())
                })
            })?;
            child.send(("ping", ctx.me())).map_err(|e| e.to_string())?;
            let pongs = tx.clone();
            ctx.receive(pattern!("pong"), move |_, ()| {
                pongs.send(Event::Pong).unwrap();
            })?;
            ctx.receive(
                pattern!(Exit, Pid),
                move |ctx, (exit, peer): (Exit, Pid)| {
                    tx.send(Event::ChildExit {
                        normal: exit.is_normal(),
                        from_child: peer == child,
                    })
                    .unwrap();
                    ctx.terminate();
                },
            )?;
            Ok(())
        })
        .unwrap();

    assert_eq!(recv(&rx), Event::Pong);
    assert_eq!(
        recv(&rx),
        Event::ChildExit {
            normal: true,
            from_child: true
        }
    );
    assert!(ended(&parent).is_normal());
}

#[test]
fn root_receives_a_linked_exit_through_its_own_receiver() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    root.receive(pattern!(Exit, Pid), move |_, (exit, peer): (Exit, Pid)| {
        tx.send((exit.to_string(), peer)).unwrap();
    })
    .unwrap();
    let child = root.spawn_link(idle).unwrap();

    child.terminate_with("done");

    assert_eq!(recv(&rx), ("done".to_owned(), child.clone()));
    assert!(
        root.is_alive(),
        "the receiver replaced the default exit handler"
    );
    assert_eq!(ended(&child).to_string(), "done");
}

#[test]
fn linked_child_receives_its_parents_exit() {
    let root = Root::new();
    let (child_tx, child_rx) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    let parent = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            let child = ctx.spawn_link(move |ctx: &mut Ctx| {
                ctx.receive(pattern!(Exit, Pid), move |_, (exit, peer): (Exit, Pid)| {
                    tx.send((exit.is_normal(), peer)).unwrap();
                })
            })?;
            child_tx.send(child).unwrap();
            Ok(())
        })
        .unwrap();
    let child = recv(&child_rx);

    parent.terminate();

    assert_eq!(recv(&rx), (true, parent.clone()));
    assert!(ended(&parent).is_normal());
    child.terminate();
    assert!(
        ended(&child).is_normal(),
        "the child handled the exit and lived on"
    );
}

#[test]
fn arguments_reach_the_start_up_code() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let greeting = String::from("hello");
    let numbers = vec![1, 2, 3];
    let pid = root
        .spawn(move |ctx: &mut Ctx| {
            tx.send((greeting, numbers, ctx.name().to_owned())).unwrap();
        })
        .unwrap();

    let (greeting, numbers, name) = recv(&rx);

    assert_eq!(greeting, "hello");
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(name, pid.name());
    pid.terminate();
    assert!(ended(&pid).is_normal());
}

#[test]
fn messages_sent_during_start_up_wait_for_it() {
    let root = Root::new();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            gate_rx.recv_timeout(DEADLINE)?;
            ctx.receive(pattern!("hello", i32), move |_, (n,): (i32,)| {
                tx.send(n).unwrap();
            })?;
            Ok(())
        })
        .unwrap();

    pid.send(("hello", 1)).unwrap();
    gate_tx.send(()).unwrap();

    assert_eq!(recv(&rx), 1, "the receiver registered at start-up got it");
    pid.terminate();
    assert!(ended(&pid).is_normal());
}

#[test]
fn start_up_error_ends_the_process_with_that_error() {
    let root = Root::new();
    let pid = root
        .spawn(|ctx: &mut Ctx| -> Result<(), BoxError> {
            ctx.receive(pattern!(..), |_, ()| {})?;
            Err(Fault { code: 1 }.into())
        })
        .unwrap();

    let exit = ended(&pid);

    assert_eq!(exit.to_string(), "fault 1");
    assert_eq!(exit.downcast_ref::<Fault>().map(|f| f.code), Some(1));
    assert!(pid.send("too late").is_err());
}

#[test]
fn start_up_panic_ends_the_process_with_the_panic_message() {
    let root = Root::new();
    let pid = root
        .spawn(|_: &mut Ctx| -> Result<(), BoxError> { panic!("no start") })
        .unwrap();

    let exit = ended(&pid);

    assert_eq!(exit.to_string(), "process panicked: no start");
    assert_eq!(
        exit.downcast_ref::<Panicked>().map(|p| p.message.as_str()),
        Some("no start")
    );
}

#[test]
fn normal_terminate_leaves_no_error() {
    let root = Root::new();
    let pid = root.spawn(idle).unwrap();

    pid.terminate();
    let exit = ended(&pid);

    assert!(exit.error().is_none());
    assert!(exit.is_normal());
    assert_eq!(exit.to_string(), "normal");
}

#[test]
fn terminate_with_a_reason_reaches_linked_processes_as_their_cause() {
    let root = Root::new();
    let (parent, child) = parent_with_linked_idle_child(&root);

    parent.terminate_with("fatality");

    assert_eq!(ended(&parent).to_string(), "fatality");
    let exit = ended(&child);
    let linked = exit
        .downcast_ref::<LinkedExit>()
        .unwrap_or_else(|| panic!("expected a linked exit, got {exit:?}"));
    assert_eq!(linked.peer, parent);
    assert_eq!(linked.cause.to_string(), "fatality");
    assert_eq!(exit.root_cause().to_string(), "fatality");
    assert_eq!(
        exit.to_string(),
        format!("linked process {parent:?} exited: fatality")
    );
}

#[test]
fn linked_exit_chain_passes_on_the_root_cause_flat() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let middle = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            let first = ctx.spawn_link(fails_on_request(5))?;
            let last = ctx.spawn_link(idle)?;
            tx.send((first, last)).unwrap();
            Ok(())
        })
        .unwrap();
    let (first, last) = recv(&rx);

    first.send("fail").unwrap();

    let middle_exit = ended(&middle);
    let middle_linked = middle_exit.downcast_ref::<LinkedExit>().unwrap();
    assert_eq!(middle_linked.peer, first);
    let last_exit = ended(&last);
    let last_linked = last_exit.downcast_ref::<LinkedExit>().unwrap();
    assert_eq!(last_linked.peer, middle, "names its own peer");
    assert!(
        last_linked.cause.downcast_ref::<LinkedExit>().is_none(),
        "the cause is flat, not a chain: {last_exit}"
    );
    assert_eq!(
        last_linked.cause.downcast_ref::<Fault>().map(|f| f.code),
        Some(5)
    );
}

#[test]
fn handler_error_of_any_error_type_is_kept_on_the_exit_value() {
    let root = Root::new();
    let pid = root.spawn(fails_on_request(7)).unwrap();

    pid.send("fail").unwrap();
    let exit = ended(&pid);

    assert_eq!(exit.to_string(), "fault 7");
    assert_eq!(
        exit.error().map(ToString::to_string),
        Some("fault 7".into())
    );
    assert_eq!(exit.downcast_ref::<Fault>().map(|f| f.code), Some(7));
}

#[test]
fn first_matching_receiver_wins_and_its_error_is_the_exit_value() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            let first = tx.clone();
            ctx.receive(pattern!("x", i32), move |_, (n,): (i32,)| {
                first.send(("first", n)).unwrap();
                Err(Fault { code: 1 })
            })?;
            ctx.receive(pattern!(String, i32), move |_, (_, n): (String, i32)| {
                tx.send(("second", n)).unwrap();
                Err(Fault { code: 2 })
            })?;
            Ok(())
        })
        .unwrap();

    pid.send(("x", 3)).unwrap();
    let exit = ended(&pid);

    assert_eq!(exit.downcast_ref::<Fault>().map(|f| f.code), Some(1));
    assert_eq!(recv(&rx), ("first", 3));
    // The process has ended and dropped its receivers, so the channel is
    // disconnected: the second receiver never ran.
    assert_eq!(
        rx.recv_timeout(DEADLINE),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn exit_value_is_readable_from_an_unlinked_process() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let victim = root.spawn(fails_on_request(3)).unwrap();
    let inspector = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!("inspect", Pid), move |_, (pid,): (Pid,)| {
                let exit = pid.wait_timeout(DEADLINE);
                tx.send(exit.map(|e| e.downcast_ref::<Fault>().map(|f| f.code)))
                    .unwrap();
            })
        })
        .unwrap();

    victim.send("fail").unwrap();
    inspector.send(("inspect", victim.clone())).unwrap();

    assert_eq!(recv(&rx), Ok(Some(3)));
    assert_eq!(victim.exit().map(|e| e.to_string()), Some("fault 3".into()));
    inspector.terminate();
    assert!(
        ended(&inspector).is_normal(),
        "the inspector was not linked"
    );
}

#[test]
fn unknown_message_ends_the_process_naming_the_message() {
    let root = Root::new();
    let pid = root.spawn(idle).unwrap();

    pid.send(2).unwrap();
    let exit = ended(&pid);

    assert_eq!(exit.to_string(), "unhandled message: (2,)");
    assert_eq!(
        exit.downcast_ref::<UnhandledMessage>()
            .map(|u| u.message.as_str()),
        Some("(2,)")
    );
}

#[test]
fn exit_is_sent_to_the_linked_process() {
    let root = Root::new();
    let (child_tx, child_rx) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    let parent = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            child_tx.send(ctx.spawn_link(fails_on_request(9))?).unwrap();
            ctx.receive(pattern!(Exit, Pid), move |_, (exit, peer): (Exit, Pid)| {
                tx.send((exit.downcast_ref::<Fault>().map(|f| f.code), peer))
                    .unwrap();
            })?;
            Ok(())
        })
        .unwrap();
    let child = recv(&child_rx);

    child.send("fail").unwrap();

    assert_eq!(recv(&rx), (Some(9), child.clone()));
    parent.terminate();
    assert!(ended(&parent).is_normal(), "the parent handled the exit");
}

#[test]
fn default_exit_handler_ends_the_linked_process() {
    let root = Root::new();
    let (parent, child) = parent_with_linked_idle_child(&root);

    child.terminate();

    assert!(ended(&child).is_normal());
    let exit = ended(&parent);
    let linked = exit
        .downcast_ref::<LinkedExit>()
        .unwrap_or_else(|| panic!("expected a linked exit, got {exit:?}"));
    assert_eq!(linked.peer, child);
    assert!(linked.cause.is_normal(), "even a normal end is passed on");
}

/// A process that reports `"sentinel"` for the sentinel message and the
/// message itself for anything else, so an unexpected message shows first.
fn reporter(tx: mpsc::Sender<String>) -> impl FnOnce(&mut Ctx) -> Result<(), BoxError> {
    move |ctx: &mut Ctx| {
        let sentinel = tx.clone();
        ctx.receive(pattern!("sentinel"), move |_, ()| {
            sentinel.send("sentinel".to_owned()).unwrap();
        })?;
        ctx.receive(pattern!(..).untyped(), move |_, all: Vec<Term>| {
            tx.send(format!("{all:?}")).unwrap();
        })?;
        Ok(())
    }
}

#[test]
fn no_exit_reaches_processes_that_are_not_linked() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let (root_tx, root_rx) = mpsc::channel();
    root_reporter(&root, root_tx);
    let bystander = root.spawn(reporter(tx)).unwrap();
    let dying = root.spawn(fails_on_request(4)).unwrap();

    dying.send("fail").unwrap();
    assert!(ended(&dying).error().is_some());
    // Exit notifications are queued before `wait` returns, so any stray one
    // would arrive ahead of these sentinels.
    bystander.send("sentinel").unwrap();
    root.send("sentinel").unwrap();

    assert_eq!(recv(&rx), "sentinel");
    assert_eq!(recv(&root_rx), "sentinel");
}

/// Registers [`reporter`]'s receivers on a root.
fn root_reporter(root: &Root, tx: mpsc::Sender<String>) {
    let sentinel = tx.clone();
    root.receive(pattern!("sentinel"), move |_, ()| {
        sentinel.send("sentinel".to_owned()).unwrap();
    })
    .unwrap();
    root.receive(pattern!(..).untyped(), move |_, all: Vec<Term>| {
        tx.send(format!("{all:?}")).unwrap();
    })
    .unwrap();
}

#[test]
fn death_of_a_linked_process_is_recoverable() {
    let root = Root::new();
    let (child_tx, child_rx) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    let survivor = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            let child = ctx.spawn_link(|ctx: &mut Ctx| {
                ctx.receive(pattern!("crash"), |_, ()| -> Result<(), BoxError> {
                    panic!("boom")
                })
            })?;
            child_tx.send(child).unwrap();
            let exits = tx.clone();
            ctx.receive(pattern!(Exit, Pid), move |_, (exit, peer): (Exit, Pid)| {
                exits.send(format!("{peer}: {exit}")).unwrap();
            })?;
            ctx.receive(pattern!("ping"), move |_, ()| {
                tx.send("pong".to_owned()).unwrap();
            })?;
            Ok(())
        })
        .unwrap();
    let child = recv(&child_rx);

    child.send("crash").unwrap();

    assert_eq!(recv(&rx), format!("{child}: process panicked: boom"));
    survivor.send("ping").unwrap();
    assert_eq!(recv(&rx), "pong");
    assert!(survivor.is_alive());
    survivor.terminate();
    assert!(ended(&survivor).is_normal());
}

#[test]
fn exit_observer_sees_a_terminate_but_cannot_cancel_it() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let observed = |tx: mpsc::Sender<String>| {
        move |ctx: &mut Ctx| {
            ctx.receive(pattern!(Exit), move |ctx, (exit,): (Exit,)| {
                tx.send(exit.to_string()).unwrap();
                // An attempt to carry on: the process ends regardless.
                let _ = ctx.me().send("keep going");
            })
        }
    };
    let with_reason = root.spawn(observed(tx.clone())).unwrap();
    let normal = root.spawn(observed(tx)).unwrap();

    with_reason.terminate_with("bye");
    assert_eq!(recv(&rx), "bye");
    assert_eq!(ended(&with_reason).to_string(), "bye");

    normal.terminate();
    assert_eq!(recv(&rx), "normal");
    assert!(ended(&normal).is_normal());
}

#[test]
fn one_way_link_notifies_the_named_process_when_the_child_ends() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let watcher = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!(Exit, Pid), move |_, (exit, peer): (Exit, Pid)| {
                tx.send((exit.to_string(), peer)).unwrap();
            })
        })
        .unwrap();
    let child = root.spawn(Spawn::new(idle).link_to(&watcher)).unwrap();

    child.terminate_with("done");

    assert_eq!(recv(&rx), ("done".to_owned(), child.clone()));
    assert!(watcher.is_alive());
    watcher.terminate();
    assert!(ended(&watcher).is_normal());
}

#[test]
fn one_way_link_does_not_notify_the_child_when_the_named_process_ends() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let watcher = root.spawn(idle).unwrap();
    let child = root
        .spawn(Spawn::new(reporter(tx)).link_to(&watcher))
        .unwrap();

    watcher.terminate();
    assert!(ended(&watcher).is_normal());
    child.send("sentinel").unwrap();

    assert_eq!(recv(&rx), "sentinel", "the child heard nothing before it");
    child.terminate();
    assert!(ended(&child).is_normal());
}

#[test]
fn linking_to_a_dead_process_delivers_its_exit_at_once() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let dead = root.spawn(idle).unwrap();
    dead.terminate_with("gone");
    assert_eq!(ended(&dead).to_string(), "gone");
    let linker = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            ctx.receive(pattern!("link", Pid), |ctx, (pid,): (Pid,)| ctx.link(&pid))?;
            ctx.receive(pattern!(Exit, Pid), move |_, (exit, peer): (Exit, Pid)| {
                tx.send((exit.to_string(), peer)).unwrap();
            })?;
            Ok(())
        })
        .unwrap();

    linker.send(("link", dead.clone())).unwrap();

    assert_eq!(recv(&rx), ("gone".to_owned(), dead.clone()));
    linker.terminate();
    assert!(ended(&linker).is_normal());
}

#[test]
fn root_linking_to_a_dead_process_ends_with_its_cause() {
    let root = Root::new();
    let dead = root.spawn(idle).unwrap();
    dead.terminate_with("gone");
    ended(&dead);

    root.link(&dead).expect("the root is alive");

    let exit = ended(&root);
    let linked = exit
        .downcast_ref::<LinkedExit>()
        .unwrap_or_else(|| panic!("expected a linked exit, got {exit:?}"));
    assert_eq!(linked.peer, dead);
    assert_eq!(linked.cause.to_string(), "gone");
}

#[test]
fn exit_value_is_none_while_alive_and_wait_returns_it() {
    let root = Root::new();
    let pid = root.spawn(idle).unwrap();

    assert!(pid.is_alive());
    assert!(pid.exit().is_none());
    // The process waits for messages and none comes: it cannot end.
    assert!(pid.wait_timeout(Duration::from_millis(20)).is_err());

    pid.terminate_with("done");
    let exit = ended(&pid);

    assert_eq!(exit.to_string(), "done");
    assert!(!pid.is_alive());
    assert_eq!(pid.exit().map(|e| e.to_string()), Some("done".into()));
    assert_eq!(
        pid.wait().unwrap().to_string(),
        "done",
        "wait again returns the same"
    );
}

#[test]
fn pid_displays_its_name_and_debugs_kind_name_and_id() {
    let root = Root::new();
    let pid = root.spawn(Spawn::new(idle).name("ponger")).unwrap();

    assert_eq!(pid.to_string(), "ponger");
    assert_eq!(
        format!("{pid:?}"),
        format!("<#{}: ponger [{}]>", Kind::default().name(), pid.id())
    );
    pid.terminate();
    ended(&pid);
}

#[test]
#[expect(
    clippy::mutable_key_type,
    reason = "a Pid hashes by its process id, which never changes; the lint sees only the mailbox inside"
)]
fn pids_compare_and_hash_by_process_identity() {
    let root = Root::new();
    let a = root.spawn(Spawn::new(idle).name("same")).unwrap();
    let b = root.spawn(Spawn::new(idle).name("same")).unwrap();

    assert_eq!(a, a.clone());
    assert_ne!(a, b, "the same name is not the same process");
    assert_ne!(a.id(), b.id());
    let set: HashSet<Pid> = [a.clone(), a.clone(), b.clone()].into_iter().collect();
    assert_eq!(set.len(), 2);
    for pid in [a, b] {
        pid.terminate();
        ended(&pid);
    }
}

#[test]
fn names_default_to_the_kind_and_a_number() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let spawn = |tx: mpsc::Sender<_>| {
        root.spawn(move |ctx: &mut Ctx| {
            let thread = std::thread::current().name().map(str::to_owned);
            tx.send((ctx.name().to_owned(), thread)).unwrap();
        })
        .unwrap()
    };
    let first = spawn(tx.clone());
    let second = spawn(tx);

    for pid in [&first, &second] {
        let number = pid
            .name()
            .strip_prefix(&format!("{}-", Kind::default().name()))
            .unwrap_or_else(|| panic!("{} has no default name", pid.name()));
        assert!(
            number.parse::<u64>().is_ok(),
            "{} ends in a number",
            pid.name()
        );
    }
    assert_ne!(first.name(), second.name());
    let mut reported = [recv(&rx), recv(&rx)];
    reported.sort();
    let mut expected = [first.name().to_owned(), second.name().to_owned()];
    expected.sort();
    if Kind::default() == Kind::THREAD {
        for (name, thread) in &reported {
            assert_eq!(
                thread.as_deref(),
                Some(name.as_str()),
                "the thread has the name"
            );
        }
    }
    let names: Vec<_> = reported.into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, expected);
}

#[test]
fn roots_are_named_main_and_run_their_handlers_on_their_own_thread() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    root.receive(pattern!("where"), move |ctx, ()| {
        let thread = std::thread::current().name().map(str::to_owned);
        tx.send((ctx.name().to_owned(), thread)).unwrap();
    })
    .unwrap();

    root.send("where").unwrap();

    assert_eq!(ROOT_NAME, "__main__");
    assert_eq!(root.name(), "__main__");
    assert_eq!(paragram::main().name(), "__main__");
    assert_eq!(
        recv(&rx),
        ("__main__".to_owned(), Some("__main__".to_owned()))
    );
}

#[test]
fn independent_roots_do_not_interfere() {
    let doomed = Root::new();
    let steady = Root::new();
    let (tx, rx) = mpsc::channel();
    steady
        .receive(pattern!("ping"), move |_, ()| tx.send("pong").unwrap())
        .unwrap();
    let failing = doomed.spawn_link(fails_on_request(6)).unwrap();
    let calm = steady.spawn_link(idle).unwrap();

    failing.send("fail").unwrap();

    let exit = ended(&doomed);
    assert_eq!(exit.root_cause().to_string(), "fault 6");
    assert_ne!(doomed.id(), steady.id());
    steady.send("ping").unwrap();
    assert_eq!(recv(&rx), "pong");
    assert!(steady.is_alive());
    assert!(calm.is_alive());
    calm.terminate();
    assert!(ended(&calm).is_normal());
}

#[test]
fn process_whose_last_pid_is_dropped_ends_normally() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let watcher = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!(Exit, Pid), move |_, (exit, peer): (Exit, Pid)| {
                tx.send((exit.is_normal(), peer.name().to_owned())).unwrap();
            })
        })
        .unwrap();

    let orphan = root
        .spawn(Spawn::new(idle).name("orphan").link_to(&watcher))
        .unwrap();
    drop(orphan);

    assert_eq!(recv(&rx), (true, "orphan".to_owned()));
    watcher.terminate();
    assert!(ended(&watcher).is_normal());
}

#[test]
fn a_link_keeps_a_process_with_no_handle_alive_until_it_goes() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let parent = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            // The only handle to the child is dropped at the end of
            // start-up: the link alone keeps it running, as in Erlang.
            ctx.spawn_link(Spawn::from_fn(move |ctx| {
                ctx.receive(pattern!(Exit, Pid), move |_, (exit, _): (Exit, Pid)| {
                    tx.send(exit.is_normal()).unwrap();
                })
            }))?;
            Ok(())
        })
        .unwrap();
    parent.terminate();
    assert!(ended(&parent).is_normal());
    // The child heard the end through the link: it had run on.
    assert!(recv(&rx));
    // With the link gone and no handle, nothing reaches it: it ends, and
    // its sender goes with it.
    assert_eq!(
        rx.recv_timeout(DEADLINE),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn receiver_registered_in_a_handler_takes_effect_from_the_next_message() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!("arm"), move |ctx, ()| {
                let tx = tx.clone();
                ctx.receive(pattern!("fire"), move |_, ()| tx.send("fired").unwrap())
            })
        })
        .unwrap();

    pid.send("arm").unwrap();
    pid.send("fire").unwrap();

    assert_eq!(recv(&rx), "fired");
    pid.terminate();
    assert!(ended(&pid).is_normal());
}
