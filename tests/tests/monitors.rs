//! Monitors: a `Down` per monitor when the monitored process ends, at once
//! for one that has ended, none after a demonitor, none received after a
//! demonitor with flush; across every kind, with runtime and compiled
//! receivers.

use std::sync::mpsc;

use paragram::{
    BoxError, Ctx, Down, Killed, Kind, MonitorRef, NoProcess, Pid, Root, Spawn, pattern,
};
use paragram_tests::{DEADLINE, Fault, ended, recv};
use serde::{Deserialize, Serialize};

const KINDS: [Kind; 2] = [Kind::THREAD, Kind::SCHEDULER];

/// What a watcher reports: a `Down`'s reference, process and exit text,
/// or that a sync message came.
#[derive(Debug, PartialEq)]
enum Seen {
    Down(MonitorRef, Pid, String),
    Sync,
}

/// A process of `kind` that reports every `Down` and every `"sync"`, and
/// does what `("monitor", Pid)` and `("demonitor", ..)` ask.
fn watcher(root: &Root, kind: Kind) -> (Pid, mpsc::Receiver<Seen>, mpsc::Receiver<MonitorRef>) {
    let (seen_tx, seen) = mpsc::channel();
    let (refs_tx, refs) = mpsc::channel();
    let pid = root
        .spawn(
            Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                let seen = seen_tx.clone();
                ctx.receive(pattern!(Down), move |_, (down,): (Down,)| {
                    let _ = seen.send(Seen::Down(down.reference, down.pid, down.exit.to_string()));
                })?;
                let seen = seen_tx;
                ctx.receive(pattern!("sync"), move |_, ()| {
                    let _ = seen.send(Seen::Sync);
                })?;
                ctx.receive(pattern!("monitor", Pid), move |ctx, (pid,): (Pid,)| {
                    let _ = refs_tx.send(ctx.monitor(&pid));
                })?;
                Ok(())
            })
            .kind(kind),
        )
        .unwrap();
    (pid, seen, refs)
}

/// A process of `kind` that ends with `Fault { code }` on `"fail"`.
fn target(root: &Root, kind: Kind, code: u32) -> Pid {
    root.spawn(
        Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("fail"), move |_, ()| -> Result<(), BoxError> {
                Err(Fault { code }.into())
            })
        })
        .kind(kind),
    )
    .unwrap()
}

#[test]
fn each_monitor_hears_the_end_once_and_the_watcher_lives_on() {
    for watcher_kind in KINDS {
        for target_kind in KINDS {
            let root = Root::new();
            let (watcher, seen, refs) = watcher(&root, watcher_kind);
            let target = target(&root, target_kind, 4);
            let mut made: Vec<MonitorRef> = (0..3)
                .map(|_| {
                    watcher.send(("monitor", target.clone())).unwrap();
                    recv(&refs)
                })
                .collect();
            target.send("fail").unwrap();
            ended(&target);
            watcher.send("sync").unwrap();
            let mut heard = Vec::new();
            while let Seen::Down(reference, pid, exit) = recv(&seen) {
                assert_eq!(pid, target);
                assert_eq!(exit, "fault 4");
                heard.push(reference);
            }
            heard.sort();
            made.sort();
            assert_eq!(heard, made, "one Down per monitor");
            assert!(watcher.is_alive(), "a monitor does not end its holder");
            watcher.terminate();
            ended(&watcher);
        }
    }
}

#[test]
fn monitoring_an_ended_process_reports_it_at_once_with_no_process() {
    for kind in KINDS {
        let root = Root::new();
        let (watcher, seen, refs) = watcher(&root, kind);
        let target = target(&root, kind, 5);
        target.send("fail").unwrap();
        ended(&target);
        watcher.send(("monitor", target.clone())).unwrap();
        let reference = recv(&refs);
        assert_eq!(
            recv(&seen),
            Seen::Down(
                reference,
                target.clone(),
                "no process: it had ended (fault 5)".into()
            )
        );
        watcher.terminate();
        ended(&watcher);
    }
}

#[test]
fn the_root_monitors_and_its_down_carries_the_exit() {
    for kind in KINDS {
        let root = Root::new();
        let (tx, rx) = mpsc::channel();
        root.receive(pattern!(Down), move |_, (down,): (Down,)| {
            let _ = tx.send(down);
        })
        .unwrap();
        let target = target(&root, kind, 6);
        let reference = root.monitor(&target);
        target.kill();
        let down = recv(&rx);
        assert_eq!(down.reference, reference);
        assert_eq!(down.pid, target);
        assert!(down.exit.downcast_ref::<Killed>().is_some());
        // An ended process: NoProcess, holding how it ended.
        let again = root.monitor(&target);
        let down = recv(&rx);
        assert_eq!(down.reference, again);
        let no_process = down.exit.downcast_ref::<NoProcess>().unwrap();
        assert!(no_process.exit.downcast_ref::<Killed>().is_some());
    }
}

#[test]
fn after_a_demonitor_no_down_comes() {
    for kind in KINDS {
        let root = Root::new();
        let (tx, rx) = mpsc::channel();
        let (sync_tx, sync) = mpsc::channel();
        let target = target(&root, kind, 7);
        let to_watch = target.clone();
        let watcher = root
            .spawn(
                Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                    let reference = ctx.monitor(&to_watch);
                    tx.send(ctx.demonitor(reference))?;
                    tx.send(ctx.demonitor(reference))?;
                    ctx.receive(pattern!(Down), |_, (_,): (Down,)| {})?;
                    ctx.receive(pattern!("sync"), move |_, ()| {
                        let _ = sync_tx.send(());
                    })?;
                    Ok(())
                })
                .kind(kind),
            )
            .unwrap();
        assert!(recv(&rx), "active: removed");
        assert!(!recv(&rx), "removed already");
        target.send("fail").unwrap();
        ended(&target);
        // A Down would have been queued before the end returned.
        watcher.send("sync").unwrap();
        recv(&sync);
        assert!(watcher.is_alive());
        watcher.terminate();
        assert!(
            ended(&watcher).is_normal(),
            "no Down reached it: it would have been received (and ended nothing), or, unmatched, ended it"
        );
    }
}

#[test]
fn a_demonitor_with_flush_takes_back_a_down_on_its_way() {
    for flush in [true, false] {
        for kind in KINDS {
            let root = Root::new();
            let target = target(&root, kind, 8);
            let (hold_tx, hold) = mpsc::channel::<()>();
            let (tx, rx) = mpsc::channel();
            let to_watch = target.clone();
            let watcher = root
                .spawn(
                    Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                        let reference = ctx.monitor(&to_watch);
                        let down_tx = tx.clone();
                        ctx.receive(pattern!(Down), move |_, (down,): (Down,)| {
                            let _ = down_tx.send(format!("down {}", down.exit));
                        })?;
                        ctx.receive(pattern!("hold"), move |ctx, ()| {
                            // The target ends while this handler runs: its
                            // Down is queued behind.
                            let _ = tx.send("holding".to_owned());
                            let _ = hold.recv_timeout(DEADLINE);
                            let active = if flush {
                                ctx.demonitor_flush(reference)
                            } else {
                                ctx.demonitor(reference)
                            };
                            let _ = tx.send(format!("active {active}"));
                        })?;
                        Ok(())
                    })
                    .kind(kind),
                )
                .unwrap();
            watcher.send("hold").unwrap();
            assert_eq!(recv(&rx), "holding");
            target.send("fail").unwrap();
            ended(&target);
            hold_tx.send(()).unwrap();
            assert_eq!(recv(&rx), "active false");
            watcher.terminate();
            ended(&watcher);
            let rest: Vec<String> = rx.try_iter().collect();
            if flush {
                assert_eq!(rest, Vec::<String>::new(), "{kind:?}: flushed");
            } else {
                assert_eq!(rest, vec!["down fault 8".to_owned()], "{kind:?}");
            }
        }
    }
}

#[test]
fn an_unreceived_down_is_an_unhandled_message() {
    let root = Root::new();
    let target = target(&root, Kind::SCHEDULER, 9);
    let to_watch = target.clone();
    let watcher = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.monitor(&to_watch);
        })
        .unwrap();
    target.send("fail").unwrap();
    let exit = ended(&watcher);
    assert_eq!(
        exit.to_string(),
        "unhandled message: (<paragram::monitors::Down>,)"
    );
}

/// In a child OS process: monitors the process it is given when told to,
/// and reports each `Down` (a compiled receiver of `Down`).
#[derive(paragram::Process, Serialize, Deserialize)]
struct RemoteWatcher {
    target: Pid,
    report_to: Pid,
}

#[paragram::process]
impl RemoteWatcher {
    #[receive("watch")]
    fn watch(&mut self, ctx: &mut Ctx) -> Result<(), BoxError> {
        ctx.monitor(&self.target);
        self.report_to.send(("watching", String::new()))?;
        Ok(())
    }

    #[receive(Down)]
    fn down(&mut self, down: Down) -> Result<(), BoxError> {
        self.report_to.send(("down", down.exit.to_string()))?;
        Ok(())
    }
}

#[paragram::test]
fn monitors_cross_os_processes_both_ways() {
    paragram::os_process::hook(|r| {
        r.register::<RemoteWatcher>();
    });
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let report_to = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(
                pattern!(String, String),
                move |_, (what, exit): (String, String)| {
                    let _ = tx.send((what, exit));
                },
            )
        }))
        .unwrap();
    // A process of the child monitors one of this program's.
    let local = target(&root, Kind::SCHEDULER, 10);
    let remote = root
        .spawn(Spawn::os_process(RemoteWatcher {
            target: local.clone(),
            report_to: report_to.clone(),
        }))
        .unwrap();
    remote.send("watch").unwrap();
    assert_eq!(recv(&rx).0, "watching");
    local.send("fail").unwrap();
    assert_eq!(recv(&rx), ("down".into(), "fault 10".into()));
    // The root monitors the child's process.
    let (down_tx, downs) = mpsc::channel();
    root.receive(pattern!(Down), move |_, (down,): (Down,)| {
        let _ = down_tx.send(down);
    })
    .unwrap();
    let reference = root.monitor(&remote);
    remote.kill();
    let down = downs.recv_timeout(DEADLINE).unwrap();
    assert_eq!(down.reference, reference);
    assert!(
        down.exit.downcast_ref::<Killed>().is_some(),
        "{}",
        down.exit
    );
    report_to.terminate();
    ended(&report_to);
}

#[test]
fn once_unlink_returns_a_notification_on_its_way_has_no_effect() {
    for kind in KINDS {
        let root = Root::new();
        for round in 0..200 {
            let peer = target(&root, kind, 11);
            let (hold_tx, hold) = mpsc::channel::<()>();
            let (tx, rx) = mpsc::channel();
            let linked_to = peer.clone();
            let holder = root
                .spawn(
                    Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                        ctx.link(&linked_to);
                        let sync = tx.clone();
                        ctx.receive(pattern!("hold"), move |ctx, ()| {
                            let _ = tx.send("holding");
                            // The peer ends meanwhile: its notification is
                            // queued behind this handler.
                            let _ = hold.recv_timeout(DEADLINE);
                            ctx.unlink(&linked_to);
                        })?;
                        ctx.receive(pattern!("sync"), move |_, ()| {
                            let _ = sync.send("synced");
                        })?;
                        Ok(())
                    })
                    .kind(kind),
                )
                .unwrap();
            holder.send("hold").unwrap();
            assert_eq!(recv(&rx), "holding");
            peer.send("fail").unwrap();
            ended(&peer);
            hold_tx.send(()).unwrap();
            holder.send("sync").unwrap();
            assert_eq!(recv(&rx), "synced", "{kind:?} round {round}");
            assert!(holder.is_alive(), "{kind:?} round {round}");
            holder.terminate();
            assert!(ended(&holder).is_normal(), "{kind:?} round {round}");
        }
    }
}
