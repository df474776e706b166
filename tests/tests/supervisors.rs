//! Supervisors: the three strategies, the three restart types, the restart
//! intensity, ordered start and shutdown, names kept across restarts, and
//! no restart alongside the child it replaces; in both in-process kinds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use paragram::supervisor::{
    Child, Restart, Shutdown, Strategy, Supervisor, SupervisorError, which_children,
};
use paragram::{BoxError, Down, Killed, Kind, LinkedExit, Pid, Root, Spawn, pattern, whereis};
use paragram_tests::{DEADLINE, Fault, ended, recv};

const KINDS: [Kind; 2] = [Kind::THREAD, Kind::SCHEDULER];

/// What a worker reports.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Started(String),
    Stopped(String),
    /// A start while the previous process of the same child still lived.
    Overlap(String),
    Handled(String),
}

/// Reports `Stopped` and leaves the child's live count when the process's
/// receivers are dropped, which is when the process ends.
struct Alive {
    id: String,
    live: Arc<AtomicUsize>,
    events: mpsc::Sender<Event>,
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        let _ = self.events.send(Event::Stopped(self.id.clone()));
    }
}

/// Makes workers and watches them.
#[derive(Clone)]
struct Workers {
    kind: Kind,
    events: mpsc::Sender<Event>,
    live: Arc<Mutex<HashMap<String, Arc<AtomicUsize>>>>,
}

impl Workers {
    fn new(kind: Kind) -> (Workers, mpsc::Receiver<Event>) {
        let (events, rx) = mpsc::channel();
        let workers = Workers {
            kind,
            events,
            live: Arc::default(),
        };
        (workers, rx)
    }

    /// A child `id` whose worker ends with a fault on `"crash"`, normally
    /// on `"done"`, and handles `"slow"` in 20 ms.
    fn child(&self, id: &str) -> Child {
        let workers = self.clone();
        let id = id.to_owned();
        Child::new(id.clone(), move || workers.worker(&id))
    }

    fn worker(&self, id: &str) -> Spawn {
        let id = id.to_owned();
        let events = self.events.clone();
        let live = self
            .live
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_default()
            .clone();
        Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
            if live.fetch_add(1, Ordering::SeqCst) != 0 {
                let _ = events.send(Event::Overlap(id.clone()));
            }
            let _ = events.send(Event::Started(id.clone()));
            let alive = Alive {
                id: id.clone(),
                live,
                events: events.clone(),
            };
            ctx.receive(pattern!("crash"), move |_, ()| -> Result<(), BoxError> {
                let _ = &alive;
                Err(Fault { code: 1 }.into())
            })?;
            ctx.receive(pattern!("done"), |ctx, ()| ctx.terminate())?;
            ctx.receive(pattern!("slow"), move |_, ()| {
                std::thread::sleep(Duration::from_millis(20));
                let _ = events.send(Event::Handled(id.clone()));
            })?;
            Ok(())
        })
        .kind(self.kind)
    }
}

fn started(id: &str) -> Event {
    Event::Started(id.into())
}

fn stopped(id: &str) -> Event {
    Event::Stopped(id.into())
}

/// The next `n` events.
fn next(events: &mpsc::Receiver<Event>, n: usize) -> Vec<Event> {
    (0..n).map(|_| recv(events)).collect()
}

fn children(supervisor: &Pid) -> Vec<(String, Pid)> {
    which_children(supervisor, DEADLINE).unwrap()
}

#[test]
fn one_for_one_restarts_only_the_failed_child_under_its_name() {
    for kind in KINDS {
        let root = Root::new();
        let (workers, events) = Workers::new(kind);
        let names: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|id| format!("one-for-one-{kind:?}-{id}"))
            .collect();
        let mut supervisor = Supervisor::new(Strategy::OneForOne).intensity(5, DEADLINE);
        for name in &names {
            supervisor = supervisor.child(workers.child(name).registered());
        }
        let supervisor = root.spawn(Spawn::new(supervisor).kind(kind)).unwrap();
        assert_eq!(
            next(&events, 3),
            names.iter().map(|n| started(n)).collect::<Vec<_>>(),
            "{kind:?}: started in order"
        );
        let before = children(&supervisor);
        let old_b = whereis(&names[1]).unwrap();
        old_b.send("crash").unwrap();
        assert_eq!(next(&events, 2), [stopped(&names[1]), started(&names[1])]);
        // The name was free before the supervisor heard: the new process
        // took it at once.
        let new_b = whereis(&names[1]).unwrap();
        assert_ne!(new_b, old_b);
        let after = children(&supervisor);
        assert_eq!(after[0], before[0]);
        assert_eq!(after[2], before[2]);
        assert_eq!(after[1], (names[1].clone(), new_b));
        supervisor.terminate();
        assert!(ended(&supervisor).is_normal());
        assert_eq!(
            next(&events, 3),
            names.iter().rev().map(|n| stopped(n)).collect::<Vec<_>>(),
            "{kind:?}: stopped last first"
        );
        assert!(names.iter().all(|n| whereis(n).is_none()));
    }
}

/// A supervisor of `kind` with children `a`, `b` and `c`, all started.
fn three_children(root: &Root, kind: Kind, strategy: Strategy) -> (Pid, mpsc::Receiver<Event>) {
    let (workers, events) = Workers::new(kind);
    let supervisor = root
        .spawn(
            Spawn::new(
                Supervisor::new(strategy)
                    .child(workers.child("a"))
                    .child(workers.child("b"))
                    .child(workers.child("c")),
            )
            .kind(kind),
        )
        .unwrap();
    assert_eq!(next(&events, 3), [started("a"), started("b"), started("c")]);
    (supervisor, events)
}

#[test]
fn one_for_all_stops_the_others_last_first_and_starts_all_in_order() {
    for kind in KINDS {
        let root = Root::new();
        let (supervisor, events) = three_children(&root, kind, Strategy::OneForAll);
        let before = children(&supervisor);
        before[1].1.send("crash").unwrap();
        assert_eq!(
            next(&events, 6),
            [
                stopped("b"),
                stopped("c"),
                stopped("a"),
                started("a"),
                started("b"),
                started("c")
            ],
            "{kind:?}"
        );
        let after = children(&supervisor);
        assert!(before.iter().zip(&after).all(|(b, a)| b.1 != a.1));
        supervisor.terminate();
        ended(&supervisor);
    }
}

#[test]
fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
    for kind in KINDS {
        let root = Root::new();
        let (supervisor, events) = three_children(&root, kind, Strategy::RestForOne);
        let before = children(&supervisor);
        before[1].1.send("crash").unwrap();
        assert_eq!(
            next(&events, 4),
            [stopped("b"), stopped("c"), started("b"), started("c")],
            "{kind:?}"
        );
        let after = children(&supervisor);
        assert_eq!(after[0], before[0]);
        assert_ne!(after[1].1, before[1].1);
        assert_ne!(after[2].1, before[2].1);
        supervisor.terminate();
        ended(&supervisor);
    }
}

#[test]
fn permanent_transient_and_temporary_children_restart_as_their_type_says() {
    let root = Root::new();
    let (workers, events) = Workers::new(Kind::SCHEDULER);
    let supervisor = root
        .spawn(
            Supervisor::new(Strategy::OneForOne)
                .intensity(10, DEADLINE)
                .child(workers.child("permanent"))
                .child(workers.child("transient").restart(Restart::Transient))
                .child(workers.child("temporary").restart(Restart::Temporary)),
        )
        .unwrap();
    next(&events, 3);
    let pid = |id: &str| {
        children(&supervisor)
            .into_iter()
            .find(|(child, _)| child == id)
            .map(|(_, pid)| pid)
    };
    // A normal end: the permanent child is restarted, the transient one
    // not.
    pid("permanent").unwrap().send("done").unwrap();
    assert_eq!(
        next(&events, 2),
        [stopped("permanent"), started("permanent")]
    );
    // A monitor's `Down` comes after the link's notification is queued at
    // the supervisor: a call after it is handled after the notification.
    let (downs_tx, downs) = mpsc::channel();
    root.receive(pattern!(Down), move |_, (down,): (Down,)| {
        let _ = downs_tx.send(down.pid);
    })
    .unwrap();
    let transient = pid("transient").unwrap();
    root.monitor(&transient);
    transient.send("done").unwrap();
    assert_eq!(recv(&downs), transient);
    assert_eq!(next(&events, 1), [stopped("transient")]);
    // The transient child is not running; the temporary one is, until it
    // fails, and is then forgotten.
    assert_eq!(pid("transient"), None);
    let temporary = pid("temporary").unwrap();
    root.monitor(&temporary);
    temporary.send("crash").unwrap();
    assert_eq!(recv(&downs), temporary);
    assert_eq!(next(&events, 1), [stopped("temporary")]);
    let left: Vec<String> = children(&supervisor)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(left, ["permanent"]);
    supervisor.terminate();
    ended(&supervisor);
}

#[test]
fn a_transient_child_that_fails_is_restarted() {
    let root = Root::new();
    let (workers, events) = Workers::new(Kind::THREAD);
    let supervisor = root
        .spawn(
            Supervisor::new(Strategy::OneForOne)
                .child(workers.child("transient").restart(Restart::Transient)),
        )
        .unwrap();
    next(&events, 1);
    children(&supervisor)[0].1.send("crash").unwrap();
    assert_eq!(
        next(&events, 2),
        [stopped("transient"), started("transient")]
    );
    supervisor.terminate();
    ended(&supervisor);
}

#[test]
fn a_restart_storm_stops_at_the_intensity_and_ends_the_supervisor_saying_why() {
    for kind in KINDS {
        let root = Root::new();
        let (workers, events) = Workers::new(kind);
        let supervisor = root
            .spawn(
                Spawn::new(
                    Supervisor::new(Strategy::OneForOne)
                        .intensity(2, Duration::from_secs(60))
                        .child(workers.child("stormy"))
                        .child(workers.child("calm")),
                )
                .kind(kind),
            )
            .unwrap();
        next(&events, 2);
        for _ in 0..2 {
            children(&supervisor)[0].1.send("crash").unwrap();
            assert_eq!(next(&events, 2), [stopped("stormy"), started("stormy")]);
        }
        children(&supervisor)[0].1.send("crash").unwrap();
        let exit = ended(&supervisor);
        match exit.downcast_ref::<SupervisorError>() {
            Some(SupervisorError::Intensity {
                max_restarts: 2,
                child,
                ..
            }) => assert_eq!(child, "stormy"),
            other => panic!("{kind:?}: {other:?} ({exit})"),
        }
        assert_eq!(
            exit.to_string(),
            "restart intensity reached: more than 2 restarts within 60s; the last, of child `stormy`, after: fault 1"
        );
        // Its children are stopped before it ends.
        assert_eq!(next(&events, 2), [stopped("stormy"), stopped("calm")]);
    }
}

#[test]
fn no_restart_runs_alongside_the_child_it_replaces() {
    for kind in KINDS {
        let root = Root::new();
        let (workers, events) = Workers::new(kind);
        let supervisor = root
            .spawn(
                Spawn::new(
                    Supervisor::new(Strategy::OneForAll)
                        .intensity(1_000, DEADLINE)
                        .child(workers.child("x"))
                        .child(workers.child("y")),
                )
                .kind(kind),
            )
            .unwrap();
        next(&events, 2);
        for round in 0..100 {
            let running = children(&supervisor);
            // Both crash at once: the second's end may come while the
            // first's restart runs.
            // The second may be stopped by the first's restart already.
            running[0].1.send("crash").unwrap();
            let _ = running[1].1.send("crash");
            let mut seen = Vec::new();
            while !(seen.contains(&started("x")) && seen.contains(&started("y"))) {
                let event = recv(&events);
                assert!(
                    !matches!(event, Event::Overlap(_)),
                    "{kind:?} round {round}: {event:?}"
                );
                seen.push(event);
            }
        }
        supervisor.terminate();
        ended(&supervisor);
    }
}

#[test]
fn shutdown_queues_a_terminate_behind_work_then_kills_after_the_timeout() {
    let root = Root::new();
    let (workers, events) = Workers::new(Kind::THREAD);
    let supervisor = root
        .spawn(
            Supervisor::new(Strategy::OneForOne)
                .child(workers.child("patient").shutdown(DEADLINE))
                .child(workers.child("hurried").shutdown(Duration::from_millis(50))),
        )
        .unwrap();
    next(&events, 2);
    let running = children(&supervisor);
    let (downs_tx, downs) = mpsc::channel();
    root.receive(pattern!(Down), move |_, (down,): (Down,)| {
        let _ = downs_tx.send((down.pid.name().to_owned(), down.exit));
    })
    .unwrap();
    for (_, pid) in &running {
        root.monitor(pid);
        for _ in 0..50 {
            pid.send("slow").unwrap();
        }
    }
    supervisor.terminate();
    ended(&supervisor);
    let mut handled: HashMap<String, usize> = HashMap::new();
    let mut exits = HashMap::new();
    while exits.len() < 2 {
        let (name, exit) = recv(&downs);
        exits.insert(name, exit);
    }
    while let Ok(event) = events.try_recv() {
        if let Event::Handled(id) = event {
            *handled.entry(id).or_default() += 1;
        }
    }
    // The last child stops first: killed after 50 ms, its work unfinished;
    // the first, given time, finished its work and ended on the terminate.
    assert!(
        exits["hurried"].downcast_ref::<Killed>().is_some(),
        "{}",
        exits["hurried"]
    );
    assert!(handled.get("hurried").copied().unwrap_or(0) < 50);
    assert!(
        exits["patient"].downcast_ref::<Shutdown>().is_some(),
        "{}",
        exits["patient"]
    );
    assert_eq!(handled["patient"], 50);
}

#[test]
fn a_supervisor_ends_with_its_parent_and_stops_its_children_first() {
    let root = Root::new();
    let (workers, events) = Workers::new(Kind::SCHEDULER);
    let (sup_tx, sup_rx) = mpsc::channel();
    let parent = root
        .spawn(Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
            let supervisor = ctx.spawn_link(
                Supervisor::new(Strategy::OneForOne)
                    .child(workers.child("a"))
                    .child(workers.child("b")),
            )?;
            sup_tx.send(supervisor).unwrap();
            ctx.receive(pattern!("fail"), |_, ()| -> Result<(), BoxError> {
                Err(Fault { code: 9 }.into())
            })?;
            Ok(())
        }))
        .unwrap();
    let supervisor = recv(&sup_rx);
    next(&events, 2);
    parent.send("fail").unwrap();
    let exit = ended(&supervisor);
    let linked = exit.downcast_ref::<LinkedExit>().expect("a linked exit");
    assert_eq!(linked.cause.to_string(), "fault 9");
    assert_eq!(next(&events, 2), [stopped("b"), stopped("a")]);
}

#[test]
fn a_child_that_fails_at_each_start_ends_the_supervisor_at_its_intensity() {
    let root = Root::new();
    let (workers, events) = Workers::new(Kind::THREAD);
    let failing = Child::new("broken", || {
        Spawn::from_fn(|_| -> Result<(), BoxError> { Err("no database".into()) })
    });
    let supervisor = root
        .spawn(
            Supervisor::new(Strategy::OneForOne)
                .child(workers.child("first"))
                .child(failing),
        )
        .unwrap();
    // The broken child's start-up error ends it after it was spawned: the
    // supervisor restarts it within its intensity, then gives up.
    let exit = ended(&supervisor);
    assert!(exit.to_string().contains("no database"), "{exit}");
    assert_eq!(next(&events, 2), [started("first"), stopped("first")]);
}

/// A child OS process's process that fails on `"crash"`.
#[derive(paragram::Process, serde::Serialize, serde::Deserialize)]
struct RemoteWorker;

#[paragram::process]
impl RemoteWorker {
    #[receive("crash")]
    fn crash(&mut self) -> Result<(), BoxError> {
        Err(Fault { code: 5 }.into())
    }
}

#[paragram::test]
fn a_supervisor_restarts_a_child_os_process() {
    paragram::os_process::hook(|r| {
        r.register::<RemoteWorker>();
    });
    let root = Root::new();
    let supervisor = root
        .spawn(
            Supervisor::new(Strategy::OneForOne)
                .child(Child::new("remote", || Spawn::os_process(RemoteWorker)).registered()),
        )
        .unwrap();
    let (downs_tx, downs) = mpsc::channel();
    root.receive(pattern!(Down), move |_, (down,): (Down,)| {
        let _ = downs_tx.send((down.pid, down.exit));
    })
    .unwrap();
    let first = children(&supervisor);
    assert_eq!(first.len(), 1);
    let old = first[0].1.clone();
    assert_eq!(whereis("remote"), Some(old.clone()));
    root.monitor(&old);
    old.send("crash").unwrap();
    let (pid, exit) = recv(&downs);
    assert_eq!((pid, exit.to_string()), (old.clone(), "fault 5".to_owned()));
    // The supervisor heard first, and has started a new OS process under
    // the same name.
    let second = children(&supervisor);
    assert_ne!(second[0].1, old);
    assert_eq!(whereis("remote"), Some(second[0].1.clone()));
    supervisor.terminate();
    assert!(ended(&supervisor).is_normal());
    // The reason crossed the boundary as its text.
    assert_eq!(
        ended(&second[0].1).to_string(),
        "shutdown by its supervisor"
    );
}

#[test]
fn a_shutdown_timeout_past_the_clocks_end_waits_for_the_child() {
    let root = Root::new();
    let (workers, events) = Workers::new(Kind::THREAD);
    let supervisor = root
        .spawn(
            Supervisor::new(Strategy::OneForOne)
                .child(workers.child("patient").shutdown(Duration::MAX)),
        )
        .unwrap();
    next(&events, 1);
    let child = children(&supervisor)[0].1.clone();
    supervisor.terminate();
    assert!(ended(&supervisor).is_normal());
    assert!(ended(&child).downcast_ref::<Shutdown>().is_some());
    assert_eq!(next(&events, 1), [stopped("patient")]);
}
