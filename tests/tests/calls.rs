//! Calls: a reply within the timeout, at once an error when the callee
//! dies or has died, never a late reply left behind, no call to oneself;
//! blocking and `async`, runtime and compiled receivers, every
//! in-process kind.

use std::collections::HashMap;
use std::future::Future;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use paragram::{
    BoxError, CallError, Ctx, Killed, Kind, Pid, Process, ReplyTo, Root, Spawn, pattern,
};
use paragram_tests::{DEADLINE, Fault, ended, recv};

const KINDS: [Kind; 2] = [Kind::THREAD, Kind::SCHEDULER];

/// Long enough that a call that waited for it would fail the test's own
/// deadline: a call that ends early has not waited for its timeout.
const LONG: Duration = Duration::from_secs(60);

/// A key-value store, with compiled receivers: `get` replies, `put`
/// replies `"ok"`, `"crash"` fails while the caller waits, `"ignore"`
/// drops the request unanswered, `"later"` keeps the request and answers
/// it on the next `"now"`.
#[derive(Process, Default)]
struct Store {
    values: HashMap<String, u64>,
    kept: Option<ReplyTo>,
}

#[paragram::process]
impl Store {
    #[receive(ReplyTo, "get", String)]
    fn get(&mut self, from: ReplyTo, key: String) {
        from.reply(self.values.get(&key).copied().unwrap_or(0));
    }

    #[receive(ReplyTo, "put", String, u64)]
    fn put(&mut self, from: ReplyTo, key: String, value: u64) {
        self.values.insert(key, value);
        from.reply("ok");
    }

    #[receive(ReplyTo, "crash")]
    fn crash(&mut self, _from: ReplyTo) -> Result<(), BoxError> {
        Err(Fault { code: 7 }.into())
    }

    #[receive(ReplyTo, "ignore")]
    fn ignore(&mut self, _from: ReplyTo) {}

    #[receive(ReplyTo, "later")]
    fn later(&mut self, from: ReplyTo) {
        self.kept = Some(from);
    }

    #[receive("now", Pid)]
    fn now(&mut self, report_to: Pid) -> Result<(), BoxError> {
        let kept = self.kept.take().ok_or("nothing kept")?;
        // The caller has given up: the reply is dropped.
        report_to.send(("replied", kept.reply("late")))?;
        Ok(())
    }
}

#[test]
fn a_call_gets_its_reply_in_every_kind_and_receiver_form() {
    for kind in KINDS {
        let root = Root::new();
        let store = root.spawn(Spawn::new(Store::default()).kind(kind)).unwrap();
        let reply = store.call(("put", "a", 5u64), LONG).unwrap();
        assert_eq!(format!("{reply:?}"), r#"("ok",)"#);
        let (a,): (u64,) = store.call_as(("get", "a"), LONG).unwrap();
        assert_eq!(a, 5, "{kind:?}");
        // A runtime receiver answers the same way.
        let doubler = root
            .spawn(
                Spawn::from_fn(|ctx| {
                    ctx.receive(pattern!(ReplyTo, u64), |_, (from, n): (ReplyTo, u64)| {
                        from.reply(n * 2);
                    })
                })
                .kind(kind),
            )
            .unwrap();
        let (n,): (u64,) = doubler.call_as(21u64, LONG).unwrap();
        assert_eq!(n, 42, "{kind:?}");
        let wrong = doubler.call_as::<(String,)>(1u64, LONG).unwrap_err();
        assert!(
            matches!(wrong, CallError::UnexpectedReply { .. }),
            "{wrong}"
        );
        store.terminate();
        doubler.terminate();
        ended(&store);
        ended(&doubler);
    }
}

#[test]
fn a_call_to_an_ended_process_fails_at_once_with_its_exit() {
    for kind in KINDS {
        let root = Root::new();
        let store = root.spawn(Spawn::new(Store::default()).kind(kind)).unwrap();
        store.terminate_with(Fault { code: 3 });
        ended(&store);
        let started = Instant::now();
        match store.call(("get", "a"), LONG) {
            Err(CallError::Ended(exit)) => assert_eq!(exit.to_string(), "fault 3"),
            other => panic!("{kind:?}: {other:?}"),
        }
        assert!(started.elapsed() < DEADLINE);
    }
}

#[test]
fn a_call_to_a_process_that_dies_handling_it_fails_at_once_with_its_exit() {
    for kind in KINDS {
        let root = Root::new();
        let store = root.spawn(Spawn::new(Store::default()).kind(kind)).unwrap();
        match store.call("crash", LONG) {
            Err(CallError::Ended(exit)) => assert_eq!(exit.to_string(), "fault 7", "{kind:?}"),
            other => panic!("{kind:?}: {other:?}"),
        }
        // And one that panics.
        let panicker = root
            .spawn(
                Spawn::from_fn(|ctx| {
                    ctx.receive(
                        pattern!(ReplyTo),
                        |_, (_from,): (ReplyTo,)| -> Result<(), BoxError> { panic!("deliberate") },
                    )
                })
                .kind(kind),
            )
            .unwrap();
        match panicker.call((), LONG) {
            Err(CallError::Ended(exit)) => {
                assert!(exit.to_string().contains("deliberate"), "{exit}")
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}

#[test]
fn a_call_queued_behind_a_kill_fails_at_once_with_killed() {
    for kind in KINDS {
        let root = Root::new();
        let (hold_tx, hold) = mpsc::channel::<()>();
        let (busy_tx, busy) = mpsc::channel();
        let blocker = root
            .spawn(
                Spawn::from_fn(move |ctx| {
                    ctx.receive(pattern!("hold"), move |_, ()| {
                        busy_tx.send(()).unwrap();
                        let _ = hold.recv_timeout(DEADLINE);
                    })
                })
                .kind(kind),
            )
            .unwrap();
        blocker.send("hold").unwrap();
        recv(&busy);
        let caller_pid = blocker.clone();
        let (result_tx, result) = mpsc::channel();
        std::thread::spawn(move || {
            result_tx
                .send(caller_pid.call("never answered", LONG))
                .unwrap();
        });
        // The call is queued behind the held handler; the kill ends the
        // process before it is handled, and its queued request with it.
        let deadline = Instant::now() + DEADLINE;
        while blocker.mailbox_len() == 0 {
            assert!(Instant::now() < deadline, "the call was never queued");
            std::thread::yield_now();
        }
        blocker.kill();
        drop(hold_tx);
        match recv(&result) {
            Err(CallError::Ended(exit)) => {
                assert!(exit.downcast_ref::<Killed>().is_some(), "{exit}")
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}

#[test]
fn a_request_dropped_unanswered_by_a_live_process_is_no_reply() {
    let root = Root::new();
    let store = root.spawn(Store::default()).unwrap();
    assert!(matches!(
        store.call("ignore", LONG),
        Err(CallError::NoReply)
    ));
    assert!(store.is_alive());
    store.terminate();
    ended(&store);
}

#[test]
fn a_reply_after_the_timeout_is_dropped_not_left_in_the_callers_mailbox() {
    for kind in KINDS {
        let root = Root::new();
        let store = root.spawn(Spawn::new(Store::default()).kind(kind)).unwrap();
        let (tx, rx) = mpsc::channel();
        let target = store.clone();
        // The caller is a process: a late reply in its mailbox would be an
        // unhandled message and end it.
        let caller = root
            .spawn(
                Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                    let result = tx.clone();
                    ctx.receive(pattern!("call"), move |_, ()| {
                        let outcome = target.call("later", Duration::from_millis(20));
                        result.send(format!("{outcome:?}")).unwrap();
                    })?;
                    ctx.receive(pattern!("replied", bool), move |_, (taken,): (bool,)| {
                        tx.send(format!("taken {taken}")).unwrap();
                    })?;
                    Ok(())
                })
                .kind(kind),
            )
            .unwrap();
        caller.send("call").unwrap();
        assert_eq!(recv(&rx), "Err(Timeout(20ms))", "{kind:?}");
        store.send(("now", caller.clone())).unwrap();
        assert_eq!(recv(&rx), "taken false", "{kind:?}");
        assert!(caller.is_alive(), "{kind:?}");
        caller.terminate();
        assert!(ended(&caller).is_normal(), "{kind:?}");
    }
}

#[test]
fn a_process_that_calls_itself_is_told_so() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!("go"), move |ctx, ()| {
                tx.send(ctx.me().call("anything", LONG).unwrap_err().to_string())
                    .unwrap();
            })
        })
        .unwrap();
    pid.send("go").unwrap();
    assert_eq!(recv(&rx), "a process cannot call itself");
    pid.terminate();
    ended(&pid);
}

#[test]
fn calls_racing_the_callees_end_get_a_reply_or_its_exit_never_a_timeout() {
    for kind in KINDS {
        let root = Root::new();
        for round in 0..200 {
            let store = root.spawn(Spawn::new(Store::default()).kind(kind)).unwrap();
            let ender = store.clone();
            let end = std::thread::spawn(move || ender.terminate_with(Fault { code: round }));
            match store.call(("get", "k"), LONG) {
                Ok(_) => {}
                Err(CallError::Ended(exit)) => {
                    assert_eq!(exit.to_string(), format!("fault {round}"), "{kind:?}")
                }
                Err(other) => panic!("{kind:?} round {round}: {other}"),
            }
            end.join().unwrap();
            ended(&store);
        }
    }
}

#[test]
fn a_call_from_a_scheduler_process_to_another_does_not_stall_its_worker() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let store = root
        .spawn(Spawn::new(Store::default()).kind(Kind::SCHEDULER))
        .unwrap();
    let callers: Vec<Pid> = (0..8)
        .map(|n: u64| {
            let store = store.clone();
            let tx = tx.clone();
            root.spawn(
                Spawn::from_fn(move |ctx| {
                    ctx.receive(pattern!("go"), move |_, ()| -> Result<(), BoxError> {
                        store.call(("put", format!("k{n}"), n), LONG)?;
                        let (v,): (u64,) = store.call_as(("get", format!("k{n}")), LONG)?;
                        tx.send(v).unwrap();
                        Ok(())
                    })
                })
                .kind(Kind::SCHEDULER),
            )
            .unwrap()
        })
        .collect();
    for caller in &callers {
        caller.send("go").unwrap();
    }
    let mut got: Vec<u64> = (0..8).map(|_| recv(&rx)).collect();
    got.sort_unstable();
    assert_eq!(got, (0..8).collect::<Vec<_>>());
}

/// A process to run in a child OS process, answering calls.
#[derive(Process, serde::Serialize, serde::Deserialize)]
struct Remote {
    /// A process of the parent's: doubles numbers, and hears `"kept"`.
    parent: Pid,
    #[serde(skip)]
    kept: Option<ReplyTo>,
}

#[paragram::process]
impl Remote {
    #[receive(ReplyTo, "double", u64)]
    fn double(&mut self, from: ReplyTo, n: u64) {
        from.reply(n * 2);
    }

    #[receive(ReplyTo, "crash")]
    fn crash(&mut self, _from: ReplyTo) -> Result<(), BoxError> {
        Err(Fault { code: 8 }.into())
    }

    #[receive(ReplyTo, "keep")]
    fn keep(&mut self, from: ReplyTo) -> Result<(), BoxError> {
        self.kept = Some(from);
        self.parent.send("kept")?;
        Ok(())
    }

    #[receive(ReplyTo, "ask the parent", u64)]
    fn ask(&mut self, from: ReplyTo, n: u64) -> Result<(), BoxError> {
        let (doubled,): (u64,) = self.parent.call_as(n, LONG)?;
        from.reply(doubled);
        Ok(())
    }
}

#[paragram::test]
fn calls_cross_os_processes_both_ways_and_fail_at_once_when_the_callee_dies() {
    paragram::os_process::hook(|r| {
        r.register::<Remote>();
    });
    let root = Root::new();
    let (kept_tx, kept) = mpsc::channel();
    let parent = root
        .spawn(Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
            ctx.receive(pattern!(ReplyTo, u64), |_, (from, n): (ReplyTo, u64)| {
                from.reply(n * 2);
            })?;
            ctx.receive(pattern!("kept"), move |_, ()| kept_tx.send(()).unwrap())?;
            Ok(())
        }))
        .unwrap();
    let spawn_remote = || {
        root.spawn(Spawn::os_process(Remote {
            parent: parent.clone(),
            kept: None,
        }))
        .unwrap()
    };
    let remote = spawn_remote();
    let (n,): (u64,) = remote.call_as(("double", 21u64), LONG).unwrap();
    assert_eq!(n, 42);
    // The child calls a process of this program while it answers.
    let (n,): (u64,) = remote.call_as(("ask the parent", 5u64), LONG).unwrap();
    assert_eq!(n, 10);
    // A request kept unanswered: the timeout, then the callee's end.
    let timed_out = remote.call("keep", Duration::from_millis(50));
    assert!(
        matches!(timed_out, Err(CallError::Timeout(_))),
        "{timed_out:?}"
    );
    recv(&kept);
    // A callee that fails handling the call: its exit, at once.
    let started = Instant::now();
    match remote.call("crash", LONG) {
        Err(CallError::Ended(exit)) => assert_eq!(exit.to_string(), "fault 8"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < DEADLINE);
    ended(&remote);
    // A callee killed while it holds the request: killed, at once.
    let remote = spawn_remote();
    let caller = remote.clone();
    let (result_tx, result) = mpsc::channel();
    std::thread::spawn(move || result_tx.send(caller.call("keep", LONG)).unwrap());
    recv(&kept);
    remote.kill();
    match recv(&result) {
        Err(CallError::Ended(exit)) => assert!(exit.downcast_ref::<Killed>().is_some(), "{exit}"),
        other => panic!("{other:?}"),
    }
    // A call to an ended OS process fails at once too.
    assert!(matches!(
        remote.call("double", LONG),
        Err(CallError::Ended(_))
    ));
    parent.terminate();
    ended(&parent);
}

#[test]
fn async_calls_and_waits_share_one_executor_thread() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let root = Root::new();
    let store = root.spawn(Store::default()).unwrap();
    let doubler = root
        .spawn(Spawn::from_fn(|ctx| {
            ctx.receive(pattern!(ReplyTo, u64), |_, (from, n): (ReplyTo, u64)| {
                from.reply(n * 2);
            })
        }))
        .unwrap();
    runtime.block_on(async {
        // Two calls at once on one thread: neither blocks it.
        let (put, doubled) = tokio::join!(
            store.call_async(("put", "a", 1u64), LONG),
            doubler.call_async(4u64, LONG)
        );
        assert_eq!(format!("{:?}", put.unwrap()), r#"("ok",)"#);
        assert_eq!(format!("{:?}", doubled.unwrap()), "(8,)");
        // A call that times out while another task on the same thread
        // keeps running.
        let ticker = tokio::spawn(async {
            let mut ticks = 0;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                ticks += 1;
            }
            ticks
        });
        let timed_out = store.call_async("later", Duration::from_millis(50)).await;
        assert!(
            matches!(timed_out, Err(CallError::Timeout(_))),
            "{timed_out:?}"
        );
        assert_eq!(ticker.await.unwrap(), 5);
        // A call to a process that dies handling it.
        let crashed = store.call_async("crash", LONG).await;
        assert!(matches!(crashed, Err(CallError::Ended(_))), "{crashed:?}");
        let exit = tokio::time::timeout(DEADLINE, store.wait_async())
            .await
            .unwrap();
        assert_eq!(exit.to_string(), "fault 7");
        doubler.terminate();
        assert!(
            tokio::time::timeout(DEADLINE, doubler.wait_async())
                .await
                .unwrap()
                .is_normal()
        );
    });
}

#[test]
fn a_dropped_request_is_told_when_its_step_ends_not_when_the_callee_is_idle() {
    for kind in KINDS {
        let root = Root::new();
        let (release, held) = mpsc::channel::<()>();
        let callee = root
            .spawn(
                Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                    ctx.receive(pattern!(ReplyTo, "drop"), |ctx, (_from,): (ReplyTo,)| {
                        // Queued right behind: a step that holds the
                        // process until the test ends.
                        ctx.me().send("hold").unwrap();
                    })?;
                    ctx.receive(pattern!("hold"), move |_, ()| {
                        let _ = held.recv_timeout(DEADLINE);
                    })?;
                    Ok(())
                })
                .kind(kind),
            )
            .unwrap();
        let outcome = callee.call("drop", Duration::from_secs(5));
        assert!(
            matches!(outcome, Err(CallError::NoReply)),
            "{kind:?}: {outcome:?}"
        );
        drop(release);
        callee.terminate();
        ended(&callee);
    }
}

#[test]
fn a_timeout_past_the_clocks_end_is_no_timeout() {
    let root = Root::new();
    let store = root.spawn(Store::default()).unwrap();
    let reply = store.call(("put", "k", 1u64), Duration::MAX).unwrap();
    assert_eq!(format!("{reply:?}"), r#"("ok",)"#);
    store.terminate();
    // Waited for without a limit, and it ends.
    assert!(store.wait_timeout(Duration::MAX).unwrap().is_normal());
}

#[test]
fn a_dropped_wait_future_lets_go_of_its_waker() {
    struct Counted;
    impl std::task::Wake for Counted {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let root = Root::new();
    let store = root.spawn(Store::default()).unwrap();
    let counted = std::sync::Arc::new(Counted);
    let waker = std::task::Waker::from(counted.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    for _ in 0..100 {
        let mut future = std::pin::pin!(store.wait_async());
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    drop(waker);
    assert_eq!(
        std::sync::Arc::strong_count(&counted),
        1,
        "a waker is still held"
    );
    store.terminate();
    ended(&store);
}
