//! The process scenarios that involve receivers, written with derived
//! processes: `#[derive(Process)]` and `#[paragram::process]` with
//! `#[receive(...)]` methods compiled into one static `match`.

use paragram_tests::{DEADLINE, Fault, ended, recv};
use std::sync::mpsc::{self, Sender};

use paragram::{
    BoxError, Ctx, Exit, IntoTerm, LinkedExit, Pid, Process, Root, Spawn, Term, UnhandledMessage,
    pattern,
};

/// Answers `("ping", from)` with `("pong", me)`.
#[derive(Process)]
struct Ponger;

#[paragram::process]
impl Ponger {
    #[receive("ping", Pid)]
    fn ping(&mut self, ctx: &mut Ctx, from: Pid) -> Result<(), BoxError> {
        from.send(("pong", ctx.me()))
            .map_err(|_| "the pinger is gone")?;
        Ok(())
    }
}

/// Spawns a linked ponger at start-up, pings it, and reports the pong.
#[derive(Process)]
struct Pinger {
    report: Sender<Pid>,
}

#[paragram::process]
impl Pinger {
    #[start]
    fn start(&mut self, ctx: &mut Ctx) -> Result<(), BoxError> {
        let ponger = ctx.spawn_link(Spawn::new(Ponger).name("ponger"))?;
        ponger
            .send(("ping", ctx.me()))
            .map_err(|_| "the ponger is gone")?;
        Ok(())
    }

    #[receive("pong", Pid)]
    fn pong(&mut self, from: Pid) -> Result<(), BoxError> {
        self.report.send(from)?;
        Ok(())
    }
}

#[test]
fn derived_ping_is_answered_by_a_derived_pong() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pinger = root.spawn(Pinger { report: tx }).unwrap();

    let ponger = recv(&rx);

    assert_eq!(ponger.name(), "ponger");
    ponger.terminate();
    let exit = ended(&pinger);
    let linked = exit
        .downcast_ref::<LinkedExit>()
        .unwrap_or_else(|| panic!("expected a linked exit, got {exit:?}"));
    assert_eq!(
        linked.peer, ponger,
        "the default receiver ran after the user's"
    );
}

/// Survives the end of linked processes and reports them.
#[derive(Process)]
struct Survivor {
    report: Sender<(Option<u32>, Pid)>,
}

#[paragram::process]
impl Survivor {
    #[receive(Exit, Pid)]
    fn linked_exit(&mut self, exit: Exit, peer: Pid) {
        let _ = self
            .report
            .send((exit.downcast_ref::<Fault>().map(|f| f.code), peer));
    }

    #[receive("link", Pid)]
    fn link(&mut self, ctx: &mut Ctx, peer: Pid) {
        ctx.link(&peer);
    }
}

/// Fails with `Fault { code }` on `"fail"`.
#[derive(Process)]
struct Failer {
    code: u32,
}

#[paragram::process]
impl Failer {
    #[receive("fail")]
    fn fail(&mut self) -> Result<(), Fault> {
        Err(Fault { code: self.code })
    }
}

#[test]
fn linked_exit_receiver_replaces_the_default() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let survivor = root.spawn(Survivor { report: tx }).unwrap();
    let failer = root
        .spawn(Spawn::new(Failer { code: 9 }).name("failer"))
        .unwrap();
    survivor.send(("link", failer.clone())).unwrap();
    // Linked once the survivor handled "link": a `(Exit, Pid)` for a dead
    // peer arrives at once, so the order of the next two lines is free.
    failer.send("fail").unwrap();

    assert_eq!(recv(&rx), (Some(9), failer.clone()));
    assert_eq!(
        ended(&failer).downcast_ref::<Fault>().map(|f| f.code),
        Some(9)
    );
    survivor.terminate();
    assert!(
        ended(&survivor).is_normal(),
        "the survivor handled the exit"
    );
}

#[test]
fn unmatched_message_ends_a_derived_process_naming_the_message() {
    let root = Root::new();
    let pid = root.spawn(Failer { code: 1 }).unwrap();

    pid.send(2).unwrap();
    let exit = ended(&pid);

    assert_eq!(exit.to_string(), "unhandled message: (2,)");
    assert!(exit.downcast_ref::<UnhandledMessage>().is_some());
}

/// Two receivers that both match `("x", 3)`.
#[derive(Process)]
struct Overlapping {
    report: Sender<(&'static str, i32)>,
}

#[paragram::process]
impl Overlapping {
    #[receive("x", i32)]
    fn first(&mut self, n: i32) -> Result<(), Fault> {
        let _ = self.report.send(("first", n));
        Err(Fault { code: 1 })
    }

    #[receive(String, i32)]
    fn second(&mut self, _: String, n: i32) -> Result<(), Fault> {
        let _ = self.report.send(("second", n));
        Err(Fault { code: 2 })
    }
}

#[test]
fn first_matching_receiver_wins_and_its_error_is_the_exit_value() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root.spawn(Overlapping { report: tx }).unwrap();

    pid.send(("x", 3)).unwrap();
    let exit = ended(&pid);

    assert_eq!(exit.downcast_ref::<Fault>().map(|f| f.code), Some(1));
    assert_eq!(recv(&rx), ("first", 3));
    assert_eq!(
        rx.recv_timeout(DEADLINE),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

/// Binds values from nested tuples, lists and maps, and from `Term`.
#[derive(Process)]
struct Binder {
    report: Sender<String>,
}

#[paragram::process]
impl Binder {
    #[receive("nested", (i32, [String, ..]), {"k": u8, 2: (bool, _)})]
    fn nested(&mut self, a: i32, b: String, k: u8, flag: bool) {
        let _ = self.report.send(format!("{a} {b} {k} {flag}"));
    }

    #[receive("any", Term, |x: i64| x < 0)]
    fn any(&mut self, term: Term, negative: Term) {
        let _ = self.report.send(format!("{term:?} {negative:?}"));
    }

    #[receive()]
    fn empty(&mut self) {
        let _ = self.report.send("empty".into());
    }

    #[receive("boom", |_x: i32| -> bool { panic!("predicate panicked") })]
    fn never(&mut self, _x: i32) {
        let _ = self.report.send("the predicate passed".into());
    }

    #[receive(..)]
    fn rest(&mut self, ctx: &mut Ctx) {
        let _ = self.report.send(format!("rest in {}", ctx.name()));
    }
}

#[test]
fn bindings_are_moved_out_of_nested_elements_in_order() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root
        .spawn(Spawn::new(Binder { report: tx }).name("binder"))
        .unwrap();
    let map = Term::Map(
        [
            ("k".into_term(), 7.into_term()),
            (2.into_term(), (true, "x").into_term()),
            ("extra".into_term(), 0.into_term()),
        ]
        .into_iter()
        .collect(),
    );

    pid.send(("nested", (5, vec!["b", "c"]), map)).unwrap();
    pid.send(("any", 1.5, -3)).unwrap();
    pid.send(()).unwrap();
    pid.send(("boom", 1)).unwrap();
    pid.send(("nested", 1)).unwrap();

    assert_eq!(recv(&rx), "5 b 7 true");
    assert_eq!(recv(&rx), "1.5 -3");
    assert_eq!(recv(&rx), "empty");
    assert_eq!(
        recv(&rx),
        "rest in binder",
        "a panicking predicate is no match"
    );
    assert_eq!(recv(&rx), "rest in binder");
    pid.terminate();
    assert!(ended(&pid).is_normal());
}

/// Registers a runtime receiver at start-up; compiled receivers come first.
#[derive(Process)]
struct Mixed {
    report: Sender<&'static str>,
}

#[paragram::process]
impl Mixed {
    #[start]
    fn start(&mut self, ctx: &mut Ctx) -> Result<(), paragram::PatternError> {
        let report = self.report.clone();
        ctx.receive(pattern!(String), move |_, _: (String,)| {
            let _ = report.send("runtime");
        })
    }

    #[receive("compiled")]
    fn compiled(&mut self) {
        let _ = self.report.send("compiled");
    }
}

#[test]
fn compiled_receivers_come_before_runtime_receivers() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let pid = root.spawn(Mixed { report: tx }).unwrap();

    pid.send("compiled").unwrap();
    pid.send("other").unwrap();

    assert_eq!(recv(&rx), "compiled");
    assert_eq!(recv(&rx), "runtime");
    pid.terminate();
    assert!(ended(&pid).is_normal());
}

#[test]
fn derived_process_is_a_process_for_spawn_process() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel();
    let mut process = Mixed { report: tx };
    let _: &mut dyn Process = &mut process;
    let pid = root.spawn(Spawn::process(process)).unwrap();

    pid.send("compiled").unwrap();

    assert_eq!(recv(&rx), "compiled");
    pid.terminate();
    assert!(ended(&pid).is_normal());
}
