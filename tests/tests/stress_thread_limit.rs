//! Reliability: the thread kind refuses spawns past its limit with an error,
//! before the OS limit, and every process already running survives; the
//! scheduler kind, whose processes take no thread, spawns on past it.
//!
//! At CI size the test re-runs this binary as a child process with
//! `PARAGRAM_MAX_THREADS` set low (setting it in-process would need
//! `unsafe` `set_var`, and the limit is read once); at full size it spawns
//! up to the machine's own limit in-process.

mod stress_support;

use std::collections::HashSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use paragram::{Ctx, Kind, Pid, Root, Spawn, SpawnError, pattern};
use stress_support::{DEADLINE, full, wait};
use wait_timeout::ChildExt;

/// The test the CI-size run re-executes.
const CHILD_TEST: &str = "stress_thread_limit_child_process";

/// The thread limit at CI size.
const CI_LIMIT: &str = "64";

#[test]
fn stress_spawning_past_thread_limit_is_refused() {
    if full() {
        spawn_past_limit();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
        .env("PARAGRAM_MAX_THREADS", CI_LIMIT)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = match child.wait_timeout(DEADLINE * 3).unwrap() {
        Some(status) => status,
        None => {
            let _ = child.kill();
            panic!("the child test hangs");
        }
    };
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    println!("{output}");
    assert!(status.success(), "the child test failed: {status}");
    assert!(output.contains("1 passed"), "the child test did not run");
}

#[test]
#[ignore = "run by stress_spawning_past_thread_limit_is_refused in a child process with PARAGRAM_MAX_THREADS set"]
fn stress_thread_limit_child_process() {
    spawn_past_limit();
}

/// The scheduler kind's workers.
const WORKERS: usize = 2;

/// The places among the threads the scheduler kind takes: its workers and
/// its monitor.
const SCHEDULER_THREADS: usize = WORKERS + 1;

/// Processes of the scheduler kind spawned once the thread kind refuses.
const PAST_THE_LIMIT: usize = 1_000;

/// Spawns idle processes until the thread kind refuses; checks the refusal,
/// that every process still answers, that the scheduler kind still spawns,
/// and that a thread spawn works once some end.
fn spawn_past_limit() {
    let limit = paragram::thread_limit();
    paragram::set_scheduler_workers(WORKERS);
    let root = Root::with_kind(Kind::THREAD);
    // Its threads start with its first process, and take their places now.
    let first = root
        .spawn(Spawn::new(|_: &mut Ctx| {}).kind(Kind::SCHEDULER))
        .unwrap();
    first.terminate();
    assert!(wait(&first).is_normal());
    let (tx, rx) = mpsc::channel();
    let mut alive: Vec<Pid> = Vec::new();
    let start = Instant::now();
    let refusal = loop {
        let tx = tx.clone();
        let n = alive.len();
        let node = move |ctx: &mut Ctx| {
            ctx.receive(pattern!("ping"), move |_, ()| {
                let _ = tx.send(n);
            })
        };
        match root.spawn(node) {
            Ok(pid) => alive.push(pid),
            Err(error) => break error,
        }
        assert!(alive.len() < limit, "spawned past the limit of {limit}");
    };
    println!(
        "limit {limit}: {} processes (+ the root) spawned in {:?}, then: {refusal}",
        alive.len(),
        start.elapsed()
    );
    assert!(
        matches!(refusal, SpawnError::ThreadLimit { limit: l } if l == limit),
        "{refusal:?}"
    );
    assert_eq!(
        alive.len() + 1 + SCHEDULER_THREADS,
        limit,
        "the root, the scheduler's threads and the spawned fill the limit"
    );
    for _ in 0..10 {
        let again = root.spawn(|_: &mut Ctx| {});
        assert!(matches!(again, Err(SpawnError::ThreadLimit { .. })));
        // A root is a process too: refused, not a panic.
        let another = Root::try_new();
        assert!(matches!(another, Err(SpawnError::ThreadLimit { .. })));
    }
    for pid in &alive {
        pid.send("ping").unwrap();
    }
    let deadline = Instant::now() + DEADLINE * 3;
    let mut answered = HashSet::new();
    while answered.len() < alive.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = rx.recv_timeout(left).expect("every process answers");
        assert!(answered.insert(n), "{n} answered twice");
    }
    let (answers, answered_past) = mpsc::channel();
    let past: Vec<Pid> = (0..PAST_THE_LIMIT)
        .map(|n| {
            let answers = answers.clone();
            let node = move |ctx: &mut Ctx| {
                ctx.receive(pattern!("ping"), move |_, ()| {
                    let _ = answers.send(n);
                })
            };
            root.spawn(Spawn::new(node).kind(Kind::SCHEDULER))
                .expect("the scheduler kind spawns past the thread limit")
        })
        .collect();
    for pid in &past {
        pid.send("ping").unwrap();
    }
    let mut answered = HashSet::new();
    while answered.len() < past.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = answered_past
            .recv_timeout(left)
            .expect("every process of the scheduler kind answers");
        assert!(answered.insert(n), "{n} answered twice");
    }
    for pid in &past {
        pid.terminate();
        assert!(wait(pid).is_normal());
    }
    let last = alive.pop().unwrap();
    last.terminate();
    assert!(wait(&last).is_normal());
    let later = root
        .spawn(Spawn::new(|_: &mut Ctx| {}).name("later"))
        .unwrap();
    later.terminate();
    assert!(wait(&later).is_normal());
    for pid in &alive {
        pid.terminate();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for pid in &alive {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(pid.wait_timeout(left).is_ok(), "{pid:?} hangs");
    }
}
