//! Nothing outlives its process: queued messages are dropped exactly once on
//! every exit path, threads are joined, sends to the dead hand the message
//! back, and one process's panic harms no other.

use paragram_tests::{DEADLINE, await_no_threads_named, ended, recv};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use paragram::{BoxError, Ctx, Exit, LinkedExit, Opaque, Pid, Root, Spawn, Term, pattern};

/// Messages queued behind the blocking one in each exit-path test.
const QUEUED: usize = 100;

/// Spawn-link-terminate-wait rounds in the thread-count test.
const ROUNDS: usize = 1_000;

/// A message element that counts its drops.
struct DropCounter {
    drops: Arc<AtomicUsize>,
}

impl DropCounter {
    fn new(drops: &Arc<AtomicUsize>) -> DropCounter {
        DropCounter {
            drops: drops.clone(),
        }
    }
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl Opaque for DropCounter {}

/// A process held inside its handler for `"block"` until the test opens
/// the gate, so the test can queue messages behind it.
struct Gated {
    pid: Pid,
    release: Sender<()>,
    /// How many `DropCounter` messages a receiver handled.
    handled: Arc<AtomicUsize>,
}

impl Gated {
    /// Spawns the process; once the gate opens, the `"block"` handler
    /// returns what `after` returns.
    fn spawn(root: &Root, after: fn() -> Result<(), BoxError>) -> Gated {
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let handled = Arc::new(AtomicUsize::new(0));
        let counted = handled.clone();
        let pid = root
            .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
                ctx.receive(pattern!("block"), move |_, ()| -> Result<(), BoxError> {
                    entered_tx.send(())?;
                    release_rx.recv_timeout(DEADLINE)?;
                    after()
                })?;
                ctx.receive(pattern!(DropCounter), move |_, (_,): (DropCounter,)| {
                    counted.fetch_add(1, Ordering::SeqCst);
                })?;
                Ok(())
            })
            .unwrap();
        pid.send("block").unwrap();
        recv(&entered);
        Gated {
            pid,
            release,
            handled,
        }
    }

    /// Queues `count` drop counters behind the blocked handler.
    fn queue(&self, drops: &Arc<AtomicUsize>, count: usize) {
        for _ in 0..count {
            self.pid.send(DropCounter::new(drops)).unwrap();
        }
    }

    /// Opens the gate; returns the exit value and how many `DropCounter`s
    /// were handled.
    fn release(self) -> (Exit, usize) {
        self.release.send(()).unwrap();
        let exit = ended(&self.pid);
        (exit, self.handled.load(Ordering::SeqCst))
    }
}

fn carry_on() -> Result<(), BoxError> {
    Ok(())
}

fn fail() -> Result<(), BoxError> {
    Err("handler failed".into())
}

fn panic() -> Result<(), BoxError> {
    panic!("boom")
}

#[test]
fn terminate_with_handles_what_was_queued_before_it_and_drops_the_rest_once() {
    let root = Root::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let gated = Gated::spawn(&root, carry_on);

    gated.queue(&drops, QUEUED);
    gated.pid.terminate_with("stop");
    gated.queue(&drops, QUEUED);
    assert_eq!(gated.pid.mailbox_len(), 2 * QUEUED + 1);
    let (exit, handled) = gated.release();

    assert_eq!(exit.to_string(), "stop");
    assert_eq!(
        handled, QUEUED,
        "messages ahead of the terminate are handled"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 2 * QUEUED);
}

#[test]
fn handler_error_drops_every_queued_message_once() {
    let root = Root::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let gated = Gated::spawn(&root, fail);

    gated.queue(&drops, QUEUED);
    assert_eq!(gated.pid.mailbox_len(), QUEUED);
    let (exit, handled) = gated.release();

    assert_eq!(exit.to_string(), "handler failed");
    assert_eq!(handled, 0, "the error ends the process at once");
    assert_eq!(drops.load(Ordering::SeqCst), QUEUED);
}

#[test]
fn handler_panic_drops_every_queued_message_once() {
    let root = Root::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let gated = Gated::spawn(&root, panic);

    gated.queue(&drops, QUEUED);
    let (exit, handled) = gated.release();

    assert_eq!(exit.to_string(), "process panicked: boom");
    assert_eq!(handled, 0, "the panic ends the process at once");
    assert_eq!(drops.load(Ordering::SeqCst), QUEUED);
}

#[test]
fn unhandled_message_drops_every_queued_message_once() {
    let root = Root::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let gated = Gated::spawn(&root, carry_on);

    gated.pid.send(2).unwrap();
    gated.queue(&drops, QUEUED);
    let (exit, handled) = gated.release();

    assert_eq!(exit.to_string(), "unhandled message: (2,)");
    assert_eq!(handled, 0, "the unhandled message ends the process at once");
    assert_eq!(drops.load(Ordering::SeqCst), QUEUED);
}

#[test]
fn racing_sends_around_an_exit_drop_every_message_exactly_once() {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 5_000;
    const HANDLED_BEFORE_FAILING: usize = 2_000;
    let root = Root::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let handled = Arc::new(AtomicUsize::new(0));
    let counted = handled.clone();
    let pid = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!(DropCounter), move |_, (_,): (DropCounter,)| {
                let seen = counted.fetch_add(1, Ordering::SeqCst) + 1;
                if seen == HANDLED_BEFORE_FAILING {
                    return Err("enough");
                }
                Ok(())
            })
        })
        .unwrap();

    // All senders start together, so the exit lands among their sends.
    let start = Barrier::new(SENDERS);
    let refused: usize = thread::scope(|scope| {
        let senders: Vec<_> = (0..SENDERS)
            .map(|_| {
                let (pid, drops, start) = (pid.clone(), drops.clone(), &start);
                scope.spawn(move || {
                    start.wait();
                    let mut refused = 0;
                    for _ in 0..PER_SENDER {
                        if let Err(error) = pid.send(DropCounter::new(&drops)) {
                            let terms = error.into_inner().into_terms();
                            assert!(
                                matches!(&terms[..], [Term::Opaque(v)] if v.is::<DropCounter>())
                            );
                            refused += 1;
                        }
                    }
                    refused
                })
            })
            .collect();
        senders.into_iter().map(|s| s.join().unwrap()).sum()
    });
    let exit = ended(&pid);

    assert_eq!(exit.to_string(), "enough");
    assert_eq!(handled.load(Ordering::SeqCst), HANDLED_BEFORE_FAILING);
    assert!(refused <= SENDERS * PER_SENDER - HANDLED_BEFORE_FAILING);
    assert_eq!(drops.load(Ordering::SeqCst), SENDERS * PER_SENDER);
}

#[test]
fn send_to_a_dead_process_hands_the_message_back() {
    let root = Root::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let pid = root.spawn(|_: &mut Ctx| {}).unwrap();
    pid.terminate();
    assert!(ended(&pid).is_normal());

    let error = pid
        .send(("late", 7, DropCounter::new(&drops)))
        .expect_err("the process has ended");

    assert_eq!(error.to_string(), "sending to a process that has ended");
    let terms = error.into_inner().into_terms();
    assert_eq!(terms.len(), 3);
    assert_eq!(terms[0], Term::Str("late".into()));
    assert_eq!(terms[1], Term::Int(7));
    assert!(matches!(&terms[2], Term::Opaque(v) if v.is::<DropCounter>()));
    assert_eq!(drops.load(Ordering::SeqCst), 0, "handed back, not dropped");
    drop(terms);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // Signals to the dead are ignored and leave the exit value alone.
    pid.terminate_with("again");
    pid.terminate();
    assert!(pid.exit().is_some_and(|e| e.is_normal()));
}

#[test]
fn spawn_terminate_wait_rounds_leave_no_thread_behind() {
    let root = Root::new();
    let exits = Arc::new(AtomicUsize::new(0));
    let seen = exits.clone();
    let (tx, rx) = mpsc::channel();
    root.receive(pattern!(Exit, Pid), move |_, (_, _): (Exit, Pid)| {
        seen.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    root.receive(pattern!("sync"), move |_, ()| tx.send(()).unwrap())
        .unwrap();

    // The children's threads carry their name: this test's own, whatever
    // else runs in this OS process.
    const NAME: &str = "cleanup-rounds";
    for _ in 0..ROUNDS {
        let child = root
            .spawn_link(Spawn::new(|_: &mut Ctx| {}).name(NAME))
            .unwrap();
        child.terminate();
        assert!(ended(&child).is_normal());
    }
    // `wait` joined every thread; the kernel may list a joined thread for a
    // moment longer, so allow it a deadline.
    assert_eq!(await_no_threads_named(NAME), 0, "threads left behind");
    root.send("sync").unwrap();
    recv(&rx);
    assert_eq!(
        exits.load(Ordering::SeqCst),
        ROUNDS,
        "the root heard every exit"
    );
    assert!(root.is_alive());
}

#[test]
fn panic_in_a_handler_leaves_every_other_process_running() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let echoes: Vec<Pid> = (0..3)
        .map(|i| {
            let tx = tx.clone();
            root.spawn(move |ctx: &mut Ctx| {
                ctx.receive(pattern!("ping"), move |_, ()| tx.send(i).unwrap())
            })
            .unwrap()
        })
        .collect();
    let panicker = root
        .spawn(|ctx: &mut Ctx| {
            ctx.receive(pattern!("panic"), |_, ()| -> Result<(), BoxError> {
                panic!("boom")
            })
        })
        .unwrap();
    root.receive(pattern!("ping"), move |_, ()| tx.send(99).unwrap())
        .unwrap();

    panicker.send("panic").unwrap();
    assert_eq!(ended(&panicker).to_string(), "process panicked: boom");

    for echo in &echoes {
        echo.send("ping").unwrap();
    }
    root.send("ping").unwrap();
    let mut answers: Vec<i32> = (0..4).map(|_| recv(&rx)).collect();
    answers.sort_unstable();
    assert_eq!(answers, [0, 1, 2, 99]);
    for echo in &echoes {
        assert!(echo.is_alive());
        echo.terminate();
        assert!(ended(echo).is_normal());
    }
}

/// Each process in a chain dies of its neighbour's exit, and each exit
/// value names the neighbour. Naming it must not keep it: dropping the
/// chain's handles, on a thread with a small stack, must not recurse once
/// per process.
#[test]
fn dropping_a_long_chain_of_linked_exits_does_not_recurse() {
    const CHAIN: usize = 3_000;
    let root = Root::new();
    let first = root.spawn(|_: &mut Ctx| {}).unwrap();
    let mut chain = vec![first];
    for _ in 1..CHAIN {
        let previous = chain.last().unwrap().clone();
        chain.push(
            root.spawn(move |ctx: &mut Ctx| ctx.link(&previous))
                .unwrap(),
        );
    }
    // Make sure every link is in place before the chain is cut.
    let (tx, rx) = std::sync::mpsc::channel();
    let last = chain.last().unwrap().clone();
    let probe = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.link(&last);
            tx.send(()).unwrap();
            ctx.receive(pattern!(Exit, Pid), |_, (_e, _p): (Exit, Pid)| {})
        })
        .unwrap();
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    chain[0].terminate_with("cut");
    for pid in &chain {
        pid.wait_timeout(Duration::from_secs(30))
            .expect("every process in the chain ends");
    }
    let far_end = chain.last().unwrap().exit().unwrap();
    let linked = far_end.downcast_ref::<LinkedExit>().unwrap();
    assert_eq!(linked.peer, chain[CHAIN - 2]);
    assert_eq!(linked.cause.to_string(), "cut");
    drop(far_end);
    probe.terminate();
    let dropper = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || drop(chain))
        .unwrap();
    dropper
        .join()
        .expect("dropping the chain fits in a 64 KiB stack");
}
