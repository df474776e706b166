//! A ring of processes passing a token: N processes, each linked to the
//! root, pass a counter around the ring M times; the last hop reports to
//! the top level, which then ends the root, and the links take every
//! process in the ring down with it.
//!
//! `cargo run --release -p paragram-examples --example ring -- [N] [M]`

use std::sync::mpsc;
use std::time::{Duration, Instant};

use paragram::{Ctx, LinkedExit, Pid, Root, pattern};

const DEFAULT_PROCESSES: usize = 100;
const DEFAULT_ROUNDS: u64 = 1_000;

/// One member of the ring: learns its successor, then passes the token on
/// until it has gone round the ring `rounds` times.
fn member(
    done: mpsc::Sender<Duration>,
    started: Instant,
) -> impl FnOnce(&mut Ctx) -> Result<(), paragram::PatternError> + Send {
    move |ctx| {
        ctx.receive(pattern!("next", Pid), move |ctx, (next,)| {
            let done = done.clone();
            ctx.receive(pattern!("token", u64), move |_, (hops,)| {
                if hops == 0 {
                    // Ignored if the top level has stopped listening.
                    let _ = done.send(started.elapsed());
                } else if next.send(("token", hops - 1)).is_err() {
                    panic!("the next process in the ring has ended");
                }
            })
        })
    }
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let processes = args
        .next()
        .and_then(Result::ok)
        .map_or(DEFAULT_PROCESSES, |n| n as usize);
    let rounds = args.next().and_then(Result::ok).unwrap_or(DEFAULT_ROUNDS);
    assert!(processes >= 1, "a ring needs at least one process");

    let root = Root::new();
    let (done_tx, done_rx) = mpsc::channel();
    let started = Instant::now();
    let ring: Vec<Pid> = (0..processes)
        .map(|_| {
            root.spawn_link(member(done_tx.clone(), started))
                .expect("the machine can start this many threads")
        })
        .collect();
    for (i, pid) in ring.iter().enumerate() {
        let next = ring[(i + 1) % processes].clone();
        pid.send(("next", next)).expect("ring members are alive");
    }
    let hops = rounds * processes as u64;
    ring[0]
        .send(("token", hops))
        .expect("ring members are alive");
    let elapsed = done_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the token should come round within two minutes");
    println!(
        "{processes} processes passed the token {rounds} times round the ring: {hops} hops in {elapsed:.2?} ({:.0} ns per hop)",
        elapsed.as_nanos() as f64 / hops as f64
    );

    root.terminate();
    let exit = root
        .wait_timeout(Duration::from_secs(10))
        .expect("the root ends");
    assert!(
        exit.is_normal(),
        "the root should end normally, not with {exit}"
    );
    for pid in &ring {
        let exit = pid
            .wait_timeout(Duration::from_secs(10))
            .expect("every ring member ends");
        let linked = exit.downcast_ref::<LinkedExit>().unwrap_or_else(|| {
            panic!("{pid:?} should end through its link to the root, not with {exit}")
        });
        assert_eq!(&linked.peer, root.pid());
    }
    println!("the root ended and took all {processes} ring members with it");
}
