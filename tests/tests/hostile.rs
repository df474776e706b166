//! Hostile input: terms nested a million deep, user code that panics where
//! the runtime calls it, odd names, and operations that can never succeed.
//! Nothing may abort the program, hang a process or lose a message in
//! silence.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::mpsc;

use paragram::{
    BoxError, Ctx, Exit, IntoMessage, IntoTerm, LinkedExit, Opaque, Panicked, Pid, ReceiveError,
    Root, RootEnded, Spawn, SpawnError, Term, UnhandledMessage, WaitError, WaitTimeoutError,
    pattern,
};
use paragram_tests::terms::{any_term, nested};
use paragram_tests::{ended, quiet_deliberate_panics, recv};
use proptest::prelude::*;

/// Keeps the deliberate panics of this binary's hostile values quiet.
fn quiet() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(quiet_deliberate_panics);
}

/// A list nested `depth` deep around `0`: `[[[...[0]...]]]`.
fn deep(depth: usize) -> Term {
    let mut term = Term::Int(0);
    for _ in 0..depth {
        term = Term::list([term]);
    }
    term
}

const DEEP: usize = 1_000_000;

/// The smallest stack a thread can be given here and still run a process.
const SMALL_STACK: usize = 64 << 10;

fn hash(term: &Term) -> u64 {
    let mut hasher = DefaultHasher::new();
    term.hash(&mut hasher);
    hasher.finish()
}

#[test]
fn a_million_deep_term_is_dropped_compared_hashed_and_printed() {
    let term = deep(DEEP);
    assert_eq!(term.depth(), DEEP);
    let copy = term.try_clone().expect("no opaque value inside");
    assert_eq!(term, copy);
    assert_eq!(hash(&term), hash(&copy));
    assert!(term < deep(DEEP + 1));
    let text = format!("{term:?}");
    assert_eq!(text.len(), 2 * DEEP + 1);
    assert_eq!(&text[DEEP - 2..DEEP + 3], "[[0]]");
    assert!(term.is_serializable());
    drop((term, copy));
}

#[test]
fn a_million_deep_message_is_matched_bound_printed_and_dropped_on_a_64_kib_stack() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(
            Spawn::new(move |ctx: &mut Ctx| {
                // A predicate copies the term; a type pattern binds it.
                ctx.receive(
                    pattern!("check", |t: Term| t.depth() == DEEP),
                    move |_, (term,): (Term,)| {
                        let copy = term.try_clone();
                        let same = copy.as_ref() == Some(&term);
                        let printed = format!("{term}").len();
                        let _ = tx.send((same, printed, hash(&term)));
                    },
                )?;
                // A literal compares the term in place.
                ctx.receive(pattern!("key", {"k": _}), |_, ()| {})
            })
            .stack_size(SMALL_STACK),
        )
        .unwrap();
    pid.send(("check", deep(DEEP))).unwrap();
    let (same, printed, hashed) = recv(&rx);
    assert!(same, "the copy equals the original");
    assert_eq!(printed, 2 * DEEP + 1);
    assert_eq!(hashed, hash(&deep(DEEP)));
    // A map keyed by a deep term: lookups compare it.
    let map = Term::map([(deep(DEEP), Term::Int(1)), ("k".into_term(), Term::Int(2))]);
    pid.send(("key", map)).unwrap();
    // Unmatched: the exit names the message, within its limit.
    pid.send(("nobody matches this", deep(DEEP))).unwrap();
    let exit = ended(&pid);
    let unhandled = exit
        .downcast_ref::<UnhandledMessage>()
        .unwrap_or_else(|| panic!("expected an unhandled message, got {exit}"));
    assert!(
        unhandled
            .message
            .starts_with(r#"("nobody matches this", [[["#)
    );
    assert!(
        unhandled.message.len() < 1100,
        "{}",
        unhandled.message.len()
    );
    assert!(
        unhandled.message.ends_with(&format!(
            "… {} bytes more",
            2 * DEEP + 1 + r#"("nobody matches this", )"#.len() - 1024
        )),
        "{}",
        &unhandled.message[1000..]
    );
}

#[test]
fn deep_messages_queued_at_the_end_are_dropped_without_overflow() {
    let root = Root::new();
    let pid = root
        .spawn(
            Spawn::new(|ctx: &mut Ctx| {
                ctx.receive(pattern!("fail"), |_, ()| -> Result<(), BoxError> {
                    Err("fail".into())
                })
            })
            .stack_size(SMALL_STACK),
        )
        .unwrap();
    pid.send("fail").unwrap();
    for _ in 0..3 {
        // Each is queued behind the failure, or refused once it has ended.
        if let Err(error) = pid.send(deep(DEEP / 4)) {
            drop(error.into_inner());
        }
    }
    assert_eq!(ended(&pid).to_string(), "fail");
}

#[test]
fn a_20_mib_unmatched_string_makes_an_exit_text_of_about_a_kib() {
    let root = Root::new();
    let pid = root.spawn(|_: &mut Ctx| {}).unwrap();
    let big = "x".repeat(20 << 20);
    pid.send(big).unwrap();
    let exit = ended(&pid);
    let text = exit.to_string();
    assert!(text.len() < 1200, "{} bytes", text.len());
    assert!(
        text.ends_with(&format!("… {} bytes more", (20 << 20) + 5 - 1024)),
        "{}",
        &text[1000..]
    );
}

#[test]
fn a_20_mib_panic_message_makes_an_exit_text_of_about_a_kib() {
    let root = Root::new();
    let pid = root
        .spawn(|_: &mut Ctx| -> () { panic!("{}", "y".repeat(20 << 20)) })
        .unwrap();
    let exit = ended(&pid);
    let panicked = exit.downcast_ref::<Panicked>().expect("a panic");
    assert_eq!(panicked.message.len(), 1024 + "… 20970496 bytes more".len());
}

/// Panics when dropped.
struct Grenade;
impl Opaque for Grenade {}
impl Drop for Grenade {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("deliberate: a grenade went off");
        }
    }
}

/// A panic payload whose own `Drop` panics.
struct PanickyPayload;
impl Drop for PanickyPayload {
    fn drop(&mut self) {
        panic!("deliberate: the payload went off as it was dropped");
    }
}

/// An error whose `Display` panics.
#[derive(Debug)]
struct BadDisplay;
impl fmt::Display for BadDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad ")?;
        panic!("deliberate: no text for you")
    }
}
impl std::error::Error for BadDisplay {}

/// Spawns `process` under `root` with a one-way watcher; returns the
/// process and the channel of exits the watcher sees (which lives as long
/// as the channel: it holds the watcher's `Pid`).
fn watched(root: &Root, process: Spawn) -> (Pid, Watcher) {
    let (tx, rx) = mpsc::channel();
    let watcher = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!(Exit, Pid), move |_, (exit, from): (Exit, Pid)| {
                let _ = tx.send((exit, from));
            })
        })
        .unwrap();
    let pid = root.spawn(process.link_to(&watcher)).unwrap();
    (pid, Watcher { rx, _pid: watcher })
}

/// The exits a watcher sees; keeping it keeps the watcher.
struct Watcher {
    rx: mpsc::Receiver<(Exit, Pid)>,
    _pid: Pid,
}

impl std::ops::Deref for Watcher {
    type Target = mpsc::Receiver<(Exit, Pid)>;

    fn deref(&self) -> &Self::Target {
        &self.rx
    }
}

#[test]
fn a_panic_payload_that_panics_when_dropped_ends_only_its_process() {
    quiet();
    let root = Root::new();
    let (pid, rx) = watched(
        &root,
        Spawn::new(|ctx: &mut Ctx| {
            ctx.receive(pattern!("go"), |_, ()| -> () {
                std::panic::panic_any(PanickyPayload);
            })
        }),
    );
    pid.send("go").unwrap();
    let exit = ended(&pid);
    let panicked = exit.downcast_ref::<Panicked>().expect("a panic");
    assert_eq!(panicked.message, Panicked::NON_STRING);
    let (seen, from) = recv(&rx);
    assert_eq!(from, pid);
    assert_eq!(seen.to_string(), exit.to_string());
}

#[test]
fn an_exit_whose_display_panics_still_ends_the_process_and_reaches_its_links() {
    quiet();
    let root = Root::new();
    let (pid, rx) = watched(
        &root,
        Spawn::new(|ctx: &mut Ctx| {
            ctx.receive(pattern!("go"), |_, ()| -> Result<(), BadDisplay> {
                Err(BadDisplay)
            })
        }),
    );
    pid.send("go").unwrap();
    let exit = ended(&pid);
    assert_eq!(exit.to_string(), "bad <panicked while formatting>");
    assert!(exit.downcast_ref::<BadDisplay>().is_some());
    let (seen, _) = recv(&rx);
    assert_eq!(seen.to_string(), exit.to_string());
    // `terminate_with` makes the text on the caller's thread: it does not
    // panic there either.
    let other = root.spawn(|_: &mut Ctx| {}).unwrap();
    other.terminate_with(BadDisplay);
    assert_eq!(ended(&other).to_string(), "bad <panicked while formatting>");
}

#[test]
fn an_unmatched_message_holding_a_panicking_exit_and_grenades_ends_its_process() {
    quiet();
    let root = Root::new();
    let (pid, rx) = watched(&root, Spawn::new(|_: &mut Ctx| {}));
    let message = (
        Exit::with_error(BadDisplay),
        Grenade,
        Grenade,
        vec![deep(1_000), Grenade.into_term()],
    );
    pid.send(message).unwrap();
    let exit = ended(&pid);
    let text = exit.to_string();
    assert!(
        text.starts_with("unhandled message: (Exit(bad <panicked while formatting>), <"),
        "{text}"
    );
    assert_eq!(recv(&rx).0.to_string(), text);
}

#[test]
fn grenades_queued_at_the_end_are_each_dropped() {
    quiet();
    let root = Root::new();
    let (pid, rx) = watched(
        &root,
        Spawn::new(|ctx: &mut Ctx| {
            ctx.receive(pattern!("fail"), |_, ()| -> Result<(), BoxError> {
                Err("fail".into())
            })
        }),
    );
    pid.send("fail").unwrap();
    for _ in 0..100 {
        if let Err(error) = pid.send((Grenade, Grenade, (Grenade, deep(100)))) {
            // Handed back: dropping it here panics, as the type says.
            let back = error.into_inner();
            let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(back)));
            assert!(dropped.is_err());
        }
    }
    assert_eq!(ended(&pid).to_string(), "fail");
    assert_eq!(recv(&rx).0.to_string(), "fail");
}

/// Process state whose `Drop` panics.
struct Landmine;
impl Drop for Landmine {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("deliberate: a landmine went off");
        }
    }
}

#[test]
fn a_state_whose_drop_panics_is_contained_when_its_thread_cannot_start() {
    quiet();
    let root = Root::new();
    let mine = Landmine;
    let refused = root.spawn(
        Spawn::new(move |_: &mut Ctx| {
            let _kept = &mine;
        })
        .stack_size(1 << 46),
    );
    assert!(matches!(refused, Err(SpawnError::Os(_))), "{refused:?}");
    // The spawn returned an error rather than unwind: the root is intact.
    assert!(root.is_alive());
}

#[test]
fn a_name_with_nul_bytes_is_kept_as_it_is() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(
            Spawn::new(move |ctx: &mut Ctx| {
                let _ = tx.send(ctx.name().to_owned());
            })
            .name("nul\0in\0the\0name"),
        )
        .unwrap();
    assert_eq!(pid.name(), "nul\0in\0the\0name");
    assert_eq!(recv(&rx), "nul\0in\0the\0name");
    pid.terminate();
    assert!(ended(&pid).is_normal());
}

#[test]
fn a_name_longer_than_the_limit_is_refused_leaving_nothing() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel::<()>();
    let long = "n".repeat(paragram::MAX_NAME + 1);
    let refused = root.spawn(Spawn::new(move |_: &mut Ctx| drop(tx)).name(long));
    assert!(matches!(
        refused,
        Err(SpawnError::NameTooLong { len }) if len == paragram::MAX_NAME + 1
    ));
    // The closure was dropped, never run.
    assert_eq!(
        rx.recv_timeout(paragram_tests::DEADLINE),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
    let fits = root.spawn(Spawn::new(|_: &mut Ctx| {}).name("n".repeat(paragram::MAX_NAME)));
    assert!(fits.is_ok());
}

#[test]
fn waiting_on_yourself_is_an_error_not_a_hang() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(move |ctx: &mut Ctx| {
            ctx.receive(pattern!("wait"), move |ctx, ()| {
                let me = ctx.me();
                let _ = tx.send((me.wait(), me.wait_timeout(paragram_tests::DEADLINE * 100)));
            })
        })
        .unwrap();
    pid.send("wait").unwrap();
    let (wait, timed) = recv(&rx);
    assert_eq!(wait.unwrap_err(), WaitError::OwnProcess);
    assert_eq!(timed.unwrap_err(), WaitTimeoutError::OwnProcess);
    pid.terminate();
    assert!(ended(&pid).is_normal());
    // From outside, both wait as usual.
    assert!(pid.wait().unwrap().is_normal());
    let other = root.spawn(|_: &mut Ctx| {}).unwrap();
    assert_eq!(
        other.wait_timeout(std::time::Duration::ZERO).unwrap_err(),
        WaitTimeoutError::Timeout
    );
}

#[test]
fn an_ended_root_refuses_spawns_links_and_receivers() {
    let root = Root::new();
    let child = root
        .spawn_link(|ctx: &mut Ctx| {
            ctx.receive(pattern!("fail"), |_, ()| -> Result<(), BoxError> {
                Err("the child failed".into())
            })
        })
        .unwrap();
    child.send("fail").unwrap();
    let exit = ended(root.pid());
    assert!(exit.downcast_ref::<LinkedExit>().is_some(), "{exit}");
    assert!(matches!(
        root.spawn(|_: &mut Ctx| {}),
        Err(SpawnError::RootEnded)
    ));
    assert!(matches!(
        root.spawn_link(|_: &mut Ctx| {}),
        Err(SpawnError::RootEnded)
    ));
    let other = Root::new();
    let bystander = other.spawn(|_: &mut Ctx| {}).unwrap();
    assert_eq!(root.link(&bystander), Err(RootEnded));
    assert!(bystander.is_alive(), "a refused link delivers nothing");
    assert_eq!(
        root.receive(pattern!("x"), |_, ()| {}),
        Err(ReceiveError::RootEnded)
    );
}

#[test]
fn the_shared_root_after_its_linked_child_died_refuses_spawns() {
    let main = paragram::main();
    let child = main
        .spawn_link(|_: &mut Ctx| -> Result<(), BoxError> { Err("gone".into()) })
        .unwrap();
    assert_eq!(ended(&child).to_string(), "gone");
    ended(main.pid());
    assert!(matches!(
        paragram::main().spawn(|_: &mut Ctx| {}),
        Err(SpawnError::RootEnded)
    ));
    assert_eq!(
        paragram::main().receive(pattern!("x"), |_, ()| {}),
        Err(ReceiveError::RootEnded)
    );
}

/// A term with hostile values among its leaves: opaque values whose `Drop`
/// panics, exits whose error's `Display` panics.
fn hostile_term() -> impl Strategy<Value = Term> {
    let leaf = prop_oneof![
        4 => nested(1, 3),
        1 => Just(()).prop_map(|()| Grenade.into_term()),
        1 => Just(()).prop_map(|()| Term::Exit(Exit::with_error(BadDisplay))),
    ];
    leaf.prop_recursive(5, 64, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Term::list),
            proptest::collection::vec(inner, 0..5).prop_map(Term::tuple),
        ]
    })
}

/// Any name a user might give, NUL bytes and all.
fn odd_name() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(prop_oneof![Just('\0'), any::<char>()], 0..40)
            .prop_map(String::from_iter),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Copying, comparing, hashing and printing agree with one another.
    #[test]
    fn any_term_copies_compares_hashes_and_prints_consistently(a in any_term(), b in any_term()) {
        let copy = a.try_clone().expect("no opaque value inside");
        prop_assert!(copy == a);
        prop_assert_eq!(hash(&copy), hash(&a));
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        if a == b {
            prop_assert_eq!(hash(&a), hash(&b));
        }
        prop_assert_eq!(format!("{a:?}"), format!("{copy}"));
        prop_assert_eq!(copy.depth(), a.depth());
    }

    /// A message nobody matches ends its process, whatever it holds and
    /// whatever the process is called, with a text that is the message's
    /// own, cut to its limit; a watcher hears of it.
    #[test]
    fn any_unmatched_message_ends_its_process_with_its_bounded_text(
        term in any_term(),
        name in odd_name(),
    ) {
        let root = Root::new();
        let full = format!("{:?}", (term.try_clone().expect("copyable"),).into_term());
        let (pid, watcher) = watched(&root, Spawn::new(|_: &mut Ctx| {}).name(name.clone()));
        prop_assert_eq!(pid.name(), name.as_str());
        pid.send((term,)).unwrap();
        let exit = ended(&pid);
        let unhandled = exit.downcast_ref::<UnhandledMessage>().expect("unhandled");
        prop_assert!(unhandled.message.len() <= 1024 + 64);
        let kept = unhandled.message.split('…').next().unwrap_or_default();
        prop_assert!(full.starts_with(kept), "{} is not the start of {}", kept, full);
        prop_assert_eq!(recv(&watcher).0.to_string(), exit.to_string());
    }

    /// Hostile values anywhere in a message: handled, it ends the process
    /// normally, or (a grenade dropped where the handler drops the term)
    /// with the grenade's panic; unhandled, with an unhandled-message
    /// exit. The program never goes down, and the watcher always hears.
    #[test]
    fn hostile_values_anywhere_end_only_their_process(term in hostile_term(), handle in any::<bool>()) {
        quiet();
        let root = Root::new();
        let (pid, watcher) = watched(&root, Spawn::new(|ctx: &mut Ctx| {
            ctx.receive(pattern!("handle", _), |_, ()| {})
        }));
        let message = if handle { ("handle", term).into_message() } else { (term,).into_message() };
        pid.send(message).unwrap();
        pid.terminate();
        let exit = ended(&pid);
        if handle {
            let grenade = exit
                .downcast_ref::<Panicked>()
                .is_some_and(|p| p.message == "deliberate: a grenade went off");
            prop_assert!(exit.is_normal() || grenade, "{}", exit);
        } else {
            prop_assert!(exit.downcast_ref::<UnhandledMessage>().is_some(), "{}", exit);
        }
        prop_assert_eq!(recv(&watcher).0.to_string(), exit.to_string());
    }
}

/// A process for the OS-process kind, in a program whose `main` (the test
/// harness's) never calls the hook.
#[derive(paragram::Process, serde::Serialize, serde::Deserialize)]
struct Worker;

#[paragram::process]
impl Worker {}

#[test]
fn an_os_process_in_a_program_without_the_hook_is_refused_at_spawn() {
    let root = Root::new();
    let refused = root.spawn(Spawn::os_process(Worker));
    let Err(error @ SpawnError::NotRegistered { hooked: false, .. }) = refused else {
        panic!("expected NotRegistered, got {refused:?}");
    };
    assert!(
        error.to_string().contains(
            "cannot run as an OS process: `main` does not call `paragram::os_process::hook`"
        ),
        "{error}"
    );
}

#[test]
fn a_pid_serialized_outside_a_process_state_is_an_error_that_says_where_it_can_be() {
    let root = Root::new();
    let error = serde_json::to_string(root.pid()).expect_err("a Pid alone does not serialize");
    assert!(
        error.to_string().starts_with(
            "a `Pid` is serialized only in the state of a process spawned with `Spawn::os_process`"
        ),
        "{error}"
    );
    let decoded = serde_json::from_str::<Pid>("0");
    assert!(decoded.is_err_and(|e| e.to_string().starts_with("a `Pid` is serialized only")));
}
