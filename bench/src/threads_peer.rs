//! The floor: std threads and unbounded channels, blocking recv. One peer
//! per channel crate (`flume`, `crossbeam`), the same code through [`Chan`].

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::chan::Chan;
use crate::common::{self, Counted, Tally, Ten, Timed, Workloads, left};
use crate::producers::Producers;
use crate::{Cfg, OrFail, Res, Skip, W, recv_n};

/// The peer over channel crate `C`.
struct Threads<C>(PhantomData<C>);

pub fn run<C: Chan>(w: W, cfg: &Cfg) -> Res {
    let deadline = Instant::now() + cfg.deadline;
    common::measure(&Threads::<C>(PhantomData), w, cfg, deadline)
}

/// Allocations counted over the timed part of W1 / W2, and messages sent
/// and handled there.
pub fn count_allocs<C: Chan>(w: W, cfg: &Cfg) -> Result<(u64, u64), Skip> {
    common::count_allocs(w, cfg, w1::<C>, w2::<C>)
}

impl<C: Chan> Workloads for Threads<C> {
    fn w1(&self, n: u64, deadline: Instant) -> Timed {
        w1::<C>(n, deadline).map(|(d, _)| d)
    }
    fn w2(&self, total: u64, deadline: Instant) -> Timed {
        w2::<C>(total, deadline).map(|(d, _)| d)
    }
    fn w3(&self, n: usize, deadline: Instant) -> Timed {
        w3::<C>(n, deadline)
    }
    fn w4(&self, n: usize, deadline: Instant) -> Timed {
        w4::<C>(n, deadline)
    }
    fn w6(&self, n: u64, deadline: Instant) -> Timed {
        w6::<C>(n, deadline)
    }
}

/// A thread that reports on `exited` when it ends, so it can be waited
/// for with a deadline, then joined.
fn spawn_thread(
    exited: &mpsc::Sender<()>,
    body: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, Skip> {
    let exited = exited.clone();
    thread::Builder::new()
        .spawn(move || {
            body();
            let _ = exited.send(());
        })
        .or_fail("spawn thread")
}

fn join_all(
    handles: Vec<JoinHandle<()>>,
    exited: &mpsc::Receiver<()>,
    deadline: Instant,
) -> Result<(), Skip> {
    recv_n(
        exited,
        handles.len(),
        deadline,
        "threads did not end before the deadline",
    )?;
    for h in handles {
        h.join().or_fail("thread panicked")?;
    }
    Ok(())
}

fn w1<C: Chan>(n: u64, deadline: Instant) -> Counted {
    let (exit_tx, exit_rx) = mpsc::channel();
    let (to_ping, ping_rx) = C::unbounded::<u64>();
    let (to_pong, pong_rx) = C::unbounded::<u64>();
    let (done_tx, done_rx) = mpsc::channel();
    let back = to_ping.clone();
    let pong = spawn_thread(&exit_tx, move || {
        while let Some(x) = C::recv(&pong_rx) {
            let _ = C::send(&back, x);
        }
    })?;
    let ping = spawn_thread(&exit_tx, move || {
        while let Some(x) = C::recv(&ping_rx) {
            if x >= n {
                let _ = done_tx.send(());
                break;
            }
            let _ = C::send(&to_pong, x + 1);
        }
    })?;
    let kick = || {
        let start = Instant::now();
        C::send(&to_ping, 0).or_fail("kick")?;
        Ok(start)
    };
    let (elapsed, allocs) = common::clocked(kick, &done_rx, deadline, "ping-pong did not finish")?;
    drop(to_ping);
    join_all(vec![ping, pong], &exit_rx, deadline)?;
    Ok((elapsed, allocs))
}

fn w2<C: Chan>(total: u64, deadline: Instant) -> Counted {
    let (exit_tx, exit_rx) = mpsc::channel();
    let (tx, rx) = C::unbounded::<u64>();
    let (done_tx, done_rx) = mpsc::channel();
    let mut tally = Tally::new(total, done_tx);
    let counter = spawn_thread(&exit_tx, move || {
        while C::recv(&rx).is_some() {
            tally.count();
        }
    })?;
    // Producers report ready, then wait for the clock to start. The last
    // sender goes with them.
    let send = move |i| {
        let _ = C::send(&tx, i);
    };
    let mut producers = Producers::spawn(total, true, send, |body| spawn_thread(&exit_tx, body))?;
    let mut handles = vec![counter];
    handles.append(&mut producers.handles);
    let go = || producers.start(deadline);
    let what = "counter did not see every message";
    let (elapsed, allocs) = common::clocked(go, &done_rx, deadline, what)?;
    join_all(handles, &exit_rx, deadline)?;
    Ok((elapsed, allocs))
}

enum Work {
    Msg(u64),
    Stop,
}

fn w3<C: Chan>(n: usize, deadline: Instant) -> Timed {
    let (exit_tx, exit_rx) = mpsc::channel();
    let handled = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(n);
    let mut senders = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = C::unbounded::<Work>();
        let handled = handled.clone();
        handles.push(spawn_thread(&exit_tx, move || {
            while let Some(Work::Msg(x)) = C::recv(&rx) {
                std::hint::black_box(x);
                handled.fetch_add(1, Ordering::Relaxed);
            }
        })?);
        C::send(&tx, Work::Msg(i as u64)).or_fail("send")?;
        C::send(&tx, Work::Stop).or_fail("stop")?;
        senders.push(tx);
    }
    join_all(handles, &exit_rx, deadline)?;
    common::all_handled(start.elapsed(), &handled, n)
}

/// W4 without links: each thread holds the only sender to the next and
/// ends when its own channel yields anything or disconnects.
fn w4<C: Chan>(n: usize, deadline: Instant) -> Timed {
    let (exit_tx, exit_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (first_tx, mut rx) = C::unbounded::<()>();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let (next_tx, next_rx) = C::unbounded::<()>();
        let next = (i + 1 < n).then_some(next_tx);
        let my_rx = std::mem::replace(&mut rx, next_rx);
        let ready = ready_tx.clone();
        handles.push(spawn_thread(&exit_tx, move || {
            let _ = ready.send(());
            let _ = C::recv(&my_rx);
            drop(next);
        })?);
    }
    recv_n(&ready_rx, n, deadline, "chain not built")?;
    let start = Instant::now();
    C::send(&first_tx, ()).or_fail("kill")?;
    // Dead = joined, as after paragram's `wait()` (which joins the thread).
    join_all(handles, &exit_rx, deadline)?;
    Ok(start.elapsed())
}

pub fn w5<C: Chan>(n: usize) -> Res {
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut senders = Vec::with_capacity(n);
    let per = crate::rss_per_process(n, || {
        for _ in 0..n {
            let (tx, rx) = C::unbounded::<u64>();
            let ready = ready_tx.clone();
            thread::Builder::new()
                .spawn(move || {
                    let _ = ready.send(());
                    while C::recv(&rx).is_some() {}
                })
                .or_fail("spawn thread")?;
            senders.push(tx);
        }
        recv_n(
            &ready_rx,
            n,
            Instant::now() + Duration::from_secs(60),
            "threads did not start",
        )
    });
    std::mem::forget(senders);
    per
}

fn w6<C: Chan>(n: u64, deadline: Instant) -> Timed {
    let (exit_tx, exit_rx) = mpsc::channel();
    let (tx, rx) = C::unbounded::<Ten>();
    let (done_tx, done_rx) = mpsc::channel();
    let sink = spawn_thread(&exit_tx, move || {
        let mut seen = 0u64;
        let mut other = 0u64;
        while let Some(m) = C::recv(&rx) {
            match m {
                Ten::R1(x) | Ten::R2(x) | Ten::R3(x) | Ten::R4(x) | Ten::R5(x) => other += x,
                Ten::R6(x) | Ten::R7(x) | Ten::R8(x) | Ten::R9(x) => other ^= x,
                Ten::R10(_) => {
                    seen += 1;
                    if seen == n {
                        let _ = done_tx.send(other);
                    }
                }
            }
        }
    })?;
    let start = Instant::now();
    for i in 0..n {
        C::send(&tx, Ten::R10(i)).or_fail("send")?;
    }
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("not every message handled")?;
    let elapsed = start.elapsed();
    drop(tx);
    join_all(vec![sink], &exit_rx, deadline)?;
    Ok(elapsed)
}
