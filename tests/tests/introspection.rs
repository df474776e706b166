//! Introspection: the process list with name, kind, registered name,
//! mailbox length, links, monitors and status; the graph of links and
//! monitors; nothing listed once it has ended.

use std::sync::mpsc;
use std::time::Instant;

use paragram::{BoxError, Kind, Root, Spawn, Status, graph, pattern, process_info, processes};
use paragram_tests::{DEADLINE, ended, recv};

#[test]
fn the_process_list_shows_what_each_process_is_doing_and_is_tied_to() {
    for kind in [Kind::THREAD, Kind::SCHEDULER] {
        let root = Root::new();
        let (busy_tx, busy) = mpsc::channel();
        let (release, held) = mpsc::channel::<()>();
        let worker = root
            .spawn(
                Spawn::from_fn(move |ctx| -> Result<(), BoxError> {
                    ctx.receive(pattern!("hold"), move |_, ()| {
                        busy_tx.send(()).unwrap();
                        let _ = held.recv_timeout(DEADLINE);
                    })?;
                    ctx.receive(pattern!("later"), |_, ()| {})?;
                    Ok(())
                })
                .name("introspected")
                .kind(kind),
            )
            .unwrap();
        let name = format!("introspected-{kind:?}");
        paragram::register(name.clone(), &worker).unwrap();
        let watcher = root
            .spawn(Spawn::from_fn(|ctx| ctx.receive(pattern!("never"), |_, ()| {})).kind(kind))
            .unwrap();
        // The root links to the worker and monitors it.
        root.link(&worker).unwrap();
        root.monitor(&worker);
        worker.send("hold").unwrap();
        recv(&busy);
        for _ in 0..3 {
            worker.send("later").unwrap();
        }
        let info = process_info(&worker).expect("alive");
        assert_eq!(info.process, worker);
        assert_eq!(info.process.name(), "introspected");
        assert_eq!(info.kind, format!("{kind:?}"));
        assert_eq!(info.registered.as_deref(), Some(name.as_str()));
        assert_eq!(info.mailbox_len, 3);
        assert_eq!(info.status, Status::Running);
        assert_eq!(info.links, [root.pid().clone()]);
        assert_eq!(info.monitored_by, [root.pid().clone()]);
        let root_info = process_info(root.pid()).unwrap();
        assert!(root_info.monitors.iter().any(|p| *p == worker));
        // The idle one waits, once its start-up has run (a status a
        // process settles into: polled, with a deadline).
        let deadline = Instant::now() + DEADLINE;
        while process_info(&watcher).unwrap().status != Status::Waiting {
            assert!(
                Instant::now() < deadline,
                "{kind:?}: the idle process never waits"
            );
            std::thread::yield_now();
        }
        // The whole list holds both, in order of id.
        let listed = processes();
        let ids: Vec<u64> = listed.iter().map(|p| p.process.id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(listed.iter().any(|p| p.process == worker));
        assert!(listed.iter().any(|p| p.process == watcher));

        // The graph: a box per process, a line for the link, a dashed
        // arrow for the monitor.
        let dot = graph();
        let (w, r) = (worker.id(), root.pid().id());
        assert!(dot.starts_with("digraph paragram {"), "{dot}");
        assert!(
            dot.contains(&format!(
                "p{w} [label=\"introspected\\n{kind:?} {w}\\nregistered: {name}\"];"
            )),
            "{dot}"
        );
        assert!(dot.contains(&format!("p{r} -> p{w} [dir=none];")), "{dot}");
        assert!(
            dot.contains(&format!("p{r} -> p{w} [style=dashed, label=\"monitors\"];")),
            "{dot}"
        );

        // Once ended, a process is listed no more.
        root.unlink(&worker);
        worker.terminate();
        drop(release);
        ended(&worker);
        watcher.terminate();
        ended(&watcher);
        assert!(process_info(&worker).is_none());
        assert!(
            processes()
                .iter()
                .all(|p| p.process != worker && p.process != watcher)
        );
        assert!(!graph().contains(&format!("p{w} ")));
    }
}
