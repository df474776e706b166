//! OS processes from plain `#[test]` functions, under cargo's own harness
//! (no `harness = false`, no `main` of our own): `#[paragram::test]`, and
//! the hook first thing in the test.

use std::sync::mpsc;

use paragram::os_process::OsProcessError;
use paragram::{BoxError, Pid, Root, Spawn, pattern};
use paragram_tests::{ended, recv};
use serde::{Deserialize, Serialize};

/// Doubles numbers, in a child OS process, and says which one.
#[derive(paragram::Process, Serialize, Deserialize)]
struct Doubler {
    report_to: Pid,
}

#[paragram::process]
impl Doubler {
    #[receive("double", i64)]
    fn double(&mut self, n: i64) -> Result<(), BoxError> {
        self.report_to
            .send(("doubled", n * 2, std::process::id()))?;
        Ok(())
    }

    #[receive("abort")]
    fn abort(&mut self) {
        std::process::abort();
    }
}

fn hook() {
    paragram::os_process::hook(|r| {
        r.register::<Doubler>();
    });
}

/// A process of `root` that reports each `("doubled", n, os_pid)`.
fn collector(root: &Root) -> (Pid, mpsc::Receiver<(i64, u32)>) {
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(pattern!("doubled", i64, u32), move |_, (n, os)| {
                let _ = tx.send((n, os));
            })
        }))
        .unwrap();
    (pid, rx)
}

#[paragram::test]
fn an_os_process_runs_from_a_plain_test() {
    hook();
    let root = Root::new();
    let (collector, rx) = collector(&root);
    let doubler = root
        .spawn(Spawn::os_process(Doubler {
            report_to: collector.clone(),
        }))
        .unwrap();
    doubler.send(("double", 21)).unwrap();
    let (n, os) = recv(&rx);
    assert_eq!(n, 42);
    assert_ne!(os, std::process::id(), "handled in another OS process");
    doubler.terminate();
    assert!(ended(&doubler).is_normal());
}

#[paragram::test]
fn a_crash_in_the_child_is_an_exit_in_the_test() -> Result<(), BoxError> {
    hook();
    let root = Root::new();
    let (collector, _rx) = collector(&root);
    let doubler = root.spawn(Spawn::os_process(Doubler {
        report_to: collector,
    }))?;
    doubler.send("abort")?;
    let exit = ended(&doubler);
    assert_eq!(
        exit.downcast_ref::<OsProcessError>(),
        Some(&OsProcessError::Signaled {
            signal: 6,
            name: "SIGABRT"
        })
    );
    Ok(())
}

#[paragram::test]
fn a_process_of_the_test_spawns_one_from_its_own_thread() {
    hook();
    let root = Root::new();
    let (collector, rx) = collector(&root);
    let spawner = root
        .spawn(Spawn::from_fn(move |ctx| {
            ctx.receive(
                pattern!("go", i64),
                move |ctx, (n,)| -> Result<(), BoxError> {
                    let doubler = ctx.spawn(Spawn::os_process(Doubler {
                        report_to: collector.clone(),
                    }))?;
                    doubler.send(("double", n))?;
                    Ok(())
                },
            )
        }))
        .unwrap();
    spawner.send(("go", 5)).unwrap();
    let (n, os) = recv(&rx);
    assert_eq!(n, 10);
    assert_ne!(os, std::process::id());
}
