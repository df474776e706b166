//! kameo on a tokio multi-thread runtime, unbounded mailboxes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use kameo::error::Infallible;
use kameo::prelude::*;
use tokio::runtime::Runtime;

use crate::common::{self, Tally, Timed, left};
use crate::producers::{self, Producers};
use crate::tokio_peer::{self, TokioPeer};
use crate::{Cfg, OrFail, Res, Skip, W};

pub fn run(w: W, cfg: &Cfg) -> Res {
    TokioPeer { w1, w2, w3, w4, w6 }.run(w, cfg)
}

fn spawn<A: Actor>(args: A::Args) -> ActorRef<A> {
    A::spawn_with_mailbox(args, mailbox::unbounded())
}

async fn stop_all<A: Actor>(refs: &[ActorRef<A>], deadline: Instant) -> Result<(), Skip> {
    for r in refs {
        let _ = r.stop_gracefully().await;
    }
    wait_all(refs, deadline).await
}

async fn wait_all<A: Actor>(refs: &[ActorRef<A>], deadline: Instant) -> Result<(), Skip> {
    for r in refs {
        tokio::time::timeout(left(deadline), r.wait_for_shutdown())
            .await
            .or_fail("actor did not stop before the deadline")?;
    }
    Ok(())
}

/// Start-up that takes the actor value itself as its arguments.
macro_rules! plain_actor {
    ($t:ty) => {
        impl Actor for $t {
            type Args = Self;
            type Error = Infallible;

            async fn on_start(args: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
                Ok(args)
            }
        }
    };
}

// W1 ---------------------------------------------------------------------

struct N(u64);
struct Peer(ActorRef<Ping>);

struct Pong {
    peer: Option<ActorRef<Ping>>,
}
plain_actor!(Pong);

impl Message<Peer> for Pong {
    type Reply = ();
    async fn handle(&mut self, Peer(p): Peer, _: &mut Context<Self, ()>) {
        self.peer = Some(p);
    }
}

impl Message<N> for Pong {
    type Reply = ();
    async fn handle(&mut self, N(x): N, _: &mut Context<Self, ()>) {
        if let Some(p) = &self.peer {
            let _ = p.tell(N(x)).await;
        }
    }
}

struct Ping {
    pong: ActorRef<Pong>,
    limit: u64,
    done: mpsc::Sender<()>,
}
plain_actor!(Ping);

impl Message<N> for Ping {
    type Reply = ();
    async fn handle(&mut self, N(x): N, _: &mut Context<Self, ()>) {
        if x >= self.limit {
            let _ = self.done.send(());
        } else {
            let _ = self.pong.tell(N(x + 1)).await;
        }
    }
}

fn w1(rt: &Runtime, n: u64, deadline: Instant) -> Timed {
    let (done_tx, done_rx) = mpsc::channel();
    let (pong, ping) = rt.block_on(async {
        let pong = spawn::<Pong>(Pong { peer: None });
        let ping = spawn::<Ping>(Ping {
            pong: pong.clone(),
            limit: n,
            done: done_tx,
        });
        pong.tell(Peer(ping.clone())).await.or_fail("peer")?;
        Ok::<_, Skip>((pong, ping))
    })?;
    let start = Instant::now();
    ping.tell(N(0)).try_send().or_fail("kick")?;
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("ping-pong did not finish")?;
    let elapsed = start.elapsed();
    rt.block_on(async {
        stop_all(&[ping], deadline).await?;
        stop_all(&[pong], deadline).await
    })?;
    Ok(elapsed)
}

// W2 ---------------------------------------------------------------------

/// Counts the messages of W2 (and W6).
struct Counter(Tally<mpsc::Sender<()>>);
plain_actor!(Counter);

impl Message<u64> for Counter {
    type Reply = ();
    async fn handle(&mut self, _x: u64, _: &mut Context<Self, ()>) {
        self.0.count();
    }
}

fn w2(rt: &Runtime, total: u64, deadline: Instant) -> Timed {
    let (done_tx, done_rx) = mpsc::channel();
    let counter = rt.block_on(async { spawn::<Counter>(Counter(Tally::new(total, done_tx))) });
    // Producers report ready, then wait for the clock to start.
    let to = counter.clone();
    let send = move |i| {
        let _ = to.tell(i).try_send();
    };
    let producers = Producers::spawn(total, true, send, producers::plain)?;
    let elapsed = producers.run_until(&done_rx, deadline)?;
    rt.block_on(stop_all(&[counter], deadline))?;
    Ok(elapsed)
}

// W3 ---------------------------------------------------------------------

struct Worker {
    handled: Arc<AtomicU64>,
}
plain_actor!(Worker);

impl Message<u64> for Worker {
    type Reply = ();
    async fn handle(&mut self, _x: u64, _: &mut Context<Self, ()>) {
        self.handled.fetch_add(1, Ordering::Relaxed);
    }
}

fn w3(rt: &Runtime, n: usize, deadline: Instant) -> Timed {
    let handled = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    rt.block_on(async {
        let mut refs = Vec::with_capacity(n);
        for i in 0..n {
            let w = spawn::<Worker>(Worker {
                handled: handled.clone(),
            });
            w.tell(i as u64).await.or_fail("send")?;
            // Queued behind the message.
            w.stop_gracefully().await.or_fail("stop")?;
            refs.push(w);
        }
        wait_all(&refs, deadline).await
    })?;
    common::all_handled(start.elapsed(), &handled, n)
}

// W4 ---------------------------------------------------------------------

/// A chain member: linked both ways to its neighbours; the default
/// `on_link_died` stops it when a link dies abnormally.
struct Member;
plain_actor!(Member);

fn w4(rt: &Runtime, n: usize, deadline: Instant) -> Timed {
    let refs = rt.block_on(async {
        let refs: Vec<ActorRef<Member>> = (0..n).map(|_| spawn::<Member>(Member)).collect();
        for r in &refs {
            r.wait_for_startup().await;
        }
        for pair in refs.windows(2) {
            pair[0].link(&pair[1]).await;
        }
        refs
    });
    let start = Instant::now();
    refs[0].kill();
    rt.block_on(wait_all(&refs, deadline))?;
    Ok(start.elapsed())
}

// W5 ---------------------------------------------------------------------

pub fn w5(n: usize) -> Res {
    tokio_peer::w5(n, async |keep, handled| {
        for _ in 0..n {
            keep.push(spawn::<Worker>(Worker {
                handled: handled.clone(),
            }));
        }
        for r in keep.iter() {
            r.wait_for_startup().await;
        }
        Ok(())
    })
}

// W6 ---------------------------------------------------------------------

// W2's counter is the sink: it counts `R10` and ignores `R1`..`R9`.

macro_rules! ignored {
    ($($t:ident),*) => {$(
        #[allow(dead_code)] // never sent: the counter still has its handler
        struct $t(u64);
        impl Message<$t> for Counter {
            type Reply = ();
            async fn handle(&mut self, _: $t, _: &mut Context<Self, ()>) {}
        }
    )*};
}
ignored!(R1, R2, R3, R4, R5, R6, R7, R8, R9);

struct R10(#[allow(dead_code)] u64);

impl Message<R10> for Counter {
    type Reply = ();
    async fn handle(&mut self, _: R10, _: &mut Context<Self, ()>) {
        self.0.count();
    }
}

fn w6(rt: &Runtime, n: u64, deadline: Instant) -> Timed {
    let (done_tx, done_rx) = mpsc::channel();
    let sink = rt.block_on(async { spawn::<Counter>(Counter(Tally::new(n, done_tx))) });
    let start = Instant::now();
    for i in 0..n {
        sink.tell(R10(i)).try_send().or_fail("send")?;
    }
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("not every message handled")?;
    let elapsed = start.elapsed();
    rt.block_on(stop_all(&[sink], deadline))?;
    Ok(elapsed)
}
