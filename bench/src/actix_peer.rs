//! actix: each workload runs in a fresh thread with one actix System.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::{mpsc as tmpsc, oneshot};

use crate::common::{self, Tally, Timed, Workloads, left};
use crate::producers::{self, Producers};
use crate::{Cfg, OrFail, Res, Skip, W};

/// The peer: each workload in a System of its own.
struct Actix;

pub fn run(w: W, cfg: &Cfg) -> Res {
    common::measure(&Actix, w, cfg, Instant::now() + cfg.deadline)
}

impl Workloads for Actix {
    fn w1(&self, n: u64, deadline: Instant) -> Timed {
        in_system(deadline, move || w1(n, deadline))
    }
    fn w2(&self, total: u64, deadline: Instant) -> Timed {
        in_system(deadline, move || w2(total, deadline))
    }
    fn w3(&self, n: usize, deadline: Instant) -> Timed {
        in_system(deadline, move || w3(n, deadline))
    }
    fn w4(&self, n: usize, deadline: Instant) -> Timed {
        in_system(deadline, move || w4(n, deadline))
    }
    fn w6(&self, n: u64, deadline: Instant) -> Timed {
        in_system(deadline, move || w6(n, deadline))
    }
}

/// Runs `work` as the main future of a new System on a new thread.
fn in_system<F, Fut>(deadline: Instant, work: F) -> Result<Duration, Skip>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Duration, Skip>> + 'static,
{
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("actix-system".into())
        .spawn(move || {
            let res = System::new().block_on(work());
            let _ = tx.send(res);
        })
        .or_fail("spawn system thread")?;
    // A little longer than the workload's own deadline, which it enforces.
    rx.recv_timeout(left(deadline) + Duration::from_secs(5))
        .or_fail("actix system hung")?
}

async fn recv_n(
    rx: &mut tmpsc::UnboundedReceiver<()>,
    n: usize,
    deadline: Instant,
    what: &str,
) -> Result<(), Skip> {
    for _ in 0..n {
        tokio::time::timeout(left(deadline), rx.recv())
            .await
            .or_fail(what)?
            .or_fail(what)?;
    }
    Ok(())
}

struct N(u64);
impl Message for N {
    type Result = ();
}

// W1 ---------------------------------------------------------------------

struct PeerMsg(Addr<Ping>);
impl Message for PeerMsg {
    type Result = ();
}

struct Pong {
    peer: Option<Addr<Ping>>,
}
impl Actor for Pong {
    type Context = Context<Self>;
}
impl Handler<PeerMsg> for Pong {
    type Result = ();
    fn handle(&mut self, PeerMsg(p): PeerMsg, _: &mut Context<Self>) {
        self.peer = Some(p);
    }
}
impl Handler<N> for Pong {
    type Result = ();
    fn handle(&mut self, N(x): N, _: &mut Context<Self>) {
        if let Some(p) = &self.peer {
            p.do_send(N(x));
        }
    }
}

struct Ping {
    pong: Addr<Pong>,
    limit: u64,
    done: Option<oneshot::Sender<()>>,
}
impl Actor for Ping {
    type Context = Context<Self>;
}
impl Handler<N> for Ping {
    type Result = ();
    fn handle(&mut self, N(x): N, _: &mut Context<Self>) {
        if x >= self.limit {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        } else {
            self.pong.do_send(N(x + 1));
        }
    }
}

async fn w1(n: u64, deadline: Instant) -> Timed {
    let (done_tx, done_rx) = oneshot::channel();
    let pong = Pong { peer: None }.start();
    let ping = Ping {
        pong: pong.clone(),
        limit: n,
        done: Some(done_tx),
    }
    .start();
    pong.do_send(PeerMsg(ping.clone()));
    let start = Instant::now();
    ping.do_send(N(0));
    tokio::time::timeout(left(deadline), done_rx)
        .await
        .or_fail("ping-pong did not finish")?
        .or_fail("ping dropped")?;
    Ok(start.elapsed())
}

// W2 ---------------------------------------------------------------------

/// Counts the messages of W2 (and W6).
struct Counter(Tally<Option<oneshot::Sender<()>>>);
impl Actor for Counter {
    type Context = Context<Self>;
}
impl Handler<N> for Counter {
    type Result = ();
    fn handle(&mut self, _: N, _: &mut Context<Self>) {
        self.0.count();
    }
}

async fn w2(total: u64, deadline: Instant) -> Timed {
    let (done_tx, done_rx) = oneshot::channel();
    let counter = Counter(Tally::new(total, Some(done_tx))).start();
    // Producers report ready, then wait for the clock to start.
    let to = counter.clone();
    let send = move |i| to.do_send(N(i));
    let producers = Producers::spawn(total, true, send, producers::plain)?;
    // The System thread must not block long: the producers are already
    // parked at the barrier, so this returns at once.
    let start = producers.start(deadline)?;
    tokio::time::timeout(left(deadline), done_rx)
        .await
        .or_fail("counter did not see every message")?
        .or_fail("counter dropped")?;
    let elapsed = start.elapsed();
    producers.join()?;
    Ok(elapsed)
}

// W3 ---------------------------------------------------------------------

struct Stop;
impl Message for Stop {
    type Result = ();
}

struct Worker {
    handled: Arc<AtomicU64>,
    exited: tmpsc::UnboundedSender<()>,
}
impl Actor for Worker {
    type Context = Context<Self>;
    fn stopped(&mut self, _: &mut Context<Self>) {
        let _ = self.exited.send(());
    }
}
impl Handler<N> for Worker {
    type Result = ();
    fn handle(&mut self, _: N, _: &mut Context<Self>) {
        self.handled.fetch_add(1, Ordering::Relaxed);
    }
}
impl Handler<Stop> for Worker {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

async fn w3(n: usize, deadline: Instant) -> Timed {
    let handled = Arc::new(AtomicU64::new(0));
    let (exit_tx, mut exit_rx) = tmpsc::unbounded_channel();
    let start = Instant::now();
    let mut addrs = Vec::with_capacity(n);
    for i in 0..n {
        let w = Worker {
            handled: handled.clone(),
            exited: exit_tx.clone(),
        }
        .start();
        w.do_send(N(i as u64));
        w.do_send(Stop);
        addrs.push(w);
    }
    recv_n(&mut exit_rx, n, deadline, "workers did not stop").await?;
    common::all_handled(start.elapsed(), &handled, n)
}

// W4 ---------------------------------------------------------------------

/// No links in actix: each member holds the only address of the next, so
/// when a member stops, the next one's mailbox disconnects and it stops.
struct Member {
    next: Option<Addr<Member>>,
    exited: tmpsc::UnboundedSender<()>,
}
impl Actor for Member {
    type Context = Context<Self>;
    fn stopped(&mut self, _: &mut Context<Self>) {
        self.next = None;
        let _ = self.exited.send(());
    }
}
impl Handler<Stop> for Member {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

async fn w4(n: usize, deadline: Instant) -> Timed {
    let (exit_tx, mut exit_rx) = tmpsc::unbounded_channel();
    let mut next = None;
    for _ in 0..n {
        next = Some(
            Member {
                next,
                exited: exit_tx.clone(),
            }
            .start(),
        );
    }
    let first = next.or_fail("empty chain")?;
    // Let every member start before the clock does.
    tokio::task::yield_now().await;
    let start = Instant::now();
    first.do_send(Stop);
    drop(first);
    recv_n(&mut exit_rx, n, deadline, "chain did not die").await?;
    Ok(start.elapsed())
}

// W5 ---------------------------------------------------------------------

struct Idle {
    ready: tmpsc::UnboundedSender<()>,
}
impl Actor for Idle {
    type Context = Context<Self>;
    fn started(&mut self, _: &mut Context<Self>) {
        let _ = self.ready.send(());
    }
}
impl Handler<N> for Idle {
    type Result = ();
    fn handle(&mut self, _: N, _: &mut Context<Self>) {}
}

pub fn w5(n: usize) -> Res {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        System::new().block_on(async move {
            let (ready_tx, mut ready_rx) = tmpsc::unbounded_channel();
            let mut keep = Vec::with_capacity(n);
            let before = crate::rss::vm_rss_kib();
            for _ in 0..n {
                keep.push(
                    Idle {
                        ready: ready_tx.clone(),
                    }
                    .start(),
                );
            }
            let started = recv_n(
                &mut ready_rx,
                n,
                Instant::now() + Duration::from_secs(60),
                "actors did not start",
            )
            .await;
            let after = crate::rss::vm_rss_kib();
            let _ = tx.send(started.map(|()| after.saturating_sub(before) as f64 / n as f64));
            std::mem::forget(keep);
        });
    });
    rx.recv_timeout(Duration::from_secs(90))
        .or_fail("actix W5 hung")?
}

// W6 ---------------------------------------------------------------------

// W2's counter is the sink: it counts `R10` and ignores `R1`..`R9`.

macro_rules! ignored {
    ($($t:ident),*) => {$(
        #[allow(dead_code)] // never sent: the counter still has its handler
        struct $t(u64);
        impl Message for $t {
            type Result = ();
        }
        impl Handler<$t> for Counter {
            type Result = ();
            fn handle(&mut self, _: $t, _: &mut Context<Self>) {}
        }
    )*};
}
ignored!(R1, R2, R3, R4, R5, R6, R7, R8, R9);

struct R10(#[allow(dead_code)] u64);
impl Message for R10 {
    type Result = ();
}
impl Handler<R10> for Counter {
    type Result = ();
    fn handle(&mut self, _: R10, _: &mut Context<Self>) {
        self.0.count();
    }
}

async fn w6(n: u64, deadline: Instant) -> Timed {
    let (done_tx, done_rx) = oneshot::channel();
    let sink = Counter(Tally::new(n, Some(done_tx))).start();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    // The sender is another thread, as for the other peers.
    let producer = thread::spawn(move || {
        if go_rx.recv().is_ok() {
            for i in 0..n {
                sink.do_send(R10(i));
            }
        }
    });
    let start = Instant::now();
    go_tx.send(()).or_fail("go")?;
    tokio::time::timeout(left(deadline), done_rx)
        .await
        .or_fail("not every message handled")?
        .or_fail("sink dropped")?;
    let elapsed = start.elapsed();
    producer.join().or_fail("producer panicked")?;
    Ok(elapsed)
}
