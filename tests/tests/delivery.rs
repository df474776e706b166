//! Delivery under load: many senders, one process, every message once and
//! in each sender's order.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use paragram::{BoxError, Ctx, Root, pattern};

/// Messages sent in all; the test scales by this one number.
const COUNT: u64 = 1_000_000;

/// Threads sending at once; each sends `COUNT / SENDERS` messages.
const SENDERS: u64 = 4;

/// Generous: a debug build on a loaded machine still finishes well inside it.
const DEADLINE: Duration = Duration::from_secs(60);

/// What the receiving process has seen.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    /// Messages received, all senders together.
    received: u64,
    /// The sequence number expected next from each sender.
    next: Vec<u64>,
    /// The first message that broke a sender's order (a duplicate, a gap or
    /// a reordering), as `(sender, expected, got)`.
    first_violation: Option<(u64, u64, u64)>,
}

#[test]
fn messages_from_many_senders_all_arrive_once_and_in_each_senders_order() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let per_sender = COUNT / SENDERS;
    let pid = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            // Two receivers share the tally; they run on the one process
            // thread, so the lock is never contended.
            let tally = Arc::new(Mutex::new(Tally {
                next: vec![0; SENDERS as usize],
                ..Tally::default()
            }));
            let counting = tally.clone();
            ctx.receive(pattern!(u64, u64), move |_, (sender, seq): (u64, u64)| {
                let mut tally = counting.lock().unwrap_or_else(PoisonError::into_inner);
                tally.received += 1;
                let expected = tally.next[sender as usize];
                if seq != expected && tally.first_violation.is_none() {
                    tally.first_violation = Some((sender, expected, seq));
                }
                tally.next[sender as usize] = seq + 1;
            })?;
            ctx.receive(pattern!("report"), move |ctx, ()| {
                let tally =
                    std::mem::take(&mut *tally.lock().unwrap_or_else(PoisonError::into_inner));
                tx.send(tally).unwrap();
                ctx.terminate();
            })?;
            Ok(())
        })
        .unwrap();

    thread::scope(|scope| {
        for sender in 0..SENDERS {
            let pid = pid.clone();
            scope.spawn(move || {
                for seq in 0..per_sender {
                    pid.send((sender, seq)).expect("the process is alive");
                }
            });
        }
    });
    // Every sender has returned, so all their messages are queued ahead of
    // this one.
    pid.send("report").unwrap();

    let tally = rx
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|e| panic!("no report within {DEADLINE:?}: {e}"));
    assert_eq!(tally.first_violation, None, "a sender's order was broken");
    assert_eq!(
        tally.received,
        per_sender * SENDERS,
        "none lost or duplicated"
    );
    assert_eq!(tally.next, vec![per_sender; SENDERS as usize]);
    let exit = pid
        .wait_timeout(DEADLINE)
        .unwrap_or_else(|e| panic!("the process did not end within {DEADLINE:?}: {e}"));
    assert!(exit.is_normal(), "{exit}");
}
