//! Reliability: the scheduler kind holds a million processes at once (at
//! full size), each answering one message, and ends them all, on its
//! workers alone: no thread per process. In its own binary because it
//! counts the threads of the OS process.

mod stress_support;

use std::sync::mpsc;
use std::time::Instant;

use paragram::{Ctx, Kind, Pid, Root, Spawn, pattern};
use stress_support::{DEADLINE, size, threads, wait, warm_up};

/// The most threads the scheduler's pool may add to its workers: spares,
/// kept for reuse, started while a worker was given up (a worker that ran
/// one process for 20 ms, which a preempted worker on a loaded machine
/// can do).
const SPARES: usize = 8;

#[test]
fn stress_a_million_processes_answer_and_end() {
    let n = size(20_000, 1_000_000);
    paragram::set_scheduler_workers(2);
    warm_up();
    let root = Root::with_kind(Kind::SCHEDULER);
    let baseline = threads();
    let (done, all_answered) = mpsc::channel();
    let counter = root
        .spawn(Spawn::from_fn(move |ctx| {
            let mut seen = 0;
            ctx.receive(pattern!("pong", u64), move |_, (_,): (u64,)| {
                seen += 1;
                if seen == n {
                    let _ = done.send(());
                }
            })
        }))
        .unwrap();
    let start = Instant::now();
    let pids: Vec<Pid> = (0..n)
        .map(|i| {
            root.spawn(move |ctx: &mut Ctx| {
                ctx.receive(pattern!("ping", Pid), move |_, (to,): (Pid,)| {
                    let _ = to.send(("pong", i as u64));
                })
            })
            .unwrap()
        })
        .collect();
    let spawned = start.elapsed();
    assert!(
        pids.iter().all(Pid::is_alive),
        "every process is alive at once"
    );
    let during = threads();
    assert!(
        during <= baseline + SPARES,
        "no thread per process: {during} threads, {baseline} before"
    );
    for pid in &pids {
        pid.send(("ping", counter.clone())).unwrap();
    }
    all_answered
        .recv_timeout(DEADLINE * 3)
        .expect("every process answers");
    let answered = start.elapsed();
    for pid in &pids {
        pid.terminate();
    }
    for pid in &pids {
        assert!(wait(pid).is_normal(), "{pid:?}");
    }
    let ended = start.elapsed();
    counter.terminate();
    assert!(wait(&counter).is_normal());
    println!(
        "{n} processes: spawned in {spawned:?}, all answered at {answered:?}, all ended at {ended:?}"
    );
    drop(pids);
    let after = threads();
    assert!(
        after <= baseline + SPARES,
        "{after} threads after, {baseline} before"
    );
}
