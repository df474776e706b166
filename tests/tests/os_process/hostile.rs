//! Hostile input at the OS-process boundary, exits that must tell the
//! truth, and graceful ends: what is refused at `send` and `spawn`, what a
//! child's death is reported as, and what a child does with the messages it
//! already has when it is told to end.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use paragram::os_process::{MAX_DEPTH, MAX_FRAME, OsProcessError};
use paragram::{
    BoxError, Bytes, Ctx, Exit, LinkedExit, Pid, Root, SendFailure, Spawn, SpawnError, Term,
    UnhandledMessage, pattern,
};
use serde::{Deserialize, Serialize};

use super::{DEADLINE, Echo, Test, check, collector, echo, kill, os_pid, recv, wait};

pub const TESTS: &[(&str, Test)] = &[
    (
        "os_process_too_deep_or_too_large_is_refused_at_send",
        too_deep_or_too_large_is_refused_at_send,
    ),
    (
        "os_process_wait_status_wins_over_a_broken_stream",
        wait_status_wins_over_a_broken_stream,
    ),
    (
        "os_process_a_20_mib_unmatched_string_crosses_as_a_short_exit",
        a_20_mib_unmatched_string_crosses_as_a_short_exit,
    ),
    (
        "os_process_an_exit_whose_display_panics_crosses_and_the_connection_goes_on",
        an_exit_whose_display_panics_crosses_and_the_connection_goes_on,
    ),
    (
        "os_process_a_name_with_nul_bytes_crosses_as_it_is",
        a_name_with_nul_bytes_crosses_as_it_is,
    ),
    (
        "os_process_root_end_lets_children_handle_what_was_sent_first",
        root_end_lets_children_handle_what_was_sent_first,
    ),
    (
        "os_process_a_child_that_ignores_its_terminate_is_killed_after_its_timeout",
        a_child_that_ignores_its_terminate_is_killed_after_its_timeout,
    ),
    (
        "os_process_a_child_handles_what_it_received_before_its_parent_left",
        a_child_handles_what_it_received_before_its_parent_left,
    ),
    (
        "os_process_a_child_that_cannot_read_its_parent_says_why",
        a_child_that_cannot_read_its_parent_says_why,
    ),
    (
        "os_process_the_child_variable_set_by_hand_is_explained",
        the_child_variable_set_by_hand_is_explained,
    ),
    (
        "os_process_a_state_postcard_cannot_decode_is_refused_at_spawn",
        a_state_postcard_cannot_decode_is_refused_at_spawn,
    ),
    (
        "os_process_any_term_crosses_whole_or_is_handed_back",
        any_term_crosses_whole_or_is_handed_back,
    ),
    (
        "os_process_a_state_whose_drop_panics_is_contained_on_both_sides",
        a_state_whose_drop_panics_is_contained_on_both_sides,
    ),
    (
        "os_process_a_child_no_handle_reaches_still_hears_its_root_end",
        a_child_no_handle_reaches_still_hears_its_root_end,
    ),
    (
        "os_process_pids_in_the_state_cross_as_pids",
        pids_in_the_state_cross_as_pids,
    ),
];

/// A list nested `depth` deep around `0`.
fn deep(depth: usize) -> Term {
    let mut term = Term::Int(0);
    for _ in 0..depth {
        term = Term::list([term]);
    }
    term
}

/// Links to each process it is told of and reports every linked exit it
/// traps, as its text: `("watch", target, report)`.
pub fn traps(ctx: &mut Ctx, _: ()) -> Result<(), BoxError> {
    let report = Arc::new(std::sync::Mutex::new(None::<Pid>));
    let keep = report.clone();
    ctx.receive(
        pattern!("watch", Pid, Pid),
        move |ctx, (target, to): (Pid, Pid)| {
            ctx.link(&target);
            let _ = to.send(("watching", 0));
            *keep.lock().unwrap_or_else(|e| e.into_inner()) = Some(to);
        },
    )?;
    ctx.receive(pattern!(Exit, Pid), move |_, (exit, _): (Exit, Pid)| {
        let cause = exit
            .downcast_ref::<LinkedExit>()
            .map_or_else(|| exit.to_string(), |linked| linked.cause.to_string());
        if let Some(to) = &*report.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = to.send(("trapped", cause));
        }
    })?;
    Ok(())
}

fn too_deep_or_too_large_is_refused_at_send() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("deep"))?;
    let (collector, rx) = collector(&root);
    // As deep as the wire carries: it crosses, and comes back the same.
    child.send(("echo", &collector, deep(MAX_DEPTH)))?;
    let (_, back) = recv(&rx)?;
    check(back == deep(MAX_DEPTH), "the deepest message crosses whole")?;
    for depth in [MAX_DEPTH + 1, 9_000, 1_000_000] {
        let refused = child
            .send(("echo", &collector, deep(depth)))
            .expect_err("too deep to cross");
        check(
            refused.reason()
                == SendFailure::TooDeep {
                    element: 2,
                    most: MAX_DEPTH as u32,
                },
            format!("{depth}: {refused}"),
        )?;
        let back = refused.into_inner().into_terms();
        check(back[2] == deep(depth), "the message is handed back whole")?;
    }
    let big = Bytes(vec![7; MAX_FRAME]);
    let refused = child
        .send(("echo", &collector, big))
        .expect_err("too large");
    check(
        matches!(refused.reason(), SendFailure::TooLarge { bytes, .. } if bytes > MAX_FRAME as u64),
        refused.to_string(),
    )?;
    super::figure(format_args!("refused: {refused}"));
    let back = refused.into_inner().into_terms();
    check(
        back[2].is::<Bytes>() && back.len() == 3,
        "the large message is handed back",
    )?;
    // Nothing of the refused messages reached the child: it still answers.
    child.send(("echo", &collector, 1))?;
    check(recv(&rx)?.1 == Term::Int(1), "the child still answers")?;
    child.terminate();
    check(wait(&child)?.is_normal(), "the child ends normally")
}

/// A thread that sends `tick` to `child` until told to stop or refused.
fn stream_to(child: &Pid) -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (child, flag) = (child.clone(), stop.clone());
    let handle = std::thread::spawn(move || {
        let mut sent = 0;
        while !flag.load(Ordering::Relaxed) && child.send("tick").is_ok() {
            sent += 1;
        }
        sent
    });
    (stop, handle)
}

fn wait_status_wins_over_a_broken_stream() -> Result<(), Failed> {
    let root = Root::new();
    for round in 0..10 {
        let cases: [(&str, OsProcessError); 3] = [
            ("exit code", OsProcessError::Exited { code: 3 }),
            (
                "abort",
                OsProcessError::Signaled {
                    signal: 6,
                    name: "SIGABRT",
                },
            ),
            (
                "kill -9",
                OsProcessError::Signaled {
                    signal: 9,
                    name: "SIGKILL",
                },
            ),
        ];
        for (how, expected) in cases {
            let child = root.spawn(echo("streamed"))?;
            let os = os_pid(&child, &root)?;
            let (stop, streamer) = stream_to(&child);
            match how {
                "exit code" => child.send(("exit code", 3))?,
                "abort" => child.send("abort")?,
                _ => kill("-9", os)?,
            }
            let exit = wait(&child)?;
            stop.store(true, Ordering::Relaxed);
            let sent = streamer.join().map_err(|_| "the streamer panicked")?;
            check(
                exit.downcast_ref::<OsProcessError>() == Some(&expected),
                format!("round {round}, {how} after {sent} ticks: {exit}"),
            )?;
        }
    }
    Ok(())
}

fn a_20_mib_unmatched_string_crosses_as_a_short_exit() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("big"))?;
    child.send("z".repeat(20 << 20))?;
    let exit = wait(&child)?;
    let unhandled = exit
        .downcast_ref::<UnhandledMessage>()
        .ok_or_else(|| format!("expected an unhandled message, got {exit}"))?;
    check(
        unhandled.message.len() < 1100,
        format!("{} bytes of exit text", unhandled.message.len()),
    )?;
    check(
        unhandled
            .message
            .ends_with(&format!("… {} bytes more", (20 << 20) + 5 - 1024)),
        unhandled.message[1000..].to_owned(),
    )
}

/// An error whose `Display` panics.
#[derive(Debug)]
struct BadDisplay;
impl std::fmt::Display for BadDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bad ")?;
        panic!("deliberate: no text for you")
    }
}
impl std::error::Error for BadDisplay {}

fn an_exit_whose_display_panics_crosses_and_the_connection_goes_on() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(Spawn::os_process_fn(traps, ()))?;
    let (collector, rx) = collector(&root);
    let fails = |how: &'static str| {
        root.spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!("end"), move |_, ()| -> Result<(), BoxError> {
                match how {
                    "bad display" => Err(Box::new(BadDisplay)),
                    _ => Ok(()),
                }
            })
        })
    };
    let (first, second) = (fails("bad display")?, fails("normal")?);
    for watched in [&first, &second] {
        child.send(("watch", watched, &collector))?;
        check(recv(&rx)?.0 == "watching", "the child watches")?;
    }
    // The first ends with an error whose text panics: it crosses with the
    // text it has, and the connection's threads go on.
    first.send("end")?;
    let (tag, cause) = recv(&rx)?;
    check(
        tag == "trapped" && cause == Term::Str("bad <panicked while formatting>".into()),
        format!("{tag}: {cause}"),
    )?;
    second.terminate();
    let (tag, cause) = recv(&rx)?;
    check(
        tag == "trapped" && cause == Term::Str("normal".into()),
        format!("the next end still crosses: {tag}: {cause}"),
    )?;
    child.terminate();
    check(wait(&child)?.is_normal(), "the child ends normally")
}

fn a_name_with_nul_bytes_crosses_as_it_is() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(echo("nul").name("nul\0in\0name"))?;
    let (collector, rx) = collector(&root);
    child.send(("name", &collector))?;
    let (_, name) = recv(&rx)?;
    check(
        name == Term::Str("nul\0in\0name".into()),
        format!("{name:?}"),
    )?;
    check(child.name() == "nul\0in\0name", child.name().to_owned())?;
    let os = os_pid(&child, &root)?;
    child.terminate();
    check(wait(&child)?.is_normal(), "the child ends normally")?;
    check(
        !std::path::Path::new(&format!("/proc/{os}")).exists(),
        "reaped",
    )
}

fn root_end_lets_children_handle_what_was_sent_first() -> Result<(), Failed> {
    const CHILDREN: usize = 3;
    const EACH: i64 = 300;
    let ending = Root::new();
    let staying = Root::new();
    let (collector, rx) = collector(&staying);
    let children = (0..CHILDREN)
        .map(|i| ending.spawn(echo(&format!("child {i}"))))
        .collect::<Result<Vec<_>, _>>()?;
    for child in &children {
        for n in 0..EACH {
            child.send(("echo", &collector, n))?;
        }
    }
    ending.terminate();
    let mut got = [0; CHILDREN];
    for _ in 0..CHILDREN * EACH as usize {
        let (tag, n) = recv(&rx)?;
        let i: usize = tag.trim_start_matches("child ").parse()?;
        check(n == Term::Int(got[i]), format!("{tag}: {n} out of order"))?;
        got[i] += 1;
    }
    for child in &children {
        let exit = wait(child)?;
        check(
            exit.downcast_ref::<OsProcessError>() == Some(&OsProcessError::RootEnded),
            exit.to_string(),
        )?;
    }
    Ok(())
}

fn a_child_that_ignores_its_terminate_is_killed_after_its_timeout() -> Result<(), Failed> {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let root = Root::new();
    let idle = root.spawn(echo("idle").shutdown_timeout(TIMEOUT))?;
    let stuck = root.spawn(echo("stuck").shutdown_timeout(TIMEOUT))?;
    let pids = [os_pid(&idle, &root)?, os_pid(&stuck, &root)?];
    stuck.send("hang")?;
    let ended = Instant::now();
    root.terminate();
    let exit = wait(&idle)?;
    check(
        exit.downcast_ref::<OsProcessError>() == Some(&OsProcessError::RootEnded),
        format!("idle: {exit}"),
    )?;
    let exit = wait(&stuck)?;
    let after = ended.elapsed();
    check(
        exit.downcast_ref::<OsProcessError>()
            == Some(&OsProcessError::ShutdownTimeout { timeout: TIMEOUT }),
        format!("stuck: {exit}"),
    )?;
    check(after >= TIMEOUT, format!("killed after {after:?}"))?;
    super::figure(format_args!(
        "the stuck child ended {after:?} after its root, by {exit}"
    ));
    for pid in pids {
        check(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            format!("{pid} reaped"),
        )?;
    }
    Ok(())
}

const PRINTED: usize = 200;

/// Helper mode: spawn a child, queue lines for it to print, leave at once.
pub fn parent_that_leaves_at_once() -> ! {
    let root = Root::new();
    let child = root
        .spawn(Spawn::os_process(Echo {
            tag: "printer".into(),
            ticks: 0,
        }))
        .expect("spawn the child");
    for i in 0..PRINTED {
        child
            .send(("print", format!("line {i}")))
            .expect("the child is alive");
    }
    std::process::exit(0);
}

fn a_child_handles_what_it_received_before_its_parent_left() -> Result<(), Failed> {
    for round in 0..5 {
        let mut parent = Command::new(std::env::current_exe()?)
            .env("PARAGRAM_TEST_PARENT_PRINTS", "1")
            .stdout(Stdio::piped())
            .spawn()?;
        let mut out = parent.stdout.take().ok_or("no stdout")?;
        // Read to the end: the child holds the pipe until it exits.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        let text = rx
            .recv_timeout(DEADLINE)
            .map_err(|_| "the child did not exit")?;
        let status = parent.wait()?;
        check(status.success(), format!("the parent: {status}"))?;
        let lines: Vec<&str> = text.lines().collect();
        check(
            lines.len() == PRINTED
                && lines
                    .iter()
                    .enumerate()
                    .all(|(i, l)| *l == format!("line {i}")),
            format!("round {round}: {} of {PRINTED} lines", lines.len()),
        )?;
    }
    Ok(())
}

fn a_child_that_cannot_read_its_parent_says_why() -> Result<(), Failed> {
    let (ours, theirs) = UnixStream::pair()?;
    let mut child = Command::new(std::env::current_exe()?)
        .env("PARAGRAM_OS_PROCESS", std::process::id().to_string())
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stderr(Stdio::piped())
        .spawn()?;
    let name = std::any::type_name_of_val(&super::adder);
    let state = postcard::to_allocvec(&40i64)?;
    (&ours).write_all(&paragram::os_process::init_frame(name, state, "fed"))?;
    // A frame that is not one.
    (&ours).write_all(&[5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff])?;
    ours.set_read_timeout(Some(DEADLINE))?;
    let mut bytes = Vec::new();
    (&ours).read_to_end(&mut bytes)?;
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .ok_or("no stderr")?
        .read_to_string(&mut stderr)?;
    let status = child.wait()?;
    check(
        stderr.contains("could not read its parent's frames"),
        format!("stderr: {stderr}"),
    )?;
    let frames = paragram::os_process::frames_text(&bytes);
    check(
        frames.len() == 1
            && frames[0].starts_with("Exited { id: 0, exit: OsProcess(Protocol(")
            && frames[0].contains("could not read its parent's frames: malformed frame"),
        format!("{frames:?}"),
    )?;
    check(status.code() == Some(2), format!("{status}"))
}

fn the_child_variable_set_by_hand_is_explained() -> Result<(), Failed> {
    for (value, says) in [
        ("1", "not the OS pid of this program's parent"),
        ("yes", "where a paragram parent puts its OS pid"),
        (
            &std::process::id().to_string()[..],
            "its stdin is not the socket",
        ),
    ] {
        let out = Command::new(std::env::current_exe()?)
            .env("PARAGRAM_OS_PROCESS", value)
            .stdin(Stdio::null())
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        check(
            out.status.code() == Some(2)
                && stderr.contains("PARAGRAM_OS_PROCESS is set")
                && stderr.contains(says),
            format!("{value}: {}: {stderr}", out.status),
        )?;
    }
    Ok(())
}

/// A state with an untagged enum: postcard encodes it, and cannot decode it.
#[derive(paragram::Process, Serialize, Deserialize)]
pub struct Untagged {
    either: Either,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
pub enum Either {
    Number(i64),
    Text(String),
}

#[paragram::process]
impl Untagged {}

fn a_state_postcard_cannot_decode_is_refused_at_spawn() -> Result<(), Failed> {
    let root = Root::new();
    for either in [Either::Number(1), Either::Text("one".into())] {
        let refused = root.spawn(Spawn::os_process(Untagged { either }));
        let Err(SpawnError::Serialize(why)) = refused else {
            return Err("expected a serialization error".into());
        };
        check(
            why.contains("hostile::Untagged") && why.contains("deserialize_any"),
            why,
        )?;
    }
    let fine = root.spawn(echo("fine"))?;
    fine.terminate();
    check(wait(&fine)?.is_normal(), "a later spawn works")
}

/// Generated terms sent to a child and echoed back: each comes back equal,
/// or, nested deeper than the wire carries, is refused and handed back
/// equal, and the child goes on.
fn any_term_crosses_whole_or_is_handed_back() -> Result<(), Failed> {
    use paragram_tests::terms::{any_term, chain, nested};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let root = Root::new();
    let child = root.spawn(echo("round trip"))?;
    let (collector, rx) = collector(&root);
    let strategy = prop_oneof![
        3 => any_term(),
        1 => (0..=MAX_DEPTH, nested(2, 3)).prop_map(|(depth, inner)| chain(depth, inner)),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |term| {
            let copy = term.try_clone().expect("copyable");
            match child.send(("echo", &collector, term)) {
                Ok(()) => {
                    let (_, back) = rx.recv_timeout(DEADLINE).expect("echoed");
                    prop_assert!(back == copy, "{} came back as {}", copy, back);
                }
                Err(refused) => {
                    prop_assert_eq!(
                        refused.reason(),
                        SendFailure::TooDeep {
                            element: 2,
                            most: MAX_DEPTH as u32
                        }
                    );
                    prop_assert!(copy.depth() > MAX_DEPTH);
                    let back = refused.into_inner().into_terms();
                    prop_assert!(back[2] == copy);
                }
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    child.terminate();
    check(wait(&child)?.is_normal(), "the child ends normally")
}

/// Panics when dropped, unless already panicking.
#[derive(Default)]
pub struct Landmine;

impl Drop for Landmine {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("deliberate: a landmine went off");
        }
    }
}

/// A process whose state panics when dropped: in the parent, where the
/// value spawned is dropped once serialized, and in the child, as the
/// process ends.
#[derive(paragram::Process, Serialize, Deserialize)]
pub struct Mined {
    #[serde(skip)]
    _mine: Landmine,
}

#[paragram::process]
impl Mined {
    #[receive("stop")]
    fn stop(&mut self, ctx: &mut Ctx) {
        ctx.terminate();
    }
}

fn a_state_whose_drop_panics_is_contained_on_both_sides() -> Result<(), Failed> {
    let root = Root::new();
    let child = root.spawn(Spawn::os_process(Mined { _mine: Landmine }))?;
    child.send("stop")?;
    let exit = wait(&child)?;
    check(exit.is_normal(), format!("the child ends normally: {exit}"))
}

/// A process that holds its own `Pid`, so it outlives every other handle.
pub fn keeps_itself(ctx: &mut Ctx, _: ()) -> Result<(), BoxError> {
    let me = ctx.me();
    ctx.receive(pattern!("never"), move |_, ()| {
        let _ = &me;
    })?;
    Ok(())
}

fn a_child_no_handle_reaches_still_hears_its_root_end() -> Result<(), Failed> {
    let ending = Root::new();
    let staying = Root::new();
    let (trapper, rx) = super::trapper(&staying);
    let child = ending.spawn(Spawn::os_process_fn(keeps_itself, ()).link_to(&trapper))?;
    // The parent tells the child no handle is left here; the child's
    // process lives on, holding its own.
    drop(child);
    ending.terminate();
    let (_, exit, _) = recv(&rx)?;
    check(
        exit.downcast_ref::<OsProcessError>() == Some(&OsProcessError::RootEnded),
        exit.to_string(),
    )
}

/// A process whose state names other processes: one to report to, and a
/// sibling in another child OS process.
#[derive(paragram::Process, Serialize, Deserialize)]
pub struct Reporter {
    to: Pid,
    sibling: Option<Pid>,
}

#[paragram::process]
impl Reporter {
    #[start]
    fn start(&mut self, ctx: &mut Ctx) -> Result<(), BoxError> {
        self.to.send(("started", ctx.name()))?;
        Ok(())
    }

    #[receive("report", i64)]
    fn report(&mut self, n: i64) -> Result<(), BoxError> {
        self.to.send(("report", n))?;
        Ok(())
    }

    #[receive("through the sibling", i64)]
    fn through_the_sibling(&mut self, n: i64) -> Result<(), BoxError> {
        if let Some(sibling) = &self.sibling {
            sibling.send(("echo", self.to.clone(), n))?;
        }
        Ok(())
    }
}

fn pids_in_the_state_cross_as_pids() -> Result<(), Failed> {
    let root = Root::new();
    let (collector, rx) = collector(&root);
    let sibling = root.spawn(echo("sibling"))?;
    let reporter = root.spawn(
        Spawn::os_process(Reporter {
            to: collector.clone(),
            sibling: Some(sibling.clone()),
        })
        .name("reporter"),
    )?;
    let started = recv(&rx)?;
    check(
        started == ("started".to_owned(), Term::Str("reporter".into())),
        format!("{started:?}"),
    )?;
    reporter.send(("report", 7))?;
    check(
        recv(&rx)? == ("report".to_owned(), Term::Int(7)),
        "reported",
    )?;
    reporter.send(("through the sibling", 9))?;
    check(
        recv(&rx)? == ("sibling".to_owned(), Term::Int(9)),
        "echoed by the sibling named in the state",
    )?;
    reporter.terminate();
    check(wait(&reporter)?.is_normal(), "the reporter ends normally")
}
