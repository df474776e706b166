//! The reliability suite: message order and loss under load, exits and
//! links under races, cascades, panics during exit, and thread clean-up.
//!
//! Each test is sized by one `size(ci, full)` call; `PARAGRAM_FULL=1` runs
//! the full size (see RELIABILITY.md for the command and the figures).

mod stress_support;

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use paragram::{
    BoxError, Ctx, Exit, IntoTerm, LinkedExit, Panicked, Pid, Process, Root, Spawn, SpawnError,
    UnhandledMessage, pattern,
};
use paragram_tests::{await_no_threads_named, quiet_deliberate_panics};
use stress_support::{DEADLINE, DropCounter, PanicOnDrop, size, wait};

type Started = Result<(), BoxError>;

/// Receives from `rx`, failing the test after [`DEADLINE`] with `what`.
#[track_caller]
fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    match rx.recv_timeout(DEADLINE) {
        Ok(value) => value,
        Err(error) => panic!("no {what} within {DEADLINE:?}: {error}"),
    }
}

/// An error a handler returns to end its process at once.
fn deliberate(what: &str) -> Started {
    Err(format!("deliberate {what}").into())
}

/// Panics with `message`; as a function returning `()`, it gives closures
/// that only panic a return type (edition 2024 would infer `!`).
fn panic_now(message: &str) {
    panic!("{message}")
}

// 1. ---------------------------------------------------------------------

#[derive(Debug, Default)]
struct Tally {
    received: usize,
    duplicated: usize,
    out_of_order: usize,
}

#[test]
fn stress_many_senders_keep_per_sender_order() {
    const SENDERS: usize = 8;
    let per_sender = size(12_500, 125_000);
    let total = SENDERS * per_sender;
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let sink = root
        .spawn(move |ctx: &mut Ctx| {
            let mut seen = vec![vec![false; per_sender]; SENDERS];
            let mut next = [0usize; SENDERS];
            let mut tally = Tally::default();
            ctx.receive(pattern!(u64, u64), move |_, (sender, seq): (u64, u64)| {
                let (sender, seq) = (sender as usize, seq as usize);
                tally.received += 1;
                if std::mem::replace(&mut seen[sender][seq], true) {
                    tally.duplicated += 1;
                } else if seq < next[sender] {
                    tally.out_of_order += 1;
                }
                next[sender] = next[sender].max(seq + 1);
                if tally.received == total {
                    let _ = tx.send(std::mem::take(&mut tally));
                }
            })
        })
        .unwrap();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for sender in 0..SENDERS {
            let sink = sink.clone();
            scope.spawn(move || {
                for seq in 0..per_sender {
                    sink.send((sender as u64, seq as u64)).unwrap();
                }
            });
        }
    });
    let tally = recv(&rx, "tally of every message");
    let elapsed = start.elapsed();
    println!(
        "{total} messages from {SENDERS} senders in {elapsed:?} ({:.0} msg/s): {tally:?}",
        total as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(tally.received, total);
    assert_eq!(tally.duplicated, 0);
    assert_eq!(tally.out_of_order, 0);
}

// 2. ---------------------------------------------------------------------

#[derive(Debug)]
enum Seen {
    Exit { after: u32, exit: Exit, from: Pid },
    Sync,
}

/// A sends 1..=1000 to B, which is linked to it, then ends (`panics` or
/// terminates); B's `(Exit, Pid)` receiver must see every message first,
/// and exactly one exit.
fn exit_follows_last_message(panics: bool) {
    const MESSAGES: u32 = 1000;
    let runs = size(1_000, 10_000);
    quiet_deliberate_panics();
    let root = Root::new();
    for run in 0..runs {
        let (tx, rx) = mpsc::channel();
        let b = root
            .spawn(move |ctx: &mut Ctx| -> Started {
                let last = Arc::new(AtomicU32::new(0));
                let gaps = Arc::new(AtomicU32::new(0));
                let (l, g) = (last.clone(), gaps.clone());
                ctx.receive(pattern!(u32), move |_, (n,): (u32,)| {
                    if l.swap(n, Ordering::SeqCst) + 1 != n {
                        g.fetch_add(1, Ordering::SeqCst);
                    }
                })?;
                let tx2 = tx.clone();
                ctx.receive(pattern!(Exit, Pid), move |_, (exit, from): (Exit, Pid)| {
                    assert_eq!(gaps.load(Ordering::SeqCst), 0, "messages out of order");
                    let after = last.load(Ordering::SeqCst);
                    let _ = tx2.send(Seen::Exit { after, exit, from });
                })?;
                ctx.receive(pattern!("sync"), move |ctx, ()| {
                    let _ = tx.send(Seen::Sync);
                    ctx.terminate();
                })?;
                let b = ctx.me();
                ctx.spawn_link(move |ctx: &mut Ctx| {
                    for n in 1..=MESSAGES {
                        b.send(n).unwrap();
                    }
                    if panics {
                        panic!("deliberate panic after the last message");
                    }
                    ctx.terminate();
                })?;
                Ok(())
            })
            .unwrap();
        let Seen::Exit { after, exit, from } = recv(&rx, "exit of A") else {
            panic!("run {run}: sync before the exit");
        };
        assert_eq!(
            after, MESSAGES,
            "run {run}: exit seen before message {MESSAGES}"
        );
        if panics {
            assert!(
                exit.downcast_ref::<Panicked>().is_some(),
                "run {run}: {exit}"
            );
        } else {
            assert!(exit.is_normal(), "run {run}: {exit}");
        }
        // A has finished every exit step, so any second notification is
        // queued before the sync.
        wait(&from);
        b.send("sync").unwrap();
        let next = recv(&rx, "sync");
        assert!(
            matches!(next, Seen::Sync),
            "run {run}: second exit: {next:?}"
        );
        wait(&b);
    }
}

#[test]
fn stress_linked_exit_follows_last_message_after_terminate() {
    exit_follows_last_message(false);
}

#[test]
fn stress_linked_exit_follows_last_message_after_panic() {
    exit_follows_last_message(true);
}

// 3. ---------------------------------------------------------------------

#[test]
fn stress_send_to_dead_process_returns_every_message() {
    let sends = size(2_000, 10_000);
    let root = Root::new();
    let dead = root.spawn(|_: &mut Ctx| {}).unwrap();
    dead.terminate();
    wait(&dead);
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut returned, mut panics) = (0, 0);
    for i in 0..sends {
        // `SendError` hands the message back by value (128 bytes here).
        #[allow(clippy::result_large_err)]
        let send = || dead.send((i as u64, DropCounter::new(&drops)));
        let sent = catch_unwind(AssertUnwindSafe(send));
        match sent {
            Ok(Err(error)) => {
                let message = error.into_inner();
                assert_eq!(message.len(), 2);
                assert_eq!(message.terms()[0], (i as u64).into_term());
                returned += 1;
            }
            Ok(Ok(())) => panic!("send {i} to a dead process succeeded"),
            Err(_) => panics += 1,
        }
    }
    assert_eq!((returned, panics), (sends, 0));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        sends,
        "each returned message dropped once"
    );
}

// 4. ---------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    /// A handler returns `Err(Exit::normal())`: a normal end, at once.
    NormalAtOnce,
    /// `terminate()`, queued behind the messages, which are handled.
    NormalQueued,
    Error,
    Panic,
    Unhandled,
}

fn queued_messages_dropped_once(ending: Ending) {
    let count = size(10_000, 100_000);
    quiet_deliberate_panics();
    let root = Root::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let (gate, gate_rx) = mpsc::channel::<()>();
    let pid = root
        .spawn(move |ctx: &mut Ctx| -> Started {
            ctx.receive(pattern!("end"), move |_, ()| -> Started {
                match ending {
                    Ending::NormalAtOnce => Err(Exit::normal().into()),
                    Ending::Error => deliberate("error"),
                    Ending::Panic => panic!("deliberate panic"),
                    Ending::NormalQueued | Ending::Unhandled => Ok(()),
                }
            })?;
            ctx.receive(pattern!(DropCounter), |_, (_counter,): (DropCounter,)| {})?;
            // Hold the start-up until the mailbox is full.
            gate_rx.recv_timeout(DEADLINE)?;
            Ok(())
        })
        .unwrap();
    // Other handles stay alive throughout: the drain is the exit's, not
    // the last handle's.
    let others = vec![pid.clone(), pid.clone()];
    match ending {
        Ending::Unhandled => pid.send(2).unwrap(),
        Ending::NormalQueued => {}
        _ => pid.send("end").unwrap(),
    }
    for _ in 0..count {
        pid.send(DropCounter::new(&drops)).unwrap();
    }
    if ending == Ending::NormalQueued {
        pid.terminate();
    }
    let start = Instant::now();
    gate.send(()).unwrap();
    let exit = wait(&pid);
    let elapsed = start.elapsed();
    println!("{ending:?}: {count} queued messages dropped {elapsed:?} after the gate opened");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        count,
        "{ending:?}: drops at exit"
    );
    assert!(
        elapsed < Duration::from_secs(1),
        "{ending:?}: took {elapsed:?}"
    );
    match ending {
        Ending::NormalAtOnce | Ending::NormalQueued => assert!(exit.is_normal(), "{exit}"),
        Ending::Error => assert_eq!(exit.to_string(), "deliberate error"),
        Ending::Panic => assert!(exit.downcast_ref::<Panicked>().is_some(), "{exit}"),
        Ending::Unhandled => assert!(exit.downcast_ref::<UnhandledMessage>().is_some()),
    }
    assert!(others.iter().all(|p| !p.is_alive()));
    drop(others);
    drop(pid);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        count,
        "{ending:?}: dropped again later"
    );
}

#[test]
fn stress_queued_messages_dropped_once_on_normal_end() {
    queued_messages_dropped_once(Ending::NormalAtOnce);
}

#[test]
fn stress_queued_messages_dropped_once_when_handled_before_terminate() {
    queued_messages_dropped_once(Ending::NormalQueued);
}

#[test]
fn stress_queued_messages_dropped_once_on_error() {
    queued_messages_dropped_once(Ending::Error);
}

#[test]
fn stress_queued_messages_dropped_once_on_panic() {
    queued_messages_dropped_once(Ending::Panic);
}

#[test]
fn stress_queued_messages_dropped_once_on_unhandled_message() {
    queued_messages_dropped_once(Ending::Unhandled);
}

// 5. ---------------------------------------------------------------------

#[test]
fn stress_panic_payload_reaches_exit_value() {
    let runs = size(50, 1_000);
    quiet_deliberate_panics();
    let root = Root::new();
    for run in 0..runs {
        let payloads: [(fn(usize), String); 3] = [
            (|_| panic!("deliberate str"), "deliberate str".into()),
            (
                |run| std::panic::panic_any(format!("deliberate string {run}")),
                format!("deliberate string {run}"),
            ),
            (
                |_| std::panic::panic_any(42u32),
                Panicked::NON_STRING.to_owned(),
            ),
        ];
        for (raise, expected) in payloads {
            let in_start = root.spawn(move |_: &mut Ctx| raise(run)).unwrap();
            let in_handler = root
                .spawn(move |ctx: &mut Ctx| ctx.receive(pattern!("go"), move |_, ()| raise(run)))
                .unwrap();
            in_handler.send("go").unwrap();
            for pid in [in_start, in_handler] {
                let exit = wait(&pid);
                let panicked = exit.downcast_ref::<Panicked>().expect("a panic exit");
                assert_eq!(panicked.message, expected);
                assert_eq!(exit.to_string(), format!("process panicked: {expected}"));
            }
        }
    }
}

// 6. ---------------------------------------------------------------------

#[test]
fn stress_link_to_dead_process_notifies_at_once() {
    let runs = size(1_000, 10_000);
    let root = Root::new();
    let (root_tx, root_rx) = mpsc::channel();
    root.receive(pattern!(Exit, Pid), move |_, (exit, from): (Exit, Pid)| {
        let _ = root_tx.send((exit.to_string(), from.id()));
    })
    .unwrap();
    for run in 0..runs {
        let dead = root.spawn(|_: &mut Ctx| {}).unwrap();
        dead.terminate_with(format!("deliberate end {run}"));
        wait(&dead);
        let expected = (format!("deliberate end {run}"), dead.id());

        // From a process's start-up code.
        let (tx, rx) = mpsc::channel();
        let target = dead.clone();
        let watcher = root
            .spawn(move |ctx: &mut Ctx| -> Started {
                ctx.receive(pattern!(Exit, Pid), move |_, (exit, from): (Exit, Pid)| {
                    let _ = tx.send((exit.to_string(), from.id()));
                })?;
                ctx.link(&target);
                Ok(())
            })
            .unwrap();
        assert_eq!(recv(&rx, "exit of the dead peer"), expected, "run {run}");
        watcher.terminate();
        wait(&watcher);
        assert_eq!(rx.try_iter().count(), 0, "run {run}: a second notification");

        // From the root.
        root.link(&dead).expect("the root is alive");
        assert_eq!(recv(&root_rx, "exit at the root"), expected, "run {run}");
    }
    assert!(root.is_alive());
}

// 7. ---------------------------------------------------------------------

#[derive(Debug, Default)]
struct Exits {
    seen: usize,
    distinct: HashSet<u64>,
    not_panics: usize,
    spawn_errors: usize,
}

#[test]
fn stress_spawn_link_startup_panic_always_reported() {
    let children = size(2_000, 10_000);
    quiet_deliberate_panics();
    let root = Root::new();
    let (tx, rx) = mpsc::channel::<Option<Exits>>();
    let parent = root
        .spawn(move |ctx: &mut Ctx| -> Started {
            let exits = Arc::new(Mutex::new(Exits::default()));
            let (e, all) = (exits.clone(), tx.clone());
            ctx.receive(pattern!(Exit, Pid), move |_, (exit, from): (Exit, Pid)| {
                let mut exits = e.lock().unwrap();
                exits.seen += 1;
                exits.distinct.insert(from.id());
                if exit.downcast_ref::<Panicked>().is_none() {
                    exits.not_panics += 1;
                }
                if exits.seen == children {
                    let _ = all.send(None);
                }
            })?;
            let e = exits.clone();
            ctx.receive(pattern!("go"), move |ctx, ()| {
                for _ in 0..children {
                    let child = |_: &mut Ctx| panic_now("deliberate start-up panic");
                    if ctx.spawn_link(child).is_err() {
                        e.lock().unwrap().spawn_errors += 1;
                    }
                }
            })?;
            ctx.receive(pattern!("report"), move |_, ()| {
                let _ = tx.send(Some(std::mem::take(&mut *exits.lock().unwrap())));
            })?;
            Ok(())
        })
        .unwrap();
    let start = Instant::now();
    parent.send("go").unwrap();
    assert!(recv(&rx, "all exits").is_none());
    println!(
        "{children} start-up panics reported in {:?}",
        start.elapsed()
    );
    parent.send("report").unwrap();
    let exits = recv(&rx, "report").expect("a report");
    assert_eq!(exits.spawn_errors, 0);
    assert_eq!(exits.seen, children);
    assert_eq!(exits.distinct.len(), children);
    assert_eq!(exits.not_panics, 0);
}

// 8. ---------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum LinkEvent {
    Linked,
    Exit(u64),
    Sync,
}

#[test]
fn stress_link_racing_peer_death_notifies_once() {
    let runs = size(2_000, 10_000);
    let root = Root::new();
    for run in 0..runs {
        let (tx, rx) = mpsc::channel();
        let victim = root
            .spawn(|ctx: &mut Ctx| ctx.receive(pattern!("die"), |_, ()| deliberate("death")))
            .unwrap();
        let target = victim.clone();
        let linker = root
            .spawn(move |ctx: &mut Ctx| -> Started {
                let t = tx.clone();
                ctx.receive(pattern!(Exit, Pid), move |_, (_, from): (Exit, Pid)| {
                    let _ = t.send(LinkEvent::Exit(from.id()));
                })?;
                let t = tx.clone();
                ctx.receive(pattern!("sync"), move |_, ()| {
                    let _ = t.send(LinkEvent::Sync);
                })?;
                ctx.link(&target);
                tx.send(LinkEvent::Linked)?;
                Ok(())
            })
            .unwrap();
        // Races with the linker's start-up.
        if run % 2 == 0 {
            victim.send("die").unwrap();
        } else {
            victim.terminate();
        }
        assert_eq!(recv(&rx, "link done"), LinkEvent::Linked, "run {run}");
        wait(&victim);
        // Both the link and the victim's exit steps are done: any
        // notification is queued before the sync.
        linker.send("sync").unwrap();
        let mut exits = 0;
        loop {
            match recv(&rx, "sync") {
                LinkEvent::Exit(id) => {
                    assert_eq!(id, victim.id());
                    exits += 1;
                }
                LinkEvent::Sync => break,
                LinkEvent::Linked => panic!("linked twice"),
            }
        }
        assert_eq!(exits, 1, "run {run}");
        linker.terminate();
        wait(&linker);
    }
}

// 9. ---------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum PairEvent {
    Linked(u8),
    Exit { at: u8, from: u64 },
    Sync(u8),
}

/// A process that, asked to link to a peer, links to it twice and to
/// itself, concurrently with the peer doing the same.
fn pair_member(tag: u8, tx: mpsc::Sender<PairEvent>) -> impl FnOnce(&mut Ctx) -> Started {
    move |ctx: &mut Ctx| -> Started {
        let t = tx.clone();
        ctx.receive(pattern!("link", Pid), move |ctx, (peer,): (Pid,)| {
            ctx.link(&peer);
            ctx.link(&peer);
            let me = ctx.me();
            ctx.link(&me);
            let _ = t.send(PairEvent::Linked(tag));
        })?;
        let t = tx.clone();
        ctx.receive(pattern!(Exit, Pid), move |_, (_, from): (Exit, Pid)| {
            let _ = t.send(PairEvent::Exit {
                at: tag,
                from: from.id(),
            });
        })?;
        ctx.receive(pattern!("die"), |_, ()| deliberate("death"))?;
        ctx.receive(pattern!("sync"), move |_, ()| {
            let _ = tx.send(PairEvent::Sync(tag));
        })?;
        Ok(())
    }
}

#[test]
fn stress_concurrent_mutual_links_never_deadlock() {
    let runs = size(2_000, 10_000);
    let root = Root::new();
    let start = Instant::now();
    for run in 0..runs {
        let (tx, rx) = mpsc::channel();
        let a = root.spawn(pair_member(0, tx.clone())).unwrap();
        let b = root.spawn(pair_member(1, tx)).unwrap();
        a.send(("link", b.clone())).unwrap();
        b.send(("link", a.clone())).unwrap();
        let mut linked = [recv(&rx, "link"), recv(&rx, "link")];
        linked.sort_by_key(|e| format!("{e:?}"));
        assert_eq!(linked, [PairEvent::Linked(0), PairEvent::Linked(1)]);
        a.send("die").unwrap();
        assert_eq!(wait(&a).to_string(), "deliberate death", "run {run}");
        b.send("sync").unwrap();
        let exit = recv(&rx, "exit at b");
        assert_eq!(
            exit,
            PairEvent::Exit {
                at: 1,
                from: a.id()
            },
            "run {run}"
        );
        assert_eq!(
            recv(&rx, "sync"),
            PairEvent::Sync(1),
            "run {run}: one exit only"
        );
        assert!(b.is_alive(), "run {run}: self-link must be a no-op");
        b.terminate();
        assert!(wait(&b).is_normal());
    }
    println!("{runs} concurrent mutual links in {:?}", start.elapsed());
}

// 10. --------------------------------------------------------------------

#[derive(Debug)]
enum Observed {
    Exit(u64, Exit),
    Sync,
}

/// A process that reports every `(Exit, Pid)` it receives, and a sync.
fn observer(root: &Root, tx: mpsc::Sender<Observed>) -> Pid {
    root.spawn(move |ctx: &mut Ctx| -> Started {
        let t = tx.clone();
        ctx.receive(pattern!(Exit, Pid), move |_, (exit, from): (Exit, Pid)| {
            let _ = t.send(Observed::Exit(from.id(), exit));
        })?;
        ctx.receive(pattern!("sync"), move |_, ()| {
            let _ = tx.send(Observed::Sync);
        })?;
        Ok(())
    })
    .unwrap()
}

/// Checks that `observer` saw exactly one exit from each of `pids`, then
/// ends it.
fn each_seen_once(observer: &Pid, rx: &mpsc::Receiver<Observed>, pids: &[Pid]) -> Vec<Exit> {
    let mut exits = HashMap::new();
    for _ in pids {
        match recv(rx, "exit at the observer") {
            Observed::Exit(id, exit) => assert!(exits.insert(id, exit).is_none(), "{id} twice"),
            Observed::Sync => unreachable!("no sync sent yet"),
        }
    }
    observer.send("sync").unwrap();
    assert!(matches!(recv(rx, "sync"), Observed::Sync), "an extra exit");
    observer.terminate();
    wait(observer);
    pids.iter()
        .map(|p| exits.remove(&p.id()).expect("an exit from every process"))
        .collect()
}

/// Builds `n` processes linked along `edges`, panics the first and checks
/// that each ends exactly once with the panic as root cause. Returns how
/// long the group took to end.
fn group_ends_once(n: usize, edges: &[(usize, usize)]) -> Duration {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let observer = observer(&root, tx);
    let (ack, acks) = mpsc::channel();
    let nodes: Vec<Pid> = (0..n)
        .map(|_| {
            let ack = ack.clone();
            let node = move |ctx: &mut Ctx| -> Started {
                ctx.receive(pattern!("link", Pid), move |ctx, (peer,): (Pid,)| {
                    ctx.link(&peer);
                    let _ = ack.send(());
                })?;
                ctx.receive(pattern!("die"), |_, ()| panic_now("deliberate group panic"))?;
                Ok(())
            };
            root.spawn(Spawn::new(node).link_to(&observer)).unwrap()
        })
        .collect();
    for &(a, b) in edges {
        nodes[a].send(("link", nodes[b].clone())).unwrap();
    }
    for _ in edges {
        recv(&acks, "link ack");
    }
    let start = Instant::now();
    nodes[0].send("die").unwrap();
    let waited: Vec<Exit> = nodes.iter().map(wait).collect();
    let elapsed = start.elapsed();
    let observed = each_seen_once(&observer, &rx, &nodes);
    for (i, (exit, seen)) in waited.iter().zip(&observed).enumerate() {
        assert_eq!(exit.to_string(), seen.to_string());
        let cause = exit.root_cause();
        assert!(
            cause.downcast_ref::<Panicked>().is_some(),
            "node {i}: {exit}"
        );
        if i > 0 {
            assert!(
                exit.downcast_ref::<LinkedExit>().is_some(),
                "node {i}: {exit}"
            );
        }
    }
    elapsed
}

#[test]
fn stress_link_cycle_and_complete_graph_end_each_once() {
    const COMPLETE: usize = 50;
    let rounds = size(10, 50);
    quiet_deliberate_panics();
    let cycle = [(0, 1), (1, 2), (2, 0)];
    let complete: Vec<(usize, usize)> = (0..COMPLETE)
        .flat_map(|a| (a + 1..COMPLETE).map(move |b| (a, b)))
        .collect();
    let (mut slowest_cycle, mut slowest_complete) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        slowest_cycle = slowest_cycle.max(group_ends_once(3, &cycle));
        slowest_complete = slowest_complete.max(group_ends_once(COMPLETE, &complete));
    }
    println!(
        "slowest cycle of 3: {slowest_cycle:?}; slowest complete graph of 50: {slowest_complete:?}"
    );
    assert!(slowest_cycle < Duration::from_secs(1));
    assert!(slowest_complete < Duration::from_secs(2));
}

// 11. --------------------------------------------------------------------

fn star_leaves_none_alive(hub_ends: bool) {
    let children = size(300, 1_000);
    quiet_deliberate_panics();
    let root = Root::new();
    // Every thread of the star carries this name: the test counts its own.
    const STAR: &str = "stress-star";
    let (tx, rx) = mpsc::channel();
    let hub = root
        .spawn(
            Spawn::new(move |ctx: &mut Ctx| -> Started {
                let mut kids = Vec::with_capacity(children);
                for _ in 0..children {
                    let kid = |ctx: &mut Ctx| {
                        ctx.receive(pattern!("die"), |_, ()| panic_now("deliberate child panic"))
                    };
                    kids.push(ctx.spawn_link(Spawn::new(kid).name(STAR))?);
                }
                tx.send(kids)?;
                ctx.receive(pattern!("die"), |_, ()| deliberate("hub end"))?;
                Ok(())
            })
            .name(STAR),
        )
        .unwrap();
    let kids = recv(&rx, "children");
    let start = Instant::now();
    if hub_ends {
        hub.send("die").unwrap();
    } else {
        kids[children / 2].send("die").unwrap();
    }
    wait(&hub);
    let alive = kids
        .iter()
        .filter(|kid| kid.wait_timeout(DEADLINE).is_err())
        .count();
    let elapsed = start.elapsed();
    println!("star of {children}: all ended in {elapsed:?}");
    assert_eq!(alive, 0);
    for kid in &kids {
        assert!(kid.exit().unwrap().root_cause().error().is_some());
    }
    drop(kids);
    drop(hub);
    assert_eq!(
        await_no_threads_named(STAR),
        0,
        "threads left after the star ended"
    );
}

#[test]
fn stress_star_child_panic_leaves_none_alive() {
    star_leaves_none_alive(false);
}

#[test]
fn stress_star_hub_end_leaves_none_alive() {
    star_leaves_none_alive(true);
}

// 12. --------------------------------------------------------------------

/// A chain of `n` linked processes; the first panics. Returns how long the
/// far end took to end, and checks every exit.
fn chain_cascade(n: usize) -> Duration {
    let root = Root::new();
    let (ack, acks) = mpsc::channel();
    let mut chain: Vec<Pid> = Vec::with_capacity(n);
    for _ in 0..n {
        let previous = chain.last().cloned();
        let ack = ack.clone();
        let node = move |ctx: &mut Ctx| -> Started {
            ctx.receive(pattern!("die"), |_, ()| panic_now("deliberate chain break"))?;
            if let Some(previous) = previous {
                ctx.link(&previous);
            }
            ack.send(())?;
            Ok(())
        };
        chain.push(root.spawn(node).unwrap());
    }
    for _ in 0..n {
        recv(&acks, "link ack");
    }
    let start = Instant::now();
    chain[0].send("die").unwrap();
    let far = chain[n - 1]
        .wait_timeout(DEADLINE * 6)
        .expect("the far end ends");
    let elapsed = start.elapsed();
    let alive = chain
        .iter()
        .filter(|p| p.wait_timeout(DEADLINE).is_err())
        .count();
    assert_eq!(alive, 0, "chain of {n}: processes left alive");
    let linked = far.downcast_ref::<LinkedExit>().expect("a linked exit");
    assert_eq!(linked.peer, chain[n - 2]);
    assert!(
        linked.cause.downcast_ref::<LinkedExit>().is_none(),
        "nested cause"
    );
    let cause = linked
        .cause
        .downcast_ref::<Panicked>()
        .expect("the panic as cause");
    assert_eq!(cause.message, "deliberate chain break");
    let text = far.to_string();
    assert!(
        text.len() < 200,
        "chain of {n}: exit text grew to {} bytes",
        text.len()
    );
    elapsed
}

#[test]
fn stress_chain_cascade_is_flat_and_linear() {
    // The best of 5 at each size: a loaded machine slows some runs by
    // several times, never all of them.
    const REPEATS: usize = 5;
    let sizes: &[usize] = if stress_support::full() {
        &[100, 1_000, 10_000]
    } else {
        &[100, 1_000]
    };
    quiet_deliberate_panics();
    let per_process: Vec<f64> = sizes
        .iter()
        .map(|&n| {
            let best = (0..REPEATS).map(|_| chain_cascade(n)).min().unwrap();
            let each = best.as_secs_f64() * 1e6 / n as f64;
            println!("chain of {n}: cascade {best:?}, {each:.1} µs per process");
            each
        })
        .collect();
    let (smallest, largest) = (per_process[0], per_process[per_process.len() - 1]);
    assert!(
        largest <= 5.0 * smallest,
        "per-process cascade time grew from {smallest:.1} µs to {largest:.1} µs"
    );
}

// 13. --------------------------------------------------------------------

#[test]
fn stress_panic_in_exit_handler_still_notifies() {
    let runs = size(200, 2_000);
    quiet_deliberate_panics();
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let observer = observer(&root, tx);
    for run in 0..runs {
        let handler = |ctx: &mut Ctx| -> Started {
            ctx.receive(pattern!(Exit, Pid), |_, (_, _): (Exit, Pid)| {
                panic_now("deliberate exit-handler panic")
            })?;
            ctx.spawn_link(|_: &mut Ctx| panic_now("deliberate start-up panic"))?;
            Ok(())
        };
        let pid = root.spawn(Spawn::new(handler).link_to(&observer)).unwrap();
        let exit = wait(&pid);
        assert_eq!(
            exit.to_string(),
            "process panicked: deliberate exit-handler panic",
            "run {run}"
        );
        match recv(&rx, "exit at the observer") {
            Observed::Exit(id, seen) => {
                assert_eq!(id, pid.id());
                assert_eq!(seen.to_string(), exit.to_string());
            }
            Observed::Sync => unreachable!(),
        }
    }
}

/// A process whose own state panics when dropped at exit.
struct DropBomb(#[allow(dead_code)] PanicOnDrop);

impl Process for DropBomb {
    fn handle(&mut self, _ctx: &mut Ctx, message: paragram::Message) -> paragram::Handled {
        paragram::Handled::Unmatched(message)
    }
}

#[test]
fn stress_panic_in_process_state_drop_still_notifies() {
    let runs = size(200, 2_000);
    quiet_deliberate_panics();
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let observer = observer(&root, tx);
    let bombs = Arc::new(AtomicUsize::new(0));
    for run in 0..runs {
        let held = PanicOnDrop(bombs.clone());
        let in_handler = move |ctx: &mut Ctx| {
            ctx.receive(pattern!("never"), move |_, ()| {
                let _ = &held;
            })
        };
        let consumed = PanicOnDrop(bombs.clone());
        let in_start = move |_: &mut Ctx| drop(consumed);
        let spawns = [
            Spawn::new(in_handler),
            Spawn::process(DropBomb(PanicOnDrop(bombs.clone()))),
            Spawn::new(in_start),
        ];
        for (i, spawn) in spawns.into_iter().enumerate() {
            let pid = root.spawn(spawn.link_to(&observer)).unwrap();
            pid.terminate();
            let exit = wait(&pid);
            if i == 2 {
                // Dropped inside the start-up code: that is a start-up panic.
                assert!(
                    exit.downcast_ref::<Panicked>().is_some(),
                    "run {run}: {exit}"
                );
            } else {
                // Dropped after the exit value was recorded.
                assert!(exit.is_normal(), "run {run}: {exit}");
            }
            match recv(&rx, "exit at the observer") {
                Observed::Exit(id, _) => assert_eq!(id, pid.id()),
                Observed::Sync => unreachable!(),
            }
        }
    }
    assert_eq!(bombs.load(Ordering::SeqCst), 3 * runs);
}

#[test]
fn stress_panic_in_queued_message_drop_during_drain() {
    const PER_KIND: usize = 100;
    let runs = size(50, 500);
    quiet_deliberate_panics();
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let observer = observer(&root, tx);
    let drops = Arc::new(AtomicUsize::new(0));
    let bombs = Arc::new(AtomicUsize::new(0));
    for run in 0..runs {
        let (gate, gate_rx) = mpsc::channel::<()>();
        let node = move |ctx: &mut Ctx| -> Started {
            ctx.receive(pattern!("end"), |_, ()| deliberate("end"))?;
            gate_rx.recv_timeout(DEADLINE)?;
            Ok(())
        };
        let pid = root.spawn(Spawn::new(node).link_to(&observer)).unwrap();
        pid.send("end").unwrap();
        for _ in 0..PER_KIND {
            pid.send(DropCounter::new(&drops)).unwrap();
            pid.send(PanicOnDrop(bombs.clone())).unwrap();
        }
        gate.send(()).unwrap();
        assert_eq!(wait(&pid).to_string(), "deliberate end", "run {run}");
        assert_eq!(drops.load(Ordering::SeqCst), PER_KIND * (run + 1));
        assert_eq!(bombs.load(Ordering::SeqCst), PER_KIND * (run + 1));
        match recv(&rx, "exit at the observer") {
            Observed::Exit(id, _) => assert_eq!(id, pid.id()),
            Observed::Sync => unreachable!(),
        }
    }
}

// 14. --------------------------------------------------------------------

/// A group member: given its peers, it links to them, spawns a linked
/// child that links back and ends its parent and a peer, churns links, and
/// ends itself and the next peer, all from inside one handler.
fn reentrant_member(children: mpsc::Sender<Pid>) -> impl FnOnce(&mut Ctx) -> Started {
    move |ctx: &mut Ctx| -> Started {
        ctx.receive(
            pattern!("peers", Vec<Pid>),
            move |ctx, (peers,): (Vec<Pid>,)| -> Started {
                for peer in &peers {
                    ctx.link(peer);
                }
                let me = ctx.me();
                let (parent, peer) = (me.clone(), peers[0].clone());
                let child = ctx.spawn_link(move |ctx: &mut Ctx| {
                    ctx.link(&peer);
                    ctx.link(&parent);
                    parent.terminate();
                    peer.terminate_with("deliberate peer end");
                    ctx.terminate();
                })?;
                ctx.unlink(&child);
                ctx.link(&child);
                ctx.link(&me);
                children.send(child)?;
                let helper = ctx.spawn(Spawn::new(|_: &mut Ctx| {}).link_to(&me))?;
                helper.terminate();
                peers[peers.len() - 1].terminate();
                ctx.terminate();
                Ok(())
            },
        )?;
        Ok(())
    }
}

#[test]
fn stress_reentrant_spawn_link_terminate_never_deadlocks() {
    const GROUP: usize = 8;
    let rounds = size(200, 1_000);
    let root = Root::new();
    let start = Instant::now();
    for round in 0..rounds {
        let (tx, rx) = mpsc::channel();
        let members: Vec<Pid> = (0..GROUP)
            .map(|_| root.spawn(reentrant_member(tx.clone())).unwrap())
            .collect();
        for (i, member) in members.iter().enumerate() {
            let peers: Vec<Pid> = (1..GROUP)
                .map(|d| members[(i + d) % GROUP].clone())
                .collect();
            // A member may already have been ended by a faster peer.
            let _ = member.send(("peers", peers));
        }
        for member in &members {
            assert!(
                member.wait_timeout(DEADLINE).is_ok(),
                "round {round}: {member:?} hangs"
            );
        }
        // Every member ended; each had sent its child before its end, or
        // ended before running the handler (then it sent none).
        for child in rx.try_iter() {
            assert!(
                child.wait_timeout(DEADLINE).is_ok(),
                "round {round}: {child:?} hangs"
            );
        }
    }
    println!(
        "{rounds} re-entrant rounds of {GROUP} in {:?}",
        start.elapsed()
    );
}

// 17. --------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Attempt {
    Os,
    Other(String),
    Exit(String),
}

#[test]
fn stress_failed_thread_spawn_leaves_no_trace() {
    let runs = size(100, 1_000);
    let root = Root::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let d = drops.clone();
    let parent = root
        .spawn(move |ctx: &mut Ctx| -> Started {
            let t = tx.clone();
            ctx.receive(pattern!(Exit, Pid), move |_, (_, from): (Exit, Pid)| {
                let _ = t.send(Attempt::Exit(from.name().to_owned()));
            })?;
            ctx.receive(pattern!("try"), move |ctx, ()| -> Started {
                let counter = DropCounter::new(&d);
                let ghost = Spawn::new(move |_: &mut Ctx| drop(counter))
                    .name("ghost")
                    .stack_size(1 << 46);
                tx.send(match ctx.spawn_link(ghost) {
                    Err(SpawnError::Os(_)) => Attempt::Os,
                    other => Attempt::Other(format!("{other:?}")),
                })?;
                // The sentinel ends at once.
                ctx.spawn_link(Spawn::new(|ctx: &mut Ctx| ctx.terminate()).name("sentinel"))?;
                Ok(())
            })?;
            Ok(())
        })
        .unwrap();
    for run in 0..runs {
        parent.send("try").unwrap();
        assert_eq!(recv(&rx, "spawn result"), Attempt::Os, "run {run}");
        let exit = recv(&rx, "sentinel exit");
        assert_eq!(
            exit,
            Attempt::Exit("sentinel".into()),
            "run {run}: ghost link"
        );
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        runs,
        "each failed process dropped once"
    );
    assert!(parent.is_alive());
    let again = root
        .spawn(Spawn::new(|_: &mut Ctx| {}).name("ghost"))
        .unwrap();
    assert_eq!(again.name(), "ghost");
    again.terminate();
    assert!(wait(&again).is_normal());
}
