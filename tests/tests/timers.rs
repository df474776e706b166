//! Timers: `send_after`, `send_interval` and `cancel_timer`, and the
//! receive timeout, for every kind and both receiver forms; a pending
//! timer keeps its process reachable, a receive timeout does not.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use paragram::{
    BoxError, Ctx, Kind, Pid, ReceiveTimeout, Root, Spawn, TimerRef, cancel_timer, pattern,
    send_after, send_interval,
};
use paragram_tests::{DEADLINE, ended, recv};
use serde::{Deserialize, Serialize};

const KINDS: [Kind; 2] = [Kind::THREAD, Kind::SCHEDULER];

/// A process of `kind` that reports every string it receives, with the
/// time it came.
fn reporter(root: &Root, kind: Kind) -> (Pid, mpsc::Receiver<(String, Instant)>) {
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(
            Spawn::from_fn(move |ctx| {
                ctx.receive(pattern!(String), move |_, (text,): (String,)| {
                    let _ = tx.send((text, Instant::now()));
                })
            })
            .kind(kind),
        )
        .unwrap();
    (pid, rx)
}

#[test]
fn send_after_delivers_once_after_the_delay_and_cancel_takes_it_back() {
    for kind in KINDS {
        let root = Root::new();
        let (pid, rx) = reporter(&root, kind);
        let delay = Duration::from_millis(30);
        let sent = Instant::now();
        let _fired = send_after(delay, &pid, "late".to_string());
        let taken_back = send_after(Duration::from_millis(10), &pid, "never".to_string());
        assert!(cancel_timer(taken_back), "a pending timer cancels");
        assert!(!cancel_timer(taken_back), "a cancelled timer is gone");
        let (text, at) = recv(&rx);
        assert_eq!(text, "late");
        assert!(at - sent >= delay, "{kind:?}: fired after {:?}", at - sent);
        // A later timer brings the proof that nothing else came.
        send_after(Duration::from_millis(40), &pid, "sync".to_string());
        assert_eq!(recv(&rx).0, "sync", "{kind:?}: a cancelled timer fired");
        pid.terminate();
        ended(&pid);
    }
}

#[test]
fn cancelling_a_fired_timer_says_so() {
    let root = Root::new();
    let (pid, rx) = reporter(&root, Kind::SCHEDULER);
    let timer = send_after(Duration::ZERO, &pid, "now".to_string());
    assert_eq!(recv(&rx).0, "now");
    assert!(!cancel_timer(timer));
    pid.terminate();
    ended(&pid);
}

#[test]
fn send_interval_repeats_until_cancelled() {
    for kind in KINDS {
        let root = Root::new();
        let (pid, rx) = reporter(&root, kind);
        let period = Duration::from_millis(5);
        let started = Instant::now();
        let timer = send_interval(period, &pid, "tick".to_string());
        let mut last = started;
        for n in 1..=5u32 {
            let (text, at) = recv(&rx);
            assert_eq!(text, "tick");
            assert!(
                at - started >= period * n,
                "{kind:?}: tick {n} after {:?}",
                at - started
            );
            last = at;
        }
        assert!(last > started);
        assert!(cancel_timer(timer), "a running interval cancels");
        // A tick already being sent as the cancel came may still arrive;
        // none is sent after.
        send_after(Duration::ZERO, &pid, "sync".to_string());
        while recv(&rx).0 != "sync" {}
        send_after(period * 10, &pid, "sync again".to_string());
        assert_eq!(
            recv(&rx).0,
            "sync again",
            "{kind:?}: a tick came after the cancel"
        );
        assert!(!cancel_timer(timer));
        pid.terminate();
        ended(&pid);
    }
}

#[test]
fn an_interval_keeps_its_process_reachable_until_cancelled() {
    for kind in KINDS {
        let root = Root::new();
        let (pid, rx) = reporter(&root, kind);
        let timer = send_interval(Duration::from_millis(1), &pid, "tick".to_string());
        drop(pid);
        for _ in 0..3 {
            assert_eq!(recv(&rx).0, "tick", "{kind:?}");
        }
        // The cancel drops the interval's handle, the last one: the
        // process ends, and its sender goes with it.
        assert!(cancel_timer(timer));
        let end = loop {
            match rx.recv_timeout(DEADLINE) {
                Ok((text, _)) => assert_eq!(text, "tick"),
                Err(end) => break end,
            }
        };
        assert_eq!(end, mpsc::RecvTimeoutError::Disconnected, "{kind:?}");
    }
}

#[test]
fn a_pending_timer_keeps_its_process_reachable_until_it_fires() {
    for kind in KINDS {
        let root = Root::new();
        let (pid, rx) = reporter(&root, kind);
        send_after(
            Duration::from_millis(20),
            &pid,
            "from the timer".to_string(),
        );
        drop(pid);
        assert_eq!(recv(&rx).0, "from the timer", "{kind:?}");
        // Then nothing reaches it: it ends, and its sender goes with it.
        assert_eq!(
            rx.recv_timeout(DEADLINE),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
    }
}

/// A process that times out after `after` of quiet, reporting each
/// timeout with the time it came.
fn sleeper(root: &Root, kind: Kind, after: Duration) -> (Pid, mpsc::Receiver<Instant>) {
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(
            Spawn::from_fn(move |ctx| {
                ctx.set_receive_timeout(after);
                ctx.receive(
                    pattern!(ReceiveTimeout),
                    move |_, (timeout,): (ReceiveTimeout,)| {
                        assert_eq!(timeout.after(), after);
                        let _ = tx.send(Instant::now());
                    },
                )
            })
            .kind(kind),
        )
        .unwrap();
    (pid, rx)
}

/// Takes `n` reports of a time from `rx`, each at least `after` after the
/// one before (the first after `since`).
fn assert_apart(
    rx: &mpsc::Receiver<Instant>,
    since: Instant,
    after: Duration,
    n: usize,
    kind: Kind,
) {
    let mut previous = since;
    for _ in 0..n {
        let at = recv(rx);
        assert!(
            at - previous >= after,
            "{kind:?}: {:?} apart",
            at - previous
        );
        previous = at;
    }
}

#[test]
fn a_receive_timeout_fires_after_quiet_and_again_after_each_run() {
    for kind in KINDS {
        let root = Root::new();
        let after = Duration::from_millis(20);
        let (pid, rx) = sleeper(&root, kind, after);
        assert_apart(&rx, Instant::now(), after, 3, kind);
        pid.terminate();
        ended(&pid);
    }
}

#[test]
fn each_message_starts_the_receive_timeout_again() {
    for kind in KINDS {
        let root = Root::new();
        // Far longer than the pokes' period, so that a loaded machine's
        // late tick does not let the timeout in between.
        let after = Duration::from_millis(400);
        let (tx, rx) = mpsc::channel();
        let pid = root
            .spawn(
                Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                    ctx.set_receive_timeout(after);
                    let timeouts = tx.clone();
                    ctx.receive(
                        pattern!(ReceiveTimeout),
                        move |ctx, (_,): (ReceiveTimeout,)| {
                            let _ = timeouts.send(("timeout", Instant::now()));
                            ctx.cancel_receive_timeout();
                        },
                    )?;
                    let mut pokes = 0;
                    let mut interval = None;
                    ctx.receive(pattern!("poke"), move |ctx, ()| {
                        pokes += 1;
                        let _ = tx.send(("poke", Instant::now()));
                        match pokes {
                            1 => {
                                interval = Some(send_interval(
                                    Duration::from_millis(10),
                                    &ctx.me(),
                                    "poke",
                                ))
                            }
                            40 => {
                                cancel_timer(interval.take().expect("the interval runs"));
                            }
                            _ => {}
                        }
                    })?;
                    Ok(())
                })
                .kind(kind),
            )
            .unwrap();
        let poked = Instant::now();
        pid.send("poke").unwrap();
        let mut last_poke = poked;
        loop {
            let (what, at) = recv(&rx);
            if what == "timeout" {
                assert!(
                    at - last_poke >= after,
                    "{kind:?}: timed out {:?} after the last poke",
                    at - last_poke
                );
                break;
            }
            last_poke = at;
        }
        // 40 pokes over at least 390 ms came before the timeout: each one
        // started the wait again.
        assert!(last_poke - poked >= Duration::from_millis(390), "{kind:?}");
        pid.terminate();
        ended(&pid);
    }
}

#[test]
fn a_receive_timeout_does_not_keep_its_process_reachable() {
    for kind in KINDS {
        let root = Root::new();
        let (tx, rx) = mpsc::channel::<()>();
        let pid = root
            .spawn(
                Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                    ctx.set_receive_timeout(Duration::from_secs(3600));
                    ctx.receive(
                        pattern!(ReceiveTimeout),
                        move |_, (_,): (ReceiveTimeout,)| {
                            let _ = &tx;
                        },
                    )?;
                    Ok(())
                })
                .kind(kind),
            )
            .unwrap();
        drop(pid);
        assert_eq!(
            rx.recv_timeout(DEADLINE),
            Err(mpsc::RecvTimeoutError::Disconnected),
            "{kind:?}"
        );
    }
}

#[test]
fn an_unreceived_timeout_is_an_unhandled_message() {
    let root = Root::new();
    let pid = root
        .spawn(|ctx: &mut Ctx| ctx.set_receive_timeout(Duration::from_millis(5)))
        .unwrap();
    assert_eq!(
        ended(&pid).to_string(),
        "unhandled message: (<paragram::timers::ReceiveTimeout>,)"
    );
}

#[test]
fn a_hundred_thousand_timers_fire_or_cancel_exactly_once() {
    const TIMERS: u32 = 100_000;
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(Spawn::from_fn(move |ctx| {
            let mut seen = vec![false; TIMERS as usize];
            let mut count = 0u32;
            ctx.receive(pattern!("timer", u32), move |_, (n,): (u32,)| {
                assert!(
                    !std::mem::replace(&mut seen[n as usize], true),
                    "timer {n} fired twice"
                );
                count += 1;
                if count == TIMERS / 2 {
                    let _ = tx.send(seen.clone());
                }
            })
        }))
        .unwrap();
    // The odd ones far enough ahead that a loaded machine cancels them
    // all before they are due; the even ones spread over 100 ms.
    let timers: Vec<TimerRef> = (0..TIMERS)
        .map(|n| {
            let delay = if n % 2 == 1 {
                Duration::from_secs(60)
            } else {
                Duration::from_millis(u64::from(n % 100))
            };
            send_after(delay, &pid, ("timer", n))
        })
        .collect();
    let cancelled = timers
        .iter()
        .enumerate()
        .filter(|(n, timer)| n % 2 == 1 && cancel_timer(**timer))
        .count();
    assert_eq!(
        cancelled,
        TIMERS as usize / 2,
        "every odd timer was still pending"
    );
    let seen = recv(&rx);
    for (n, seen) in seen.iter().enumerate() {
        assert_eq!(*seen, n % 2 == 0, "timer {n}");
    }
    pid.terminate();
    ended(&pid);
}

/// A compiled process that counts its receive timeouts and reports the
/// count on each, in any kind, the OS-process kind included.
#[derive(paragram::Process, Serialize, Deserialize)]
struct Dozer {
    report_to: Pid,
    timeouts: u32,
}

#[paragram::process]
impl Dozer {
    #[start]
    fn start(&mut self, ctx: &mut Ctx) {
        ctx.set_receive_timeout(Duration::from_millis(10));
    }

    #[receive(ReceiveTimeout)]
    fn dozed(&mut self, ctx: &mut Ctx, _timeout: ReceiveTimeout) -> Result<(), BoxError> {
        self.timeouts += 1;
        if self.timeouts == 3 {
            ctx.cancel_receive_timeout();
        }
        self.report_to.send(("dozed", self.timeouts))?;
        Ok(())
    }
}

#[paragram::test]
fn compiled_receivers_take_timeouts_in_every_kind() {
    paragram::os_process::hook(|r| {
        r.register::<Dozer>();
    });
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let report_to = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("dozed", u32), move |_, (n,): (u32,)| {
                let _ = tx.send(n);
            })
        }))
        .unwrap();
    for spawn in [
        Spawn::new(Dozer {
            report_to: report_to.clone(),
            timeouts: 0,
        })
        .kind(Kind::THREAD),
        Spawn::new(Dozer {
            report_to: report_to.clone(),
            timeouts: 0,
        })
        .kind(Kind::SCHEDULER),
        Spawn::os_process(Dozer {
            report_to: report_to.clone(),
            timeouts: 0,
        }),
    ] {
        let pid = root.spawn(spawn).unwrap();
        assert_eq!([recv(&rx), recv(&rx), recv(&rx)], [1, 2, 3]);
        // Cancelled after the third: the next report is the sync's.
        send_after(Duration::from_millis(50), &report_to, ("dozed", 0u32));
        assert_eq!(recv(&rx), 0, "{pid:?} timed out after its cancel");
        pid.terminate();
        ended(&pid);
    }
    report_to.terminate();
    ended(&report_to);
}

#[test]
fn a_receive_timeout_set_again_after_a_cancel_runs_once() {
    for kind in KINDS {
        let root = Root::new();
        let after = Duration::from_millis(20);
        let (tx, rx) = mpsc::channel();
        let pid = root
            .spawn(
                Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                    ctx.set_receive_timeout(after);
                    ctx.receive(
                        pattern!(ReceiveTimeout),
                        move |_, (_,): (ReceiveTimeout,)| {
                            let _ = tx.send(Instant::now());
                        },
                    )?;
                    // Busy past the timeout (so that its wake-up is queued
                    // behind), then the idiom that resets it.
                    ctx.receive(pattern!("busy"), move |ctx, ()| {
                        std::thread::sleep(after * 2);
                        ctx.cancel_receive_timeout();
                        ctx.set_receive_timeout(after);
                    })?;
                    Ok(())
                })
                .kind(kind),
            )
            .unwrap();
        for _ in 0..10 {
            pid.send("busy").unwrap();
        }
        // One timeout chain: consecutive timeouts come at least `after`
        // apart (each run starts the wait again); piled-up chains would
        // bring several within one period.
        let first = recv(&rx);
        assert_apart(&rx, first, after, 5, kind);
        pid.terminate();
        ended(&pid);
    }
}

#[test]
fn timers_past_the_clocks_end_never_fire_and_cancel() {
    let root = Root::new();
    let (pid, _rx) = reporter(&root, Kind::SCHEDULER);
    let timer = send_after(Duration::MAX, &pid, "never".to_string());
    assert!(cancel_timer(timer));
    let interval = send_interval(Duration::MAX, &pid, "never".to_string());
    assert!(cancel_timer(interval));
    pid.terminate();
    ended(&pid);
}
