//! ractor on a tokio multi-thread runtime.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::common::{self, Tally, Ten, Timed, left};
use crate::producers::{self, Producers};
use crate::tokio_peer::{self, TokioPeer};
use crate::{Cfg, OrFail, Res, Skip, W};

pub fn run(w: W, cfg: &Cfg) -> Res {
    TokioPeer { w1, w2, w3, w4, w6 }.run(w, cfg)
}

async fn join_all(handles: Vec<JoinHandle<()>>, deadline: Instant) -> Result<(), Skip> {
    for h in handles {
        tokio::time::timeout(left(deadline), h)
            .await
            .or_fail("actor did not stop before the deadline")?
            .or_fail("actor task failed")?;
    }
    Ok(())
}

/// `impl Actor for $actor`: its state is its arguments, and
/// `|msg, state| body` handles a message.
macro_rules! actor {
    ($actor:ident, $msg:ty, $state:ty, |$m:pat_param, $s:pat_param| $body:expr) => {
        impl Actor for $actor {
            type Msg = $msg;
            type State = $state;
            type Arguments = $state;

            async fn pre_start(
                &self,
                _: ActorRef<$msg>,
                args: $state,
            ) -> Result<$state, ActorProcessingErr> {
                Ok(args)
            }

            async fn handle(
                &self,
                _: ActorRef<$msg>,
                $m: $msg,
                $s: &mut $state,
            ) -> Result<(), ActorProcessingErr> {
                $body
            }
        }
    };
}

// W1 ---------------------------------------------------------------------

enum PongMsg {
    Peer(ActorRef<u64>),
    N(u64),
}

struct Pong;

actor!(Pong, PongMsg, Option<ActorRef<u64>>, |msg, peer| {
    match msg {
        PongMsg::Peer(p) => *peer = Some(p),
        PongMsg::N(x) => {
            if let Some(p) = peer {
                let _ = p.cast(x);
            }
        }
    }
    Ok(())
});

struct Ping;

struct PingState {
    pong: ActorRef<PongMsg>,
    limit: u64,
    done: mpsc::Sender<()>,
}

actor!(Ping, u64, PingState, |x, s| {
    if x >= s.limit {
        let _ = s.done.send(());
    } else {
        let _ = s.pong.cast(PongMsg::N(x + 1));
    }
    Ok(())
});

fn w1(rt: &Runtime, n: u64, deadline: Instant) -> Timed {
    let (done_tx, done_rx) = mpsc::channel();
    let (pong, ping, handles) = rt.block_on(async {
        let (pong, h1) = Actor::spawn(None, Pong, None).await.or_fail("spawn pong")?;
        let state = PingState {
            pong: pong.clone(),
            limit: n,
            done: done_tx,
        };
        let (ping, h2) = Actor::spawn(None, Ping, state)
            .await
            .or_fail("spawn ping")?;
        pong.cast(PongMsg::Peer(ping.clone())).or_fail("peer")?;
        Ok::<_, Skip>((pong, ping, vec![h1, h2]))
    })?;
    let start = Instant::now();
    ping.cast(0).or_fail("kick")?;
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("ping-pong did not finish")?;
    let elapsed = start.elapsed();
    ping.stop(None);
    pong.stop(None);
    rt.block_on(join_all(handles, deadline))?;
    Ok(elapsed)
}

// W2 ---------------------------------------------------------------------

struct Counter;

actor!(Counter, u64, Tally<mpsc::Sender<()>>, |_x, s| {
    s.count();
    Ok(())
});

fn w2(rt: &Runtime, total: u64, deadline: Instant) -> Timed {
    let (done_tx, done_rx) = mpsc::channel();
    let state = Tally::new(total, done_tx);
    let (counter, handle) = rt
        .block_on(Actor::spawn(None, Counter, state))
        .or_fail("spawn counter")?;
    // Producers report ready, then wait for the clock to start.
    let to = counter.clone();
    let send = move |i| {
        let _ = to.cast(i);
    };
    let producers = Producers::spawn(total, true, send, producers::plain)?;
    let elapsed = producers.run_until(&done_rx, deadline)?;
    counter.stop(None);
    rt.block_on(join_all(vec![handle], deadline))?;
    Ok(elapsed)
}

// W3 ---------------------------------------------------------------------

struct Worker;

actor!(Worker, u64, Arc<AtomicU64>, |_x, handled| {
    handled.fetch_add(1, Ordering::Relaxed);
    Ok(())
});

fn w3(rt: &Runtime, n: usize, deadline: Instant) -> Timed {
    let handled = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    rt.block_on(async {
        let mut handles = Vec::with_capacity(n);
        let mut refs = Vec::with_capacity(n);
        for i in 0..n {
            let (actor, h) = Actor::spawn(None, Worker, handled.clone())
                .await
                .or_fail("spawn")?;
            actor.cast(i as u64).or_fail("send")?;
            // drain(): stop once what is queued now has been handled.
            actor.drain().or_fail("drain")?;
            handles.push(h);
            refs.push(actor);
        }
        join_all(handles, deadline).await
    })?;
    common::all_handled(start.elapsed(), &handled, n)
}

// W4 ---------------------------------------------------------------------

/// A chain member; each one supervises the member before it, and the
/// default supervision stops a supervisor when its child stops or fails.
struct Member;

actor!(Member, (), (), |_, _| Err("killed".into()));

fn w4(rt: &Runtime, n: usize, deadline: Instant) -> Timed {
    let (first, handles) = rt.block_on(async {
        let mut handles = Vec::with_capacity(n);
        let (mut next, h) = Actor::spawn(None, Member, ()).await.or_fail("spawn")?;
        handles.push(h);
        for _ in 1..n {
            let (actor, h) = Actor::spawn_linked(None, Member, (), next.get_cell())
                .await
                .or_fail("spawn linked")?;
            handles.push(h);
            next = actor;
        }
        Ok::<_, Skip>((next, handles))
    })?;
    let start = Instant::now();
    first.cast(()).or_fail("kill")?;
    rt.block_on(join_all(handles, deadline))?;
    Ok(start.elapsed())
}

// W5 ---------------------------------------------------------------------

pub fn w5(n: usize) -> Res {
    tokio_peer::w5(n, async |keep, handled| {
        for _ in 0..n {
            keep.push(
                Actor::spawn(None, Worker, handled.clone())
                    .await
                    .or_fail("spawn")?,
            );
        }
        Ok(())
    })
}

// W6 ---------------------------------------------------------------------

struct Sink;

actor!(Sink, Ten, Tally<mpsc::Sender<()>>, |msg, s| {
    match msg {
        Ten::R1(_) | Ten::R2(_) | Ten::R3(_) | Ten::R4(_) | Ten::R5(_) => {}
        Ten::R6(_) | Ten::R7(_) | Ten::R8(_) | Ten::R9(_) => {}
        Ten::R10(_) => s.count(),
    }
    Ok(())
});

fn w6(rt: &Runtime, n: u64, deadline: Instant) -> Timed {
    let (done_tx, done_rx) = mpsc::channel();
    let state = Tally::new(n, done_tx);
    let (sink, handle) = rt
        .block_on(Actor::spawn(None, Sink, state))
        .or_fail("spawn sink")?;
    let start = Instant::now();
    for i in 0..n {
        sink.cast(Ten::R10(i)).or_fail("send")?;
    }
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("not every message handled")?;
    let elapsed = start.elapsed();
    sink.stop(None);
    rt.block_on(join_all(vec![handle], deadline))?;
    Ok(elapsed)
}
