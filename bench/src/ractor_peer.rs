//! ractor on a tokio multi-thread runtime.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::{Cfg, OrFail, Res, Skip, W, ns_per};

pub fn run(w: W, cfg: &Cfg) -> Res {
    let deadline = Instant::now() + cfg.deadline;
    let rt = runtime()?;
    let res = match w {
        W::W1 => w1(&rt, cfg.w1, deadline).map(|d| ns_per(d, cfg.w1)),
        W::W2 => w2(&rt, cfg.w2, deadline).map(|d| cfg.w2 as f64 / d.as_secs_f64() / 1e6),
        W::W3 => w3(&rt, cfg.w3, deadline).map(|d| ns_per(d, cfg.w3 as u64) / 1e3),
        W::W4 => w4(&rt, cfg.w4, deadline).map(|d| d.as_secs_f64() * 1e3),
        W::W5 => Err(Skip::Failed("W5 runs in a child process".into())),
        W::W6 => w6(&rt, cfg.w6, deadline).map(|d| ns_per(d, cfg.w6)),
    };
    rt.shutdown_timeout(Duration::from_secs(5));
    res
}

fn runtime() -> Result<Runtime, Skip> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .or_fail("tokio runtime")
}

fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
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

// W1 ---------------------------------------------------------------------

enum PongMsg {
    Peer(ActorRef<u64>),
    N(u64),
}

struct Pong;

impl Actor for Pong {
    type Msg = PongMsg;
    type State = Option<ActorRef<u64>>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<PongMsg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(None)
    }

    async fn handle(
        &self,
        _: ActorRef<PongMsg>,
        msg: PongMsg,
        peer: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PongMsg::Peer(p) => *peer = Some(p),
            PongMsg::N(x) => {
                if let Some(p) = peer {
                    let _ = p.cast(x);
                }
            }
        }
        Ok(())
    }
}

struct Ping;

struct PingState {
    pong: ActorRef<PongMsg>,
    limit: u64,
    done: mpsc::Sender<()>,
}

impl Actor for Ping {
    type Msg = u64;
    type State = PingState;
    type Arguments = PingState;

    async fn pre_start(
        &self,
        _: ActorRef<u64>,
        args: PingState,
    ) -> Result<PingState, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _: ActorRef<u64>,
        x: u64,
        s: &mut PingState,
    ) -> Result<(), ActorProcessingErr> {
        if x >= s.limit {
            let _ = s.done.send(());
        } else {
            let _ = s.pong.cast(PongMsg::N(x + 1));
        }
        Ok(())
    }
}

fn w1(rt: &Runtime, n: u64, deadline: Instant) -> Result<Duration, Skip> {
    let (done_tx, done_rx) = mpsc::channel();
    let (pong, ping, handles) = rt.block_on(async {
        let (pong, h1) = Actor::spawn(None, Pong, ()).await.or_fail("spawn pong")?;
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

struct CounterState {
    seen: u64,
    total: u64,
    done: mpsc::Sender<()>,
}

impl Actor for Counter {
    type Msg = u64;
    type State = CounterState;
    type Arguments = CounterState;

    async fn pre_start(
        &self,
        _: ActorRef<u64>,
        args: CounterState,
    ) -> Result<CounterState, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _: ActorRef<u64>,
        _x: u64,
        s: &mut CounterState,
    ) -> Result<(), ActorProcessingErr> {
        s.seen += 1;
        if s.seen == s.total {
            let _ = s.done.send(());
        }
        Ok(())
    }
}

fn w2(rt: &Runtime, total: u64, deadline: Instant) -> Result<Duration, Skip> {
    let (done_tx, done_rx) = mpsc::channel();
    let state = CounterState {
        seen: 0,
        total,
        done: done_tx,
    };
    let (counter, handle) = rt
        .block_on(Actor::spawn(None, Counter, state))
        .or_fail("spawn counter")?;
    // Producers report ready, then wait for the clock to start.
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let barrier = Arc::new(Barrier::new(3));
    let producers: Vec<_> = [total / 2, total - total / 2]
        .into_iter()
        .map(|count| {
            let counter = counter.clone();
            let barrier = barrier.clone();
            let ready = ready_tx.clone();
            thread::spawn(move || {
                let _ = ready.send(());
                barrier.wait();
                for i in 0..count {
                    let _ = counter.cast(i);
                }
            })
        })
        .collect();
    crate::recv_n(&ready_rx, 2, deadline, "producers not ready")?;
    let start = Instant::now();
    barrier.wait();
    done_rx
        .recv_timeout(left(deadline))
        .or_fail("counter did not see every message")?;
    let elapsed = start.elapsed();
    for p in producers {
        p.join().or_fail("producer panicked")?;
    }
    counter.stop(None);
    rt.block_on(join_all(vec![handle], deadline))?;
    Ok(elapsed)
}

// W3 ---------------------------------------------------------------------

struct Worker;

impl Actor for Worker {
    type Msg = u64;
    type State = Arc<AtomicU64>;
    type Arguments = Arc<AtomicU64>;

    async fn pre_start(
        &self,
        _: ActorRef<u64>,
        args: Arc<AtomicU64>,
    ) -> Result<Arc<AtomicU64>, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _: ActorRef<u64>,
        _x: u64,
        handled: &mut Arc<AtomicU64>,
    ) -> Result<(), ActorProcessingErr> {
        handled.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn w3(rt: &Runtime, n: usize, deadline: Instant) -> Result<Duration, Skip> {
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
    let elapsed = start.elapsed();
    if handled.load(Ordering::SeqCst) != n as u64 {
        return Err(Skip::Failed("not every message handled".into()));
    }
    Ok(elapsed)
}

// W4 ---------------------------------------------------------------------

/// A chain member; each one supervises the member before it, and the
/// default supervision stops a supervisor when its child stops or fails.
struct Member;

impl Actor for Member {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<()>, _: (), _: &mut ()) -> Result<(), ActorProcessingErr> {
        Err("killed".into())
    }
}

fn w4(rt: &Runtime, n: usize, deadline: Instant) -> Result<Duration, Skip> {
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
    let rt = runtime()?;
    let handled = Arc::new(AtomicU64::new(0));
    let mut keep = Vec::with_capacity(n);
    let per = crate::rss_per_process(n, || {
        rt.block_on(async {
            for _ in 0..n {
                keep.push(
                    Actor::spawn(None, Worker, handled.clone())
                        .await
                        .or_fail("spawn")?,
                );
            }
            Ok(())
        })
    });
    std::mem::forget(keep);
    std::mem::forget(rt);
    per
}

// W6 ---------------------------------------------------------------------

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

struct Sink;

impl Actor for Sink {
    type Msg = Ten;
    type State = CounterState;
    type Arguments = CounterState;

    async fn pre_start(
        &self,
        _: ActorRef<Ten>,
        args: CounterState,
    ) -> Result<CounterState, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _: ActorRef<Ten>,
        msg: Ten,
        s: &mut CounterState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Ten::R1(_) | Ten::R2(_) | Ten::R3(_) | Ten::R4(_) | Ten::R5(_) => {}
            Ten::R6(_) | Ten::R7(_) | Ten::R8(_) | Ten::R9(_) => {}
            Ten::R10(_) => {
                s.seen += 1;
                if s.seen == s.total {
                    let _ = s.done.send(());
                }
            }
        }
        Ok(())
    }
}

fn w6(rt: &Runtime, n: u64, deadline: Instant) -> Result<Duration, Skip> {
    let (done_tx, done_rx) = mpsc::channel();
    let state = CounterState {
        seen: 0,
        total: n,
        done: done_tx,
    };
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
