//! Reliability: random sequences of spawn, link, send, terminate, panic
//! and receiver registration, checked step by step against a reference
//! model of who must be alive, which messages and exits each process saw,
//! and what each process died of.

mod stress_support;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Once, mpsc};
use std::time::Duration;

use paragram::{
    BoxError, Ctx, Elem, Exit, LinkedExit, Panicked, Pattern, Pid, Root, UnhandledMessage, pattern,
};
use paragram_tests::quiet_deliberate_panics;
use proptest::prelude::*;
use stress_support::size;

/// How long a step may take to show its effect.
const STEP: Duration = Duration::from_secs(2);

/// The most processes a sequence spawns.
const MAX_PROCESSES: usize = 8;

#[derive(Debug, Clone)]
enum Op {
    Spawn,
    Link(usize, usize),
    Send(usize, u64, i64),
    Terminate(usize),
    Panic(usize),
    Register(usize, u64),
    Trap(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0..MAX_PROCESSES;
    let tag = 0..3u64;
    prop_oneof![
        2 => Just(Op::Spawn),
        2 => (i.clone(), i.clone()).prop_map(|(a, b)| Op::Link(a, b)),
        4 => (i.clone(), tag.clone(), any::<i64>()).prop_map(|(a, t, v)| Op::Send(a, t, v)),
        1 => i.clone().prop_map(Op::Terminate),
        1 => i.clone().prop_map(Op::Panic),
        3 => (i.clone(), tag).prop_map(|(a, t)| Op::Register(a, t)),
        1 => i.prop_map(Op::Trap),
    ]
}

/// What a process saw, in the order it saw it.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Message(u64, i64),
    Exit(u64),
}

/// What a process died of; a linked death names the root cause.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cause {
    Normal,
    Panic,
    Unhandled,
}

/// The reference model of one process.
#[derive(Debug, Default)]
struct Expected {
    /// `None` while alive; the cause and whether it came through a link.
    death: Option<(Cause, bool)>,
    links: BTreeSet<usize>,
    tags: BTreeSet<u64>,
    traps: bool,
    messages: Vec<(u64, i64)>,
    exits: Vec<usize>,
}

/// One process under test: its handle and the log its receivers write.
struct Puppet {
    pid: Pid,
    log: Arc<Mutex<Vec<Seen>>>,
}

fn puppet(root: &Root, index: usize, acks: mpsc::Sender<(usize, u64)>) -> Puppet {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let pid = root
        .spawn(move |ctx: &mut Ctx| -> Result<(), BoxError> {
            ctx.receive(pattern!("ping", u64), move |_, (n,): (u64,)| {
                let _ = acks.send((index, n));
            })?;
            ctx.receive(pattern!("link", Pid), |ctx, (peer,): (Pid,)| {
                ctx.link(&peer)
            })?;
            let log = l.clone();
            ctx.receive(pattern!("register", u64), move |ctx, (tag,): (u64,)| {
                let log = log.clone();
                let pattern = Pattern::new(vec![Elem::lit(tag), Elem::of::<i64>()]).unwrap();
                let _ = ctx.receive(pattern, move |_, (v,): (i64,)| {
                    log.lock().unwrap().push(Seen::Message(tag, v));
                });
            })?;
            let log = l;
            ctx.receive(pattern!("trap"), move |ctx, ()| {
                let log = log.clone();
                let _ = ctx.receive(pattern!(Exit, Pid), move |_, (_, from): (Exit, Pid)| {
                    log.lock().unwrap().push(Seen::Exit(from.id()));
                });
            })?;
            ctx.receive(pattern!("panic"), |_, ()| -> Result<(), BoxError> {
                panic!("deliberate model panic")
            })?;
            Ok(())
        })
        .unwrap();
    Puppet { pid, log }
}

struct World {
    root: Root,
    acks: mpsc::Sender<(usize, u64)>,
    ack_rx: mpsc::Receiver<(usize, u64)>,
    puppets: Vec<Puppet>,
    model: Vec<Expected>,
}

impl World {
    fn new() -> World {
        let (acks, ack_rx) = mpsc::channel();
        World {
            root: Root::new(),
            acks,
            ack_rx,
            puppets: Vec::new(),
            model: Vec::new(),
        }
    }

    /// Ends `first` in the model, and every process its links take with it.
    fn kill(&mut self, first: usize, cause: Cause) {
        self.model[first].death = Some((cause, false));
        let mut dying = vec![first];
        while let Some(dead) = dying.pop() {
            for peer in std::mem::take(&mut self.model[dead].links) {
                let peer_model = &mut self.model[peer];
                peer_model.links.remove(&dead);
                if peer_model.death.is_some() {
                    continue;
                }
                if peer_model.traps {
                    peer_model.exits.push(dead);
                } else {
                    peer_model.death = Some((cause, true));
                    dying.push(peer);
                }
            }
        }
    }

    fn alive(&self, i: usize) -> bool {
        self.model[i].death.is_none()
    }

    /// Applies `op` to the processes and to the model.
    fn apply(&mut self, op: &Op) {
        let count = self.puppets.len();
        let pick = |i: usize| i % count.max(1);
        match *op {
            Op::Spawn => {
                if count < MAX_PROCESSES {
                    self.puppets
                        .push(puppet(&self.root, count, self.acks.clone()));
                    self.model.push(Expected::default());
                }
            }
            _ if count == 0 => {}
            Op::Link(a, b) => {
                let (a, b) = (pick(a), pick(b));
                let sent = self.puppets[a]
                    .pid
                    .send(("link", self.puppets[b].pid.clone()));
                assert_eq!(sent.is_ok(), self.alive(a));
                if !self.alive(a) || a == b {
                } else if !self.alive(b) {
                    if self.model[a].traps {
                        self.model[a].exits.push(b);
                    } else {
                        self.kill(a, self.model[b].death.unwrap().0);
                        self.model[a].death = Some((self.model[b].death.unwrap().0, true));
                    }
                } else {
                    self.model[a].links.insert(b);
                    self.model[b].links.insert(a);
                }
            }
            Op::Send(a, tag, v) => {
                let a = pick(a);
                let sent = self.puppets[a].pid.send((tag, v));
                assert_eq!(sent.is_ok(), self.alive(a));
                if self.alive(a) {
                    if self.model[a].tags.contains(&tag) {
                        self.model[a].messages.push((tag, v));
                    } else {
                        self.kill(a, Cause::Unhandled);
                    }
                }
            }
            Op::Terminate(a) => {
                let a = pick(a);
                self.puppets[a].pid.terminate();
                if self.alive(a) {
                    self.kill(a, Cause::Normal);
                }
            }
            Op::Panic(a) => {
                let a = pick(a);
                let sent = self.puppets[a].pid.send("panic");
                assert_eq!(sent.is_ok(), self.alive(a));
                if self.alive(a) {
                    self.kill(a, Cause::Panic);
                }
            }
            Op::Register(a, tag) => {
                let a = pick(a);
                let sent = self.puppets[a].pid.send(("register", tag));
                assert_eq!(sent.is_ok(), self.alive(a));
                if self.alive(a) {
                    self.model[a].tags.insert(tag);
                }
            }
            Op::Trap(a) => {
                let a = pick(a);
                let sent = self.puppets[a].pid.send("trap");
                assert_eq!(sent.is_ok(), self.alive(a));
                if self.alive(a) {
                    self.model[a].traps = true;
                }
            }
        }
    }

    /// Waits for the step's effects and compares every process with the
    /// model. A first ping round flushes the step's command through its
    /// handler; then the dead must have ended of the expected cause; a
    /// second ping round flushes the exit notifications the first two
    /// phases queued (a process wrongly kept alive ends on one before it
    /// answers); then each log must be exactly what the model says.
    fn check(&self, step: u64) {
        self.ping_living(step * 2);
        for (i, (puppet, model)) in self.puppets.iter().zip(&self.model).enumerate() {
            if let Some((cause, linked)) = model.death {
                let exit = puppet.pid.wait_timeout(STEP);
                let exit = exit.unwrap_or_else(|e| panic!("step {step}: process {i}: {e}"));
                check_exit(&exit, cause, linked, i, step);
            }
        }
        self.ping_living(step * 2 + 1);
        let index: HashMap<u64, usize> = self
            .puppets
            .iter()
            .enumerate()
            .map(|(i, p)| (p.pid.id(), i))
            .collect();
        for (i, (puppet, model)) in self.puppets.iter().zip(&self.model).enumerate() {
            let log = puppet.log.lock().unwrap().clone();
            let messages: Vec<(u64, i64)> = log
                .iter()
                .filter_map(|s| match *s {
                    Seen::Message(tag, v) => Some((tag, v)),
                    Seen::Exit(_) => None,
                })
                .collect();
            let mut exits: Vec<usize> = log
                .iter()
                .filter_map(|s| match s {
                    Seen::Exit(id) => Some(index[id]),
                    Seen::Message(..) => None,
                })
                .collect();
            exits.sort_unstable();
            let mut expected_exits = model.exits.clone();
            expected_exits.sort_unstable();
            assert_eq!(messages, model.messages, "step {step}: messages of {i}");
            assert_eq!(exits, expected_exits, "step {step}: exits seen by {i}");
        }
    }

    /// Pings every process the model says is alive and waits for all the
    /// answers.
    fn ping_living(&self, n: u64) {
        let mut waiting = 0;
        for (i, puppet) in self.puppets.iter().enumerate() {
            if self.alive(i) {
                let sent = puppet.pid.send(("ping", n));
                assert!(sent.is_ok(), "ping {n}: process {i} dead");
                waiting += 1;
            }
        }
        for _ in 0..waiting {
            let answer = self.ack_rx.recv_timeout(STEP);
            let (i, m) = answer.unwrap_or_else(|_| panic!("ping {n}: a living process is silent"));
            assert_eq!(m, n);
            assert!(self.alive(i));
        }
    }

    fn end(self) {
        for puppet in &self.puppets {
            puppet.pid.terminate();
        }
        for puppet in &self.puppets {
            assert!(puppet.pid.wait_timeout(STEP).is_ok());
        }
    }
}

fn check_exit(exit: &Exit, cause: Cause, linked: bool, i: usize, step: u64) {
    let context = format!("step {step}: exit of {i}: {exit}");
    assert_eq!(
        exit.downcast_ref::<LinkedExit>().is_some(),
        linked,
        "{context}"
    );
    let root = exit.root_cause();
    match cause {
        Cause::Normal => assert!(root.is_normal(), "{context}"),
        Cause::Panic => {
            let panicked = root.downcast_ref::<Panicked>().expect(&context);
            assert_eq!(panicked.message, "deliberate model panic");
        }
        Cause::Unhandled => assert!(
            root.downcast_ref::<UnhandledMessage>().is_some(),
            "{context}"
        ),
    }
}

fn run(ops: &[Op]) {
    static QUIET: Once = Once::new();
    QUIET.call_once(quiet_deliberate_panics);
    let mut world = World::new();
    for (step, op) in ops.iter().enumerate() {
        world.apply(op);
        world.check(step as u64);
    }
    world.end();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(size(128, 1_000) as u32))]

    #[test]
    fn stress_model_random_operations_match_reference(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}
