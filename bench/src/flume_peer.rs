//! The floor: std threads and unbounded flume channels, blocking recv.
//! (crossbeam_peer.rs is this file with crossbeam-channel swapped in.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use flume::{Receiver, Sender, unbounded};

use crate::{Cfg, OrFail, Res, Skip, W, alloc, ns_per, recv_n};

pub fn run(w: W, cfg: &Cfg) -> Res {
    let deadline = Instant::now() + cfg.deadline;
    match w {
        W::W1 => w1(cfg.w1, deadline).map(|(d, _)| ns_per(d, cfg.w1)),
        W::W2 => w2(cfg.w2, deadline).map(|(d, _)| cfg.w2 as f64 / d.as_secs_f64() / 1e6),
        W::W3 => w3(cfg.w3, deadline).map(|d| ns_per(d, cfg.w3 as u64) / 1e3),
        W::W4 => w4(cfg.w4, deadline).map(|d| d.as_secs_f64() * 1e3),
        W::W5 => Err(Skip::Failed("W5 runs in a child process".into())),
        W::W6 => w6(cfg.w6, deadline).map(|d| ns_per(d, cfg.w6)),
    }
}

#[allow(dead_code)]
pub fn count_allocs(w: W, cfg: &Cfg) -> Result<(u64, u64), Skip> {
    let deadline = Instant::now() + cfg.deadline;
    match w {
        W::W1 => w1(cfg.w1, deadline).map(|(_, a)| (a, 2 * cfg.w1)),
        W::W2 => w2(cfg.w2, deadline).map(|(_, a)| (a, cfg.w2)),
        _ => Err(Skip::NotApplicable),
    }
}

fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
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

fn w1(n: u64, deadline: Instant) -> Result<(Duration, u64), Skip> {
    let (exit_tx, exit_rx) = mpsc::channel();
    let (to_ping, ping_rx) = unbounded::<u64>();
    let (to_pong, pong_rx) = unbounded::<u64>();
    let (done_tx, done_rx) = mpsc::channel();
    let back = to_ping.clone();
    let pong = spawn_thread(&exit_tx, move || {
        while let Ok(x) = pong_rx.recv() {
            let _ = back.send(x);
        }
    })?;
    let ping = spawn_thread(&exit_tx, move || {
        while let Ok(x) = ping_rx.recv() {
            if x >= n {
                let _ = done_tx.send(());
                break;
            }
            let _ = to_pong.send(x + 1);
        }
    })?;
    alloc::start();
    let start = Instant::now();
    to_ping.send(0).or_fail("kick")?;
    let done = done_rx.recv_timeout(left(deadline));
    let elapsed = start.elapsed();
    let allocs = alloc::stop();
    done.or_fail("ping-pong did not finish")?;
    drop(to_ping);
    join_all(vec![ping, pong], &exit_rx, deadline)?;
    Ok((elapsed, allocs))
}

fn w2(total: u64, deadline: Instant) -> Result<(Duration, u64), Skip> {
    let (exit_tx, exit_rx) = mpsc::channel();
    let (tx, rx) = unbounded::<u64>();
    let (done_tx, done_rx) = mpsc::channel();
    let counter = spawn_thread(&exit_tx, move || {
        let mut seen = 0u64;
        while rx.recv().is_ok() {
            seen += 1;
            if seen == total {
                let _ = done_tx.send(());
            }
        }
    })?;
    // Producers report ready, then wait for the clock to start.
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let barrier = Arc::new(Barrier::new(3));
    let mut handles = vec![counter];
    for count in [total / 2, total - total / 2] {
        let tx = tx.clone();
        let barrier = barrier.clone();
        let ready = ready_tx.clone();
        handles.push(spawn_thread(&exit_tx, move || {
            let _ = ready.send(());
            barrier.wait();
            for i in 0..count {
                let _ = tx.send(i);
            }
        })?);
    }
    drop(tx);
    alloc::start();
    crate::recv_n(&ready_rx, 2, deadline, "producers not ready")?;
    let start = Instant::now();
    barrier.wait();
    let done = done_rx.recv_timeout(left(deadline));
    let elapsed = start.elapsed();
    let allocs = alloc::stop();
    done.or_fail("counter did not see every message")?;
    join_all(handles, &exit_rx, deadline)?;
    Ok((elapsed, allocs))
}

enum Work {
    Msg(u64),
    Stop,
}

fn w3(n: usize, deadline: Instant) -> Result<Duration, Skip> {
    let (exit_tx, exit_rx) = mpsc::channel();
    let handled = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(n);
    let mut senders = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = unbounded::<Work>();
        let handled = handled.clone();
        handles.push(spawn_thread(&exit_tx, move || {
            while let Ok(Work::Msg(x)) = rx.recv() {
                std::hint::black_box(x);
                handled.fetch_add(1, Ordering::Relaxed);
            }
        })?);
        tx.send(Work::Msg(i as u64)).or_fail("send")?;
        tx.send(Work::Stop).or_fail("stop")?;
        senders.push(tx);
    }
    join_all(handles, &exit_rx, deadline)?;
    let elapsed = start.elapsed();
    if handled.load(Ordering::SeqCst) != n as u64 {
        return Err(Skip::Failed("not every message handled".into()));
    }
    Ok(elapsed)
}

/// W4 without links: each thread holds the only sender to the next and
/// ends when its own channel yields anything or disconnects.
fn w4(n: usize, deadline: Instant) -> Result<Duration, Skip> {
    let (exit_tx, exit_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (first_tx, mut rx): (Sender<()>, Receiver<()>) = unbounded();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let (next_tx, next_rx) = unbounded::<()>();
        let next = (i + 1 < n).then_some(next_tx);
        let my_rx = std::mem::replace(&mut rx, next_rx);
        let ready = ready_tx.clone();
        handles.push(spawn_thread(&exit_tx, move || {
            let _ = ready.send(());
            let _ = my_rx.recv();
            drop(next);
        })?);
    }
    recv_n(&ready_rx, n, deadline, "chain not built")?;
    let start = Instant::now();
    first_tx.send(()).or_fail("kill")?;
    // Dead = joined, as after paragram's `wait()` (which joins the thread).
    join_all(handles, &exit_rx, deadline)?;
    Ok(start.elapsed())
}

pub fn w5(n: usize) -> Res {
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut senders = Vec::with_capacity(n);
    let per = crate::rss_per_process(n, || {
        for _ in 0..n {
            let (tx, rx) = unbounded::<u64>();
            let ready = ready_tx.clone();
            thread::Builder::new()
                .spawn(move || {
                    let _ = ready.send(());
                    while rx.recv().is_ok() {}
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

#[allow(dead_code)] // only R10 is sent: the match still has ten arms
enum Ten {
    R1(u64),
    R2(u64),
    R3(u64),
    R4(u64),
    R5(u64),
    R6(u64),
    R7(u64),
    R8(u64),
    R9(u64),
    R10(u64),
}

fn w6(n: u64, deadline: Instant) -> Result<Duration, Skip> {
    let (exit_tx, exit_rx) = mpsc::channel();
    let (tx, rx) = unbounded::<Ten>();
    let (done_tx, done_rx) = mpsc::channel();
    let sink = spawn_thread(&exit_tx, move || {
        let mut seen = 0u64;
        let mut other = 0u64;
        while let Ok(m) = rx.recv() {
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
        tx.send(Ten::R10(i)).or_fail("send")?;
    }
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("not every message handled")?;
    let elapsed = start.elapsed();
    drop(tx);
    join_all(vec![sink], &exit_rx, deadline)?;
    Ok(elapsed)
}
