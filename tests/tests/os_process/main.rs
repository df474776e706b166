//! The OS-process kind, end to end: this binary is its own child program
//! (`harness = false`: `main` calls the hook first, then runs the tests).
//! `hostile.rs` holds the tests of hostile input and of graceful ends.

mod hostile;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use paragram::os_process::OsProcessError;
use paragram::{
    BoxError, Ctx, Exit, LinkedExit, Opaque, Panicked, Pid, Process, Root, SendFailure, Spawn,
    SpawnError, Term, pattern,
};
use serde::{Deserialize, Serialize};

type Test = fn() -> Result<(), Failed>;

const DEADLINE: Duration = Duration::from_secs(10);

/// The process the tests run in a child OS process.
#[derive(Process, Serialize, Deserialize)]
struct Echo {
    tag: String,
    #[serde(skip)]
    ticks: u64,
}

#[paragram::process]
impl Echo {
    #[receive("echo", Pid, Term)]
    fn echo(&mut self, to: Pid, value: Term) -> Result<(), BoxError> {
        to.send((self.tag.clone(), value))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    #[receive("relay", Pid, Pid, Term)]
    fn relay(&mut self, to: Pid, reply: Pid, value: Term) -> Result<(), BoxError> {
        to.send(("echo", reply, value)).map_err(|e| e.to_string())?;
        Ok(())
    }

    #[receive("me", Pid)]
    fn me(&mut self, ctx: &mut Ctx, to: Pid) -> Result<(), BoxError> {
        to.send(("me", ctx.me())).map_err(|e| e.to_string())?;
        Ok(())
    }

    #[receive("os pid", Pid)]
    fn os_pid(&mut self, to: Pid) -> Result<(), BoxError> {
        to.send(("os pid", std::process::id()))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    #[receive("tick")]
    fn tick(&mut self) {
        self.ticks += 1;
    }

    #[receive("print", String)]
    fn print(&mut self, line: String) {
        println!("{line}");
    }

    #[receive("name", Pid)]
    fn name(&mut self, ctx: &mut Ctx, to: Pid) -> Result<(), BoxError> {
        to.send(("name", ctx.name())).map_err(|e| e.to_string())?;
        Ok(())
    }

    #[receive("ticks", Pid)]
    fn ticks(&mut self, to: Pid) -> Result<(), BoxError> {
        to.send(("ticks", self.ticks)).map_err(|e| e.to_string())?;
        Ok(())
    }

    #[receive("link", Pid)]
    fn link(&mut self, ctx: &mut Ctx, peer: Pid) {
        ctx.link(&peer);
    }

    #[receive("root", Pid, Pid)]
    fn root(&mut self, to: Pid, parents_root: Pid) -> Result<(), BoxError> {
        let mine = paragram::main().pid().clone();
        let same = mine == parents_root;
        // Ending the child's own root must leave the parent's alone.
        mine.terminate();
        let ended = mine.wait_timeout(DEADLINE).is_ok();
        to.send(("root", (same, ended)))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    #[receive("panic")]
    fn panic(&mut self) {
        panic!("deliberate: boom in the child");
    }

    #[receive("fail")]
    fn fail(&mut self) -> Result<(), BoxError> {
        Err("failed in the child".into())
    }

    #[receive("exit code", i32)]
    fn exit_code(&mut self, code: i32) {
        std::process::exit(code);
    }

    #[receive("abort")]
    fn abort(&mut self) {
        std::process::abort();
    }

    #[receive("hang")]
    fn hang(&mut self) {
        // Stands for a process stuck for good: an infinite loop.
        let (_tx, rx) = mpsc::channel::<()>();
        let _ = rx.recv();
    }

    #[receive("garbage", Vec<u8>)]
    fn garbage(&mut self, bytes: Vec<u8>) -> Result<(), BoxError> {
        // The connection is this process's stdin.
        let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
        UnixStream::from(fd).write_all(&bytes)?;
        Ok(())
    }
}

/// A process from a function, run in a child OS process: `base` is the
/// state a closure would capture.
fn adder(ctx: &mut Ctx, base: i64) -> Result<(), BoxError> {
    ctx.receive(
        pattern!("add", Pid, i64),
        move |_, (to, n): (Pid, i64)| -> Result<(), BoxError> {
            to.send(("sum", base + n)).map_err(|e| e.to_string())?;
            Ok(())
        },
    )?;
    ctx.receive(pattern!("os pid", Pid), |_, (to,): (Pid,)| {
        let _ = to.send(("os pid", std::process::id()));
    })?;
    Ok(())
}

/// Start-up code that fails as `how` says: "error", "panic", or not.
fn starts(_: &mut Ctx, how: String) -> Result<(), BoxError> {
    match how.as_str() {
        "error" => Err("bad start".into()),
        "panic" => panic!("deliberate: panic at start"),
        _ => Ok(()),
    }
}

/// Tells a process to end, then sends it a message: `("stop, then echo",
/// target, collector)`. With `target` in another child, both cross the
/// parent.
fn stop_then_echo(ctx: &mut Ctx, _: ()) -> Result<(), BoxError> {
    ctx.receive(
        pattern!("stop, then echo", Pid, Pid),
        |_, (target, collector): (Pid, Pid)| {
            target.terminate_with("stop");
            let _ = target.send(("echo", collector, 1));
        },
    )?;
    Ok(())
}

/// Links to `watched` and reports whether the linked exit it then traps
/// names `peer` (as this OS process knows it): `("watch", watched, peer,
/// report)`.
fn names_the_peer(ctx: &mut Ctx, _: ()) -> Result<(), BoxError> {
    let told = std::sync::Arc::new(std::sync::Mutex::new(None::<(Pid, Pid)>));
    let keep = told.clone();
    ctx.receive(
        pattern!("watch", Pid, Pid, Pid),
        move |ctx, (watched, peer, report): (Pid, Pid, Pid)| {
            ctx.link(&watched);
            let _ = report.send(("watching", 0));
            *keep.lock().unwrap_or_else(|e| e.into_inner()) = Some((peer, report));
        },
    )?;
    ctx.receive(pattern!(Exit, Pid), move |_, (exit, _): (Exit, Pid)| {
        if let Some((peer, report)) = told.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let named = exit
                .downcast_ref::<LinkedExit>()
                .is_some_and(|linked| linked.peer == peer);
            let _ = report.send(("names the peer", named));
        }
    })?;
    Ok(())
}

/// On `("go", to)`: starts a process, then sends `to` its `Pid` (with a
/// long list, so the encoding takes a while) just as it is told to end.
fn sends_a_pid_as_it_ends(ctx: &mut Ctx, len: i64) -> Result<(), BoxError> {
    ctx.receive(
        pattern!("go", Pid),
        move |ctx, (to,): (Pid,)| -> Result<(), BoxError> {
            let worker = ctx.spawn(|_: &mut Ctx| {})?;
            let message = ("worker", (worker.clone(), (0..len).collect::<Vec<i64>>()));
            worker.terminate();
            to.send(message).map_err(|e| e.to_string())?;
            Ok(())
        },
    )?;
    Ok(())
}

/// A function spawned as an OS process but never registered.
fn unregistered(_: &mut Ctx, _: ()) {}

fn main() {
    // The children's deliberate panics print nothing; any other does.
    paragram_tests::quiet_deliberate_panics();
    if std::env::var_os("PARAGRAM_TEST_NO_HOOK").is_some() {
        // A `main` that forgot the hook, started as a child: its first
        // root ends it.
        let _root = Root::new();
        println!("main ran again");
        return;
    }
    paragram::os_process::hook(|r| {
        r.register::<Echo>();
        r.register_fn(adder);
        r.register_fn(starts);
        r.register_fn(stop_then_echo);
        r.register_fn(names_the_peer);
        r.register_fn(sends_a_pid_as_it_ends);
        r.register_fn(hostile::traps);
        r.register::<hostile::Mined>();
        r.register_fn(hostile::keeps_itself);
        r.register::<hostile::Untagged>();
        r.register::<hostile::Reporter>();
    });
    if std::env::var_os("PARAGRAM_TEST_PARENT").is_some() {
        parent_to_be_killed();
    }
    if std::env::var_os("PARAGRAM_TEST_PARENT_PRINTS").is_some() {
        hostile::parent_that_leaves_at_once();
    }
    if std::env::var_os("PARAGRAM_TEST_THREAD_LIMIT").is_some() {
        spawn_past_thread_limit();
    }
    let args = Arguments::from_args();
    FIGURES.store(args.nocapture, std::sync::atomic::Ordering::Relaxed);
    let tests: Vec<(&str, Test)> = vec![
        (
            "os_process_messages_route_both_ways",
            messages_route_both_ways,
        ),
        (
            "os_process_many_senders_keep_their_order",
            many_senders_keep_their_order,
        ),
        (
            "os_process_nothing_is_lost_from_senders_that_exit",
            nothing_is_lost_from_senders_that_exit,
        ),
        (
            "os_process_messages_before_an_end_come_before_its_exit",
            messages_before_an_end_come_before_its_exit,
        ),
        (
            "os_process_senders_wait_while_the_child_is_stopped",
            senders_wait_while_the_child_is_stopped,
        ),
        (
            "os_process_child_pid_is_the_spawned_pid",
            child_pid_is_the_spawned_pid,
        ),
        (
            "os_process_terminate_is_queued_behind_messages",
            terminate_is_queued_behind_messages,
        ),
        (
            "os_process_handler_error_is_the_exit",
            handler_error_is_the_exit,
        ),
        ("os_process_panic_is_the_exit", panic_is_the_exit),
        (
            "os_process_unhandled_message_ends_child",
            unhandled_message_ends_child,
        ),
        (
            "os_process_exit_code_names_the_code",
            exit_code_names_the_code,
        ),
        ("os_process_abort_names_sigabrt", abort_names_sigabrt),
        (
            "os_process_sigsegv_reaches_linked_process",
            sigsegv_reaches_linked_process,
        ),
        (
            "os_process_sibling_pid_can_be_sent_to",
            sibling_pid_can_be_sent_to,
        ),
        (
            "os_process_parent_pid_passes_from_child_to_sibling",
            parent_pid_passes_from_child_to_sibling,
        ),
        (
            "os_process_sibling_link_carries_exits_both_ways",
            sibling_link_carries_exits_both_ways,
        ),
        (
            "os_process_connection_threads_count_against_thread_limit",
            connection_threads_count_against_thread_limit,
        ),
        (
            "os_process_kill_9_reaches_linked_process_fast",
            kill_9_reaches_linked_process_fast,
        ),
        (
            "os_process_unserializable_message_is_error_at_send",
            unserializable_message_is_error_at_send,
        ),
        (
            "os_process_send_to_dead_child_hands_message_back",
            send_to_dead_child_hands_message_back,
        ),
        (
            "os_process_spawn_link_child_failure_reaches_parent",
            spawn_link_child_failure_reaches_parent,
        ),
        (
            "os_process_parent_process_failure_reaches_child",
            parent_process_failure_reaches_child,
        ),
        (
            "os_process_linked_exit_through_a_child_keeps_the_root_cause_flat",
            linked_exit_through_a_child_keeps_the_root_cause_flat,
        ),
        (
            "os_process_child_links_to_parent_process",
            child_links_to_parent_process,
        ),
        (
            "os_process_child_cannot_take_over_parents_root",
            child_cannot_take_over_parents_root,
        ),
        (
            "os_process_parent_kill_9_ends_children_within_1s",
            parent_kill_9_ends_children_within_1s,
        ),
        (
            "os_process_bad_frames_end_only_that_process",
            bad_frames_end_only_that_process,
        ),
        (
            "os_process_no_zombies_after_children_end",
            no_zombies_after_children_end,
        ),
        (
            "os_process_named_function_runs_as_os_process",
            named_function_runs_as_os_process,
        ),
        (
            "os_process_closure_is_refused_at_spawn",
            closure_is_refused_at_spawn,
        ),
        (
            "os_process_start_up_error_ends_the_process_with_that_error",
            start_up_error_ends_the_process_with_that_error,
        ),
        (
            "os_process_start_up_panic_ends_the_process_with_the_panic_message",
            start_up_panic_ends_the_process_with_the_panic_message,
        ),
        (
            "os_process_messages_sent_during_start_up_wait_for_it",
            messages_sent_during_start_up_wait_for_it,
        ),
        (
            "os_process_terminate_with_a_reason_reaches_linked_processes_as_their_cause",
            terminate_with_a_reason_reaches_linked_processes_as_their_cause,
        ),
        (
            "os_process_one_way_link_does_not_notify_the_child_when_the_named_process_ends",
            one_way_link_does_not_notify_the_child_when_the_named_process_ends,
        ),
        (
            "os_process_linking_to_a_dead_process_delivers_its_exit_at_once",
            linking_to_a_dead_process_delivers_its_exit_at_once,
        ),
        (
            "os_process_process_whose_last_pid_is_dropped_ends_normally",
            process_whose_last_pid_is_dropped_ends_normally,
        ),
        (
            "os_process_no_exit_reaches_processes_that_are_not_linked",
            no_exit_reaches_processes_that_are_not_linked,
        ),
        (
            "os_process_terminate_then_message_keep_their_order_between_siblings",
            terminate_then_message_keep_their_order_between_siblings,
        ),
        (
            "os_process_linked_exit_names_its_peer_in_a_third_os_process",
            linked_exit_names_its_peer_in_a_third_os_process,
        ),
        (
            "os_process_pid_sent_as_its_process_ends_ends_here_too",
            pid_sent_as_its_process_ends_ends_here_too,
        ),
        (
            "os_process_child_without_the_hook_exits_at_once",
            child_without_the_hook_exits_at_once,
        ),
        (
            "os_process_unregistered_type_or_function_is_refused_at_spawn",
            unregistered_type_or_function_is_refused_at_spawn,
        ),
    ];
    let tests = tests.into_iter().chain(hostile::TESTS.iter().copied());
    let trials = tests.map(|(name, test)| Trial::test(name, test)).collect();
    libtest_mimic::run(&args, trials).exit();
}

/// Whether the run shows the figures tests measure (`--nocapture`).
static FIGURES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints a figure a test measured, when the run shows them.
fn figure(text: std::fmt::Arguments<'_>) {
    if FIGURES.load(std::sync::atomic::Ordering::Relaxed) {
        println!("{text}");
    }
}

fn echo(tag: &str) -> Spawn {
    Spawn::os_process(Echo {
        tag: tag.into(),
        ticks: 0,
    })
}

/// A process in this program that reports every `(String, Term)` message.
fn collector(root: &Root) -> (Pid, Receiver<(String, Term)>) {
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(
                pattern!(String, Term),
                move |_, (tag, value): (String, Term)| {
                    let _ = tx.send((tag, value));
                },
            )
        })
        .expect("spawn the collector");
    (pid, rx)
}

/// A process in this program that reports the linked exits it traps.
fn trapper(root: &Root) -> (Pid, Receiver<(Instant, Exit, Pid)>) {
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!(Exit, Pid), move |_, (exit, from): (Exit, Pid)| {
                let _ = tx.send((Instant::now(), exit, from));
            })
        })
        .expect("spawn the trapper");
    (pid, rx)
}

fn recv<T>(rx: &Receiver<T>) -> Result<T, Failed> {
    rx.recv_timeout(DEADLINE)
        .map_err(|_| "expected a report before the deadline".into())
}

fn wait(pid: &Pid) -> Result<Exit, Failed> {
    pid.wait_timeout(DEADLINE)
        .map_err(|e| format!("{pid:?} did not end before the deadline: {e}").into())
}

fn check(ok: bool, what: impl Into<String>) -> Result<(), Failed> {
    if ok { Ok(()) } else { Err(what.into().into()) }
}

fn os_pid(child: &Pid, root: &Root) -> Result<u32, Failed> {
    let (collector, rx) = collector(root);
    child.send(("os pid", &collector))?;
    let (_, pid) = recv(&rx)?;
    pid.into_value::<u32>()
        .map_err(|t| format!("not a pid: {t:?}").into())
}

fn kill(signal: &str, pid: u32) -> Result<(), Failed> {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()?;
    check(status.success(), "kill failed")
}

fn messages_route_both_ways() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("echoed"))?;
    let (collector, rx) = collector(&root);
    for i in 0..100 {
        child.send(("echo", &collector, (i, "text", vec![1.5, 2.5])))?;
    }
    for i in 0..100 {
        let (tag, value) = recv(&rx)?;
        check(tag == "echoed", "tag")?;
        check(
            format!("{value:?}") == format!("({i}, \"text\", [1.5, 2.5])"),
            format!("{value:?}"),
        )?;
    }
    child.terminate();
    check(wait(&child)?.is_normal(), "normal end")
}

/// Threads sending at once share the connection: each one's messages
/// arrive complete and in its order.
fn many_senders_keep_their_order() -> Result<(), Failed> {
    const SENDERS: i64 = 4;
    const EACH: i64 = 5_000;
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    let (collector, rx) = collector(&root);
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (child, collector) = (child.clone(), collector.clone());
            std::thread::spawn(move || {
                for seq in 0..EACH {
                    if child.send(("echo", &collector, (sender, seq))).is_err() {
                        return false;
                    }
                }
                true
            })
        })
        .collect();
    for sender in senders {
        check(sender.join().unwrap_or(false), "every send accepted")?;
    }
    let mut next = vec![0; SENDERS as usize];
    for _ in 0..SENDERS * EACH {
        let (_, value) = recv(&rx)?;
        let (sender, seq) = value
            .into_value::<(i64, i64)>()
            .map_err(|t| format!("not (sender, seq): {t:?}"))?;
        let expected = &mut next[sender as usize];
        check(
            seq == *expected,
            format!("sender {sender}: {seq} after {expected}"),
        )?;
        *expected += 1;
    }
    check(next.iter().all(|&n| n == EACH), "every message echoed")
}

/// Threads that send a burst and end at once, many at a time: whatever
/// each queued before it ended reaches the child, before a message sent
/// after they were joined.
fn nothing_is_lost_from_senders_that_exit() -> Result<(), Failed> {
    const ROUNDS: u64 = 20;
    const THREADS: u64 = 8;
    const EACH: u64 = 5_000;
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    for _ in 0..ROUNDS {
        let senders: Vec<_> = (0..THREADS)
            .map(|_| {
                let child = child.clone();
                std::thread::spawn(move || (0..EACH).all(|_| child.send("tick").is_ok()))
            })
            .collect();
        for sender in senders {
            check(sender.join().unwrap_or(false), "every send accepted")?;
        }
    }
    let (collector, rx) = collector(&root);
    child.send(("ticks", &collector))?;
    let (_, ticks) = recv(&rx)?;
    check(
        ticks == Term::Int((ROUNDS * THREADS * EACH).into()),
        format!("{ticks:?} of {}", ROUNDS * THREADS * EACH),
    )
}

/// A process's messages to a child, then its end: the child handles every
/// message before the exit signal that ends it (they travel separately,
/// the messages from the process's own thread and the exit from the
/// connection's watcher).
fn messages_before_an_end_come_before_its_exit() -> Result<(), Failed> {
    const MESSAGES: i64 = 2_000;
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    let (trapper, exits) = trapper(&root);
    child.send(("link", &trapper))?;
    let (collector, rx) = collector(&root);
    let sender = {
        let (to, collector) = (child.clone(), collector.clone());
        let send_then_fail = move |_: &mut Ctx| -> Result<(), BoxError> {
            for i in 0..MESSAGES {
                to.send(("echo", &collector, i))
                    .map_err(|e| e.to_string())?;
            }
            Err("sender done".into())
        };
        root.spawn(Spawn::new(send_then_fail).link_to(&child))?
    };
    for i in 0..MESSAGES {
        check(recv(&rx)?.1 == Term::Int(i.into()), "every echo, in order")?;
    }
    // The child's linked exit crosses back whole: its peer is the sender
    // here, its cause the sender's own.
    linked_exit(&wait(&child)?, &sender, "sender done")?;
    check(
        wait(&sender)?.to_string() == "sender done",
        "the sender's end",
    )?;
    check(
        recv(&exits)?.2 == child,
        "the child's end told to the trapper",
    )
}

/// A sender waits while the child cannot read (stopped by SIGSTOP), so what
/// the connection holds stays bounded, and goes on once the child reads
/// again; nothing is lost.
fn senders_wait_while_the_child_is_stopped() -> Result<(), Failed> {
    // Each `"tick"` frame is about 10 bytes: together, several times what
    // the socket and a sender's buffer hold.
    const SENDERS: u64 = 2;
    const EACH: u64 = 1_000_000;
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    let pid = os_pid(&child, &root)?;
    kill("-STOP", pid)?;
    let (done, finished) = mpsc::channel();
    for _ in 0..SENDERS {
        let (child, done) = (child.clone(), done.clone());
        std::thread::spawn(move || {
            let sent = (0..EACH).filter(|_| child.send("tick").is_ok()).count();
            let _ = done.send(sent as u64);
        });
    }
    let early = finished.recv_timeout(Duration::from_millis(500));
    kill("-CONT", pid)?;
    check(
        early.is_err(),
        "a sender finished while the child was stopped",
    )?;
    for _ in 0..SENDERS {
        check(recv(&finished)? == EACH, "every send accepted")?;
    }
    let (collector, rx) = collector(&root);
    child.send(("ticks", &collector))?;
    let (_, ticks) = recv(&rx)?;
    check(
        ticks == Term::Int((SENDERS * EACH).into()),
        format!("{ticks:?}"),
    )
}

fn child_pid_is_the_spawned_pid() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("x").name("echoer"))?;
    let (collector, rx) = collector(&root);
    child.send(("me", &collector))?;
    let (_, me) = recv(&rx)?;
    let me = me.into_value::<Pid>().map_err(|_| "not a pid")?;
    check(me == child, format!("{me:?} is not {child:?}"))?;
    check(
        format!("{child:?}").starts_with("<#OsProcess: echoer ["),
        format!("{child:?}"),
    )?;
    // The handle that came back works like the one spawn returned.
    me.send(("echo", &collector, 7))?;
    check(
        recv(&rx)?.1 == Term::Int(7),
        "echo through the returned pid",
    )
}

fn terminate_is_queued_behind_messages() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    let (collector, rx) = collector(&root);
    for i in 0..10 {
        child.send(("echo", &collector, i))?;
    }
    child.terminate_with("enough");
    let exit = wait(&child)?;
    for i in 0..10 {
        check(recv(&rx)?.1 == Term::Int(i), "every echo before the end")?;
    }
    check(exit.to_string() == "enough", exit.to_string())
}

fn handler_error_is_the_exit() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    child.send("fail")?;
    let exit = wait(&child)?;
    check(exit.to_string() == "failed in the child", exit.to_string())
}

fn panic_is_the_exit() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    child.send("panic")?;
    let exit = wait(&child)?;
    let panicked = exit.downcast_ref::<Panicked>().ok_or("not Panicked")?;
    check(
        panicked.message == "deliberate: boom in the child",
        exit.to_string(),
    )
}

fn unhandled_message_ends_child() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    child.send(2)?;
    let exit = wait(&child)?;
    check(
        exit.to_string() == "unhandled message: (2,)",
        exit.to_string(),
    )
}

fn exit_code_names_the_code() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    child.send(("exit code", 3))?;
    let exit = wait(&child)?;
    check(
        exit.downcast_ref::<OsProcessError>() == Some(&OsProcessError::Exited { code: 3 }),
        exit.to_string(),
    )?;
    check(
        exit.to_string() == "OS process exited with code 3",
        exit.to_string(),
    )
}

fn abort_names_sigabrt() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    child.send("abort")?;
    let exit = wait(&child)?;
    check(
        exit.to_string() == "OS process killed by signal 6 (SIGABRT)",
        exit.to_string(),
    )
}

fn sigsegv_reaches_linked_process() -> Result<(), Failed> {
    let root = Root::new();
    let (trapper, exits) = trapper(&root);
    let child = root.spawn(echo("e").link_to(&trapper))?;
    let pid = os_pid(&child, &root)?;
    // std's stack-overflow handler takes the first SIGSEGV a Rust program
    // gets and, finding no guard-page fault, puts back the default action
    // and returns (a real fault would strike again; a sent signal does
    // not). So the signal is sent until it lands with the default action:
    // twice, or a third time if the second arrived before the first was
    // handled. The assertion does not depend on the timing.
    let deadline = Instant::now() + DEADLINE;
    let mut sent = 0;
    let (exit, from) = loop {
        check(Instant::now() < deadline, "the child outlived SIGSEGV")?;
        // Only to a child not yet reaped (its pid still its own); a kill
        // that loses the race with the reaping fails harmlessly.
        if child.is_alive() {
            let _ = Command::new("kill")
                .args(["-SEGV", &pid.to_string()])
                .stderr(Stdio::null())
                .status()?;
            sent += 1;
        }
        if let Ok((_, exit, from)) = exits.recv_timeout(Duration::from_millis(100)) {
            break (exit, from);
        }
    };
    figure(format_args!("SIGSEGV sent {sent} times"));
    check(from == child, "from the child")?;
    check(
        exit.downcast_ref::<OsProcessError>()
            == Some(&OsProcessError::Signaled {
                signal: 11,
                name: "SIGSEGV",
            }),
        format!("{exit:?}"),
    )?;
    check(
        exit.to_string() == "OS process killed by signal 11 (SIGSEGV)",
        exit.to_string(),
    )
}

fn kill_9_reaches_linked_process_fast() -> Result<(), Failed> {
    let root = Root::new();
    let (trapper, exits) = trapper(&root);
    let child = root.spawn(echo("e").link_to(&trapper))?;
    let pid = os_pid(&child, &root)?;
    let before = Instant::now();
    kill("-9", pid)?;
    let (at, exit, from) = recv(&exits)?;
    let latency = at - before;
    figure(format_args!(
        "kill -9 of the child to linked exit: {latency:?}"
    ));
    check(from == child, "from the child")?;
    check(
        exit.to_string() == "OS process killed by signal 9 (SIGKILL)",
        exit.to_string(),
    )?;
    check(latency < Duration::from_millis(500), format!("{latency:?}"))?;
    wait(&child)?;
    check(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the child is reaped",
    )
}

/// An opaque value: it has no serialized form.
struct Secret;
impl Opaque for Secret {}

fn unserializable_message_is_error_at_send() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    let err = child.send(("echo", 1, Secret)).unwrap_err();
    check(
        err.reason() == SendFailure::Unserializable { element: 2 },
        format!("{err:?}"),
    )?;
    check(err.to_string().contains("element 2"), err.to_string())?;
    check(err.into_inner().len() == 3, "the message is handed back")?;
    check(child.is_alive(), "the child lives on")?;
    child.terminate();
    wait(&child).map(drop)
}

fn send_to_dead_child_hands_message_back() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    child.terminate();
    wait(&child)?;
    let err = child.send(("hello", 1)).unwrap_err();
    check(err.reason() == SendFailure::Ended, format!("{err:?}"))
}

fn spawn_link_child_failure_reaches_parent() -> Result<(), Failed> {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let parent = root.spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
        let child = ctx.spawn_link(echo("e"))?;
        child.send("panic").map_err(|e| e.to_string())?;
        let _ = tx.send(child);
        Ok(())
    })?;
    let child = recv(&rx)?;
    let exit = wait(&parent)?;
    let linked = exit.downcast_ref::<LinkedExit>().ok_or("not LinkedExit")?;
    check(linked.peer == child, "the peer is the child")?;
    check(
        linked.cause.downcast_ref::<Panicked>().is_some(),
        exit.to_string(),
    )
}

fn parent_process_failure_reaches_child() -> Result<(), Failed> {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let parent = root.spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
        let child = ctx.spawn_link(echo("e"))?;
        let _ = tx.send(child);
        ctx.receive(pattern!("fail"), |_, ()| -> Result<(), BoxError> {
            Err("the parent failed".into())
        })?;
        Ok(())
    })?;
    let child = recv(&rx)?;
    parent.send("fail")?;
    linked_exit(&wait(&child)?, &parent, "the parent failed")
}

/// A cascade through a child OS process passes the root cause on flat, as
/// between threads: local process → child → local trapper.
fn linked_exit_through_a_child_keeps_the_root_cause_flat() -> Result<(), Failed> {
    let root = Root::new();
    let (trapper, exits) = trapper(&root);
    let child = root.spawn(echo("e").link_to(&trapper))?;
    let first = root.spawn(Spawn::new(fails_on_request).link_to(&child))?;
    first.send("fail")?;
    let (_, exit, from) = recv(&exits)?;
    check(from == child, "the child's end reaches the trapper")?;
    linked_exit(&exit, &first, "first failure")
}

/// Checks that `exit` is a linked exit from `peer` whose cause, flat (not
/// itself a linked exit), reads `cause`.
fn linked_exit(exit: &Exit, peer: &Pid, cause: &str) -> Result<(), Failed> {
    let linked = exit
        .downcast_ref::<LinkedExit>()
        .ok_or_else(|| format!("not a linked exit: {exit:?}"))?;
    check(
        linked.peer == *peer
            && linked.cause.downcast_ref::<LinkedExit>().is_none()
            && linked.cause.to_string() == cause,
        format!("{exit:?}"),
    )
}

/// A process that fails with "first failure" when told `"fail"`.
fn fails_on_request(ctx: &mut Ctx) -> Result<(), paragram::PatternError> {
    ctx.receive(pattern!("fail"), |_, ()| -> Result<(), BoxError> {
        Err("first failure".into())
    })
}

fn child_links_to_parent_process() -> Result<(), Failed> {
    let root = Root::new();
    let (trapper, exits) = trapper(&root);
    let child = root.spawn(echo("e"))?;
    child.send(("link", &trapper))?;
    // The link is in place once an echo sent after it comes back.
    let (collector, rx) = collector(&root);
    child.send(("echo", &collector, 1))?;
    recv(&rx)?;
    child.send("fail")?;
    let (_, exit, from) = recv(&exits)?;
    check(from == child, "from the child")?;
    check(exit.to_string() == "failed in the child", exit.to_string())?;
    check(
        exits.recv_timeout(Duration::from_millis(200)).is_err(),
        "exactly one exit",
    )
}

/// Checks that the next report is the echo of `value` from the child
/// tagged `tag`.
fn echoed(rx: &Receiver<(String, Term)>, tag: &str, value: i64) -> Result<(), Failed> {
    let (got, term) = recv(rx)?;
    check(
        got == tag && term == Term::Int(value.into()),
        format!("{got} {term:?}"),
    )
}

fn sibling_pid_can_be_sent_to() -> Result<(), Failed> {
    let root = Root::new();
    let a = root.spawn(echo("a"))?;
    let b = root.spawn(echo("b"))?;
    let (collector, rx) = collector(&root);
    // The Pid spawn returned, passed on to the second child.
    b.send(("relay", &a, &collector, 5))?;
    echoed(&rx, "a", 5)?;
    // The first child's own Pid, as it sent it, passed on the same way.
    a.send(("me", &collector))?;
    let me = recv(&rx)?.1.into_value::<Pid>().map_err(|_| "not a pid")?;
    check(me == a, "the child's own pid is the spawned pid")?;
    b.send(("relay", &me, &collector, 6))?;
    echoed(&rx, "a", 6)?;
    for child in [&a, &b] {
        child.terminate();
        check(wait(child)?.is_normal(), "normal end")?;
    }
    Ok(())
}

fn parent_pid_passes_from_child_to_sibling() -> Result<(), Failed> {
    let root = Root::new();
    let a = root.spawn(echo("a"))?;
    let b = root.spawn(echo("b"))?;
    let (collector, rx) = collector(&root);
    // The collector's Pid goes to the first child, which hands it to the
    // second in a message; the second answers the collector.
    a.send(("relay", &b, &collector, 7))?;
    echoed(&rx, "b", 7)?;
    // And back: the second child hands it to the first.
    b.send(("relay", &a, &collector, 8))?;
    echoed(&rx, "a", 8)
}

fn sibling_link_carries_exits_both_ways() -> Result<(), Failed> {
    for linker_fails in [false, true] {
        let root = Root::new();
        let (trapper, exits) = trapper(&root);
        let a = root.spawn(echo("a").link_to(&trapper))?;
        let b = root.spawn(echo("b").link_to(&trapper))?;
        a.send(("link", &b))?;
        // The link is in place in both children once an echo sent after
        // it comes back: the parent passes it on to the second child
        // before it reads the echo.
        let (collector, rx) = collector(&root);
        a.send(("echo", &collector, 1))?;
        recv(&rx)?;
        let (failing, other) = if linker_fails { (&a, &b) } else { (&b, &a) };
        failing.send("fail")?;
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (_, exit, from) = recv(&exits)?;
            seen.push((from, exit.to_string()));
        }
        let failed = seen.iter().find(|(from, _)| from == failing);
        check(
            failed.is_some_and(|(_, text)| text == "failed in the child"),
            format!("{linker_fails}: {seen:?}"),
        )?;
        let linked = seen.iter().find(|(from, _)| from == other);
        check(
            linked.is_some_and(|(_, text)| text.contains("failed in the child")),
            format!("{linker_fails}: {seen:?}"),
        )?;
        check(
            exits.recv_timeout(Duration::from_millis(200)).is_err(),
            "exactly one exit each",
        )?;
    }
    Ok(())
}

/// Helper mode (`PARAGRAM_MAX_THREADS=16`): spawns OS processes until the
/// thread limit refuses one; prints how many started, or fails.
fn spawn_past_thread_limit() -> ! {
    let result = (|| -> Result<usize, Failed> {
        let root = Root::new();
        let (collector, rx) = collector(&root);
        let mut children = Vec::new();
        let refusal = loop {
            match root.spawn(echo("n")) {
                Ok(child) => children.push(child),
                Err(error) => break error,
            }
            check(children.len() <= 16, "no refusal")?;
        };
        check(
            matches!(refusal, paragram::SpawnError::ThreadLimit { limit: 16 }),
            refusal.to_string(),
        )?;
        for (i, child) in children.iter().enumerate() {
            child.send(("echo", &collector, i))?;
            check(recv(&rx)?.1 == Term::Int(i as i128), "every child answers")?;
        }
        let first = children.remove(0);
        first.terminate();
        wait(&first)?;
        let again = root.spawn(echo("again"))?;
        again.send(("echo", &collector, 99))?;
        check(
            recv(&rx)?.1 == Term::Int(99),
            "a spawn works after one ends",
        )?;
        Ok(children.len() + 1)
    })();
    match result {
        Ok(count) => {
            println!("{count}");
            std::process::exit(0);
        }
        Err(failed) => {
            eprintln!("{failed:?}");
            std::process::exit(1);
        }
    }
}

fn connection_threads_count_against_thread_limit() -> Result<(), Failed> {
    let mut helper = Command::new(std::env::current_exe()?)
        .env("PARAGRAM_TEST_THREAD_LIMIT", "1")
        .env("PARAGRAM_MAX_THREADS", "16")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = helper.stdout.take().ok_or("stdout")?;
    let mut stderr = helper.stderr.take().ok_or("stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut out, mut err) = (String::new(), String::new());
        let _ = stdout.read_to_string(&mut out);
        let _ = stderr.read_to_string(&mut err);
        let _ = tx.send((out, err));
    });
    let Ok((out, err)) = rx.recv_timeout(DEADLINE) else {
        let _ = helper.kill();
        let _ = helper.wait();
        return Err("the helper hangs".into());
    };
    let status = helper.wait()?;
    check(status.success(), format!("{status}: {err}"))?;
    // The root and the collector take 2 of the 16 places; each child its
    // reader, watcher and proxy: 3.
    check(out.trim() == "4", format!("{out} children"))
}

fn child_cannot_take_over_parents_root() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("e"))?;
    let (collector, rx) = collector(&root);
    child.send(("root", &collector, root.pid()))?;
    let (_, value) = recv(&rx)?;
    check(
        format!("{value:?}") == "(false, true)",
        format!("{value:?}"),
    )?;
    check(root.is_alive(), "the parent's root lives on")?;
    child.terminate();
    wait(&child).map(drop)
}

/// Helper mode: spawn a child, print its OS pid, wait to be killed.
fn parent_to_be_killed() -> ! {
    let root = Root::new();
    let child = root.spawn(echo("orphan")).expect("spawn");
    let pid = os_pid(&child, &root).expect("os pid");
    println!("{pid}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    std::process::exit(0);
}

fn parent_kill_9_ends_children_within_1s() -> Result<(), Failed> {
    let mut parent = Command::new(std::env::current_exe()?)
        .env("PARAGRAM_TEST_PARENT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdout = BufReader::new(parent.stdout.take().ok_or("stdout")?);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let _ = tx.send(line);
        // EOF once every holder of the pipe, the orphan included, is gone.
        let _ = stdout.read_to_end(&mut Vec::new());
        let _ = tx.send(String::new());
    });
    let child: u32 = recv(&rx)?.trim().parse()?;
    let before = Instant::now();
    parent.kill()?;
    parent.wait()?;
    recv(&rx)?;
    let latency = before.elapsed();
    figure(format_args!(
        "kill -9 of the parent to the child's exit: {latency:?} (child {child})"
    ));
    check(latency < Duration::from_secs(1), format!("{latency:?}"))
}

fn bad_frames_end_only_that_process() -> Result<(), Failed> {
    let root = Root::new();
    let bystander = root.spawn(echo("bystander"))?;
    let cases: [(&str, Vec<u8>); 3] = [
        ("huge length prefix", u32::MAX.to_le_bytes().to_vec()),
        ("garbage", vec![5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff]),
        ("unknown frame", vec![1, 0, 0, 0, 99]),
    ];
    for (what, bytes) in cases {
        let child = root.spawn(echo("victim"))?;
        child.send(("garbage", bytes))?;
        let exit = wait(&child)?;
        let text = exit.to_string();
        check(text.contains("protocol error"), format!("{what}: {text}"))?;
    }
    // EOF mid-frame: the child exits after writing half a frame. How it
    // exited is the truth, not the half frame it left.
    let child = root.spawn(echo("victim"))?;
    child.send(("garbage", vec![200, 0, 0, 0, 1, 2, 3]))?;
    child.send(("exit code", 0))?;
    let exit = wait(&child)?;
    check(
        exit.downcast_ref::<OsProcessError>() == Some(&OsProcessError::Exited { code: 0 }),
        format!("truncated: {exit}"),
    )?;
    let (collector, rx) = collector(&root);
    bystander.send(("echo", &collector, 1))?;
    check(recv(&rx)?.1 == Term::Int(1), "the bystander still answers")?;
    Ok(())
}

fn zombies() -> usize {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid ...
            let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let mut fields = after.split_whitespace();
            let state = fields.next();
            let ppid = fields.next();
            state == Some("Z") && ppid == Some(me.as_str())
        })
        .count()
}

fn no_zombies_after_children_end() -> Result<(), Failed> {
    let root = Root::new();
    let mut children = Vec::new();
    for how in ["terminate", "panic", "abort", "exit code", "kill"] {
        let child = root.spawn(echo(how))?;
        match how {
            "terminate" => child.terminate(),
            "exit code" => child.send(("exit code", 4))?,
            "kill" => kill("-9", os_pid(&child, &root)?)?,
            _ => child.send(how)?,
        }
        children.push(child);
    }
    for child in &children {
        wait(child)?;
    }
    let count = zombies();
    figure(format_args!("zombies after 5 children ended: {count}"));
    check(count == 0, format!("{count} zombies"))
}

fn unregistered_type_or_function_is_refused_at_spawn() -> Result<(), Failed> {
    #[derive(Process, Serialize, Deserialize)]
    struct Unregistered;
    #[paragram::process]
    impl Unregistered {}
    let root = Root::new();
    for (spawn, name) in [
        (Spawn::os_process(Unregistered), "Unregistered"),
        (Spawn::os_process_fn(unregistered, ()), "unregistered"),
    ] {
        let refused = root.spawn(spawn);
        let Err(error @ SpawnError::NotRegistered { hooked: true, .. }) = refused else {
            return Err(format!("{name}: expected NotRegistered, got {refused:?}").into());
        };
        check(
            error.to_string().contains(&format!(
                "{name}` is not registered in `paragram::os_process::hook`: add"
            )),
            error.to_string(),
        )?;
    }
    Ok(())
}

fn named_function_runs_as_os_process() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(Spawn::os_process_fn(adder, 40))?;
    let (collector, rx) = collector(&root);
    child.send(("add", &collector, 2))?;
    let (tag, sum) = recv(&rx)?;
    check(
        tag == "sum" && sum == Term::Int(42),
        format!("{tag} {sum:?}"),
    )?;
    let pid = os_pid(&child, &root)?;
    check(pid != std::process::id(), "runs in another OS process")?;
    child.terminate();
    check(wait(&child)?.is_normal(), "normal end")
}

fn closure_is_refused_at_spawn() -> Result<(), Failed> {
    let root = Root::new();
    let spawn = Spawn::os_process_fn(|_: &mut Ctx, _: i64| {}, 1);
    match root.spawn(spawn) {
        Err(SpawnError::Serialize(why)) => check(why.contains("is a closure"), why),
        other => Err(format!("expected a refusal, got {other:?}").into()),
    }
}

// The foundation's scenarios (tests/tests/scenarios.rs) that the tests
// above do not already cover, with the process under test in a child OS
// process.

fn start_up_error_ends_the_process_with_that_error() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(Spawn::os_process_fn(starts, "error".to_owned()))?;
    let exit = wait(&child)?;
    check(exit.to_string() == "bad start", exit.to_string())
}

fn start_up_panic_ends_the_process_with_the_panic_message() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(Spawn::os_process_fn(starts, "panic".to_owned()))?;
    let exit = wait(&child)?;
    let panicked = exit
        .downcast_ref::<Panicked>()
        .ok_or_else(|| format!("not a panic: {exit:?}"))?;
    check(
        panicked.message == "deliberate: panic at start",
        panicked.message.clone(),
    )
}

/// Sent before the child has even started: each message waits for the
/// start-up code that registers its receiver.
fn messages_sent_during_start_up_wait_for_it() -> Result<(), Failed> {
    let root = Root::new();
    let (collector, rx) = collector(&root);
    let child = root.spawn(Spawn::os_process_fn(adder, 1000))?;
    for i in 0..100 {
        child.send(("add", &collector, i))?;
    }
    for i in 0..100 {
        check(recv(&rx)?.1 == Term::Int(1000 + i), "every sum, in order")?;
    }
    check(child.is_alive(), "no message went unhandled")
}

fn terminate_with_a_reason_reaches_linked_processes_as_their_cause() -> Result<(), Failed> {
    let root = Root::new();
    let (trapper, exits) = trapper(&root);
    let child = root.spawn(echo("e").link_to(&trapper))?;
    child.terminate_with("shutting down");
    let (_, exit, from) = recv(&exits)?;
    check(from == child, "from the child")?;
    check(exit.to_string() == "shutting down", exit.to_string())
}

fn one_way_link_does_not_notify_the_child_when_the_named_process_ends() -> Result<(), Failed> {
    let root = Root::new();
    let (trapper, _exits) = trapper(&root);
    let child = root.spawn(echo("e").link_to(&trapper))?;
    trapper.terminate_with("the named process ended");
    wait(&trapper)?;
    let (collector, rx) = collector(&root);
    child.send(("echo", &collector, 5))?;
    check(recv(&rx)?.1 == Term::Int(5), "the child still answers")?;
    check(child.is_alive(), "the child lives on")
}

/// Erlang's `noproc`: a link to a process that has already ended delivers
/// its exit at once, here made from the child to a dead process of this
/// side.
fn linking_to_a_dead_process_delivers_its_exit_at_once() -> Result<(), Failed> {
    let root = Root::new();
    let dead = root.spawn(|_: &mut Ctx| -> Result<(), BoxError> { Err("long gone".into()) })?;
    wait(&dead)?;
    let child = root.spawn(echo("e"))?;
    child.send(("link", &dead))?;
    linked_exit(&wait(&child)?, &dead, "long gone")
}

/// No `Pid` of the child left anywhere, and nothing queued: it ends
/// normally, as a thread does.
fn process_whose_last_pid_is_dropped_ends_normally() -> Result<(), Failed> {
    let root = Root::new();
    let (trapper, exits) = trapper(&root);
    let child = root.spawn(echo("e").link_to(&trapper))?;
    let pid = os_pid(&child, &root)?;
    drop(child);
    let (_, exit, _) = recv(&exits)?;
    check(exit.is_normal(), format!("{exit:?}"))?;
    let deadline = Instant::now() + DEADLINE;
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        check(
            Instant::now() < deadline,
            "the child OS process outlived its process",
        )?;
        std::thread::yield_now();
    }
    Ok(())
}

fn no_exit_reaches_processes_that_are_not_linked() -> Result<(), Failed> {
    let root = Root::new();
    let (trapper, exits) = trapper(&root);
    // Reports the tag of every `(String, Term)` it gets; anything else (an
    // exit notification) would end it unhandled.
    let (bystander, seen) = collector(&root);
    let child = root.spawn(echo("from the child").link_to(&trapper))?;
    // The child knows the bystander, but is not linked to it.
    child.send(("echo", &bystander, 1))?;
    child.send("fail")?;
    recv(&exits)?;
    check(recv(&seen)?.0 == "from the child", "the echo")?;
    // Whatever the child's end sent is in by now: next comes the marker.
    bystander.send(("marker", 0))?;
    check(recv(&seen)?.0 == "marker", "only the marker")?;
    check(bystander.is_alive(), "the bystander is untouched")
}

/// A process in one child terminates a process in a sibling, then sends
/// it a message: the message is never handled (both cross the parent,
/// and keep their order there).
fn terminate_then_message_keep_their_order_between_siblings() -> Result<(), Failed> {
    let root = Root::new();
    let stopper = root.spawn(Spawn::os_process_fn(stop_then_echo, ()))?;
    for _ in 0..20 {
        let target = root.spawn(echo("not stopped"))?;
        let (collector, rx) = collector(&root);
        stopper.send(("stop, then echo", &target, &collector))?;
        let exit = wait(&target)?;
        check(exit.to_string() == "stop", exit.to_string())?;
        // An echo, had the target handled one, reached the collector before
        // its end did: the collector reports the marker first.
        collector.send(("marker", 0))?;
        check(
            recv(&rx)?.0 == "marker",
            "the message after the terminate was handled",
        )?;
    }
    Ok(())
}

/// A linked exit that passes through a third OS process names its peer as
/// that OS process knows it: a process in child B fails, a process here
/// linked to it dies of that, and a process in child A linked to that one
/// finds the peer of the exit equal to its own `Pid` of the process in B.
fn linked_exit_names_its_peer_in_a_third_os_process() -> Result<(), Failed> {
    let root = Root::new();
    let failing = root.spawn(echo("b"))?;
    let between = root.spawn(|ctx: &mut Ctx| ctx.receive(pattern!("never"), |_, ()| {}))?;
    let (collector, rx) = collector(&root);
    failing.send(("link", &between))?;
    failing.send(("echo", &collector, 1))?;
    recv(&rx)?;
    let watcher = root.spawn(Spawn::os_process_fn(names_the_peer, ()))?;
    watcher.send(("watch", &between, &failing, &collector))?;
    check(recv(&rx)?.0 == "watching", "the watcher is linked")?;
    failing.send("fail")?;
    linked_exit(&wait(&between)?, &failing, "failed in the child")?;
    let (tag, named) = recv(&rx)?;
    check(
        tag == "names the peer" && named == Term::Bool(true),
        format!("{tag} {named:?}"),
    )
}

/// A child sends the `Pid` of one of its processes just as that process
/// ends: the end reaches the handle here, however the two cross. (When
/// the handle was named alive and the end was told first, the proxy made
/// for the handle never ended.)
fn pid_sent_as_its_process_ends_ends_here_too() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(Spawn::os_process_fn(sends_a_pid_as_it_ends, 200_000))?;
    for _ in 0..10 {
        let (collector, rx) = collector(&root);
        child.send(("go", &collector))?;
        let (tag, value) = recv(&rx)?;
        check(tag == "worker", tag)?;
        let (worker, _): (Pid, Vec<i64>) = value
            .into_value()
            .map_err(|t| format!("not (Pid, list): {t:?}"))?;
        check(
            wait(&worker)?.is_normal(),
            "the worker's end reached its handle",
        )?;
    }
    Ok(())
}

/// A program whose `main` forgets the hook, started as a child, exits at
/// its first root instead of running `main` again (which would spawn a
/// child that does the same, and so on).
fn child_without_the_hook_exits_at_once() -> Result<(), Failed> {
    let output = Command::new(std::env::current_exe()?)
        .env("PARAGRAM_OS_PROCESS", "1")
        .env("PARAGRAM_TEST_NO_HOOK", "1")
        .stdin(Stdio::null())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    check(
        output.status.code() == Some(3),
        format!("{:?}", output.status),
    )?;
    check(
        stderr.contains("did not call `paragram::os_process::hook` first"),
        stderr.to_string(),
    )?;
    check(
        !String::from_utf8_lossy(&output.stdout).contains("main ran again"),
        "main went on",
    )
}
