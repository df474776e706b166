//! Supervisors, as OTP's: a process that starts children in order, links
//! to each, restarts them when they end by a strategy and a restart type,
//! gives up past a restart intensity, and stops them in reverse order.
//!
//! A restart never runs alongside the child it replaces: a child's end
//! reaches the supervisor through its link, which is told after the
//! child's state and queued messages are dropped; a child the supervisor
//! stops itself is unlinked first and waited for before anything starts
//! again. The supervisor's own waits are blocking calls (the scheduler
//! kind hands its worker's other processes to another thread meanwhile).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use smallvec::smallvec;
use thiserror::Error;

use crate::call::{CallError, ReplyTo};
use crate::ctx::Ctx;
use crate::driver;
use crate::exit::{Exit, LinkedExit};
use crate::message::Message;
use crate::names;
use crate::pid::{Pid, WaitTimeoutError, lock};
use crate::process::{Handled, Process};
use crate::spawn::{IntoSpawn, Spawn, SpawnError};
use crate::term::Term;

/// Which children a supervisor restarts when one ends and is to be
/// restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// That child only.
    OneForOne,
    /// Every child: the others are stopped (in reverse start order), then
    /// all started again in order.
    OneForAll,
    /// That child and those started after it: those are stopped (last
    /// first), then started again in order.
    RestForOne,
}

/// When a child that ended is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only if it ended with an error ([`Shutdown`] and a normal end are
    /// not).
    Transient,
    /// Never: it is forgotten when it ends.
    Temporary,
}

/// The error a supervisor stops a child with: the child was shut down, as
/// OTP's `shutdown` reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("shutdown by its supervisor")]
pub struct Shutdown;

/// Why a supervisor ended.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// More restarts than the intensity allows came within its period; the
    /// supervisor stopped its children and ended.
    #[error(
        "restart intensity reached: more than {max_restarts} restarts within {period:?}; the last, of child `{child}`, after: {exit}"
    )]
    Intensity {
        /// The restarts allowed within `period`.
        max_restarts: u32,
        /// The period.
        period: Duration,
        /// The id of the child whose end would have been one restart too
        /// many.
        child: String,
        /// How that child ended.
        exit: Exit,
    },
    /// A child could not be started.
    #[error("child `{child}` could not start: {error}")]
    Start {
        /// The child's id.
        child: String,
        /// Why.
        error: String,
    },
}

/// What makes a child's process, each time it starts.
type Starter = Box<dyn FnMut() -> Spawn + Send>;

/// A child of a supervisor: its id, how to start it, when to restart it,
/// and how long it has to end once told to.
pub struct Child {
    id: String,
    start: Starter,
    restart: Restart,
    shutdown: Duration,
    register: bool,
}

impl Child {
    /// A permanent child named `id`, started by calling `start`, with a
    /// shutdown timeout of 5 s (OTP's default for workers). Its process
    /// is named `id` unless `start`'s [`Spawn`] names it.
    pub fn new<S: IntoSpawn>(
        id: impl Into<String>,
        mut start: impl FnMut() -> S + Send + 'static,
    ) -> Child {
        Child {
            id: id.into(),
            start: Box::new(move || start().into_spawn()),
            restart: Restart::Permanent,
            shutdown: crate::spawn::DEFAULT_SHUTDOWN,
            register: false,
        }
    }

    /// When the child is restarted.
    pub fn restart(mut self, restart: Restart) -> Child {
        self.restart = restart;
        self
    }

    /// How long the child has to end once told to (a terminate queued
    /// behind what it was sent before) before it is killed.
    pub fn shutdown(mut self, timeout: Duration) -> Child {
        self.shutdown = timeout;
        self
    }

    /// Registers each start of the child under its id
    /// ([`register`](crate::register)) before its start-up code runs, so
    /// that a restarted child is found by the same name.
    pub fn registered(mut self) -> Child {
        self.register = true;
        self
    }
}

/// A supervisor, spawned as any process: it starts its children in order
/// when it starts, and stops them in reverse order when it ends.
///
/// ```
/// use std::time::Duration;
/// use paragram::supervisor::{Child, Strategy, Supervisor};
/// use paragram::{Root, Spawn, pattern};
/// let root = Root::new();
/// let worker = || Spawn::from_fn(|ctx| ctx.receive(pattern!("work"), |_, ()| {}));
/// let supervisor = root
///     .spawn_link(
///         Supervisor::new(Strategy::OneForOne)
///             .intensity(3, Duration::from_secs(5))
///             .child(Child::new("a", worker).registered())
///             .child(Child::new("b", worker)),
///     )
///     .unwrap();
/// // A call is handled once the supervisor's start-up (its children's) is done.
/// let children = paragram::supervisor::which_children(&supervisor, Duration::from_secs(5)).unwrap();
/// assert_eq!(children.len(), 2);
/// assert_eq!(paragram::whereis("a"), Some(children[0].1.clone()));
/// # supervisor.terminate();
/// # supervisor.wait().unwrap();
/// ```
pub struct Supervisor {
    strategy: Strategy,
    max_restarts: u32,
    period: Duration,
    children: Vec<Running>,
    /// When the restarts within the period happened, oldest first.
    restarts: VecDeque<Instant>,
}

/// A child and its process, while it runs.
struct Running {
    spec: Child,
    pid: Option<Pid>,
}

impl Supervisor {
    /// A supervisor with no children, allowing 1 restart in 5 s (OTP's
    /// defaults).
    pub fn new(strategy: Strategy) -> Supervisor {
        Supervisor {
            strategy,
            max_restarts: 1,
            period: Duration::from_secs(5),
            children: Vec::new(),
            restarts: VecDeque::new(),
        }
    }

    /// Allows at most `max_restarts` restarts within any `period`; one
    /// more ends the supervisor with [`SupervisorError::Intensity`].
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Supervisor {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Adds `child`, started after those added before it.
    pub fn child(mut self, child: Child) -> Supervisor {
        self.children.push(Running {
            spec: child,
            pid: None,
        });
        self
    }

    /// Starts child `index`, and waits until its start-up code has run
    /// (for a child of this program; a child OS process's runs
    /// meanwhile).
    fn start_child(&mut self, ctx: &mut Ctx, index: usize) -> Result<(), SupervisorError> {
        let running = &mut self.children[index];
        let mut spawn = (running.spec.start)();
        if spawn.name.is_none() {
            spawn.name = Some(running.spec.id.clone());
        }
        let failed = |error: String| SupervisorError::Start {
            child: running.spec.id.clone(),
            error,
        };
        let signal = Arc::new(StartSignal::default());
        let here = spawn.serialized.is_none();
        if here {
            spawn = Spawn {
                process: Box::new(Signalling {
                    inner: spawn.process,
                    signal: Some(signal.clone()),
                    name: running.spec.register.then(|| running.spec.id.clone()),
                }),
                ..spawn
            };
        }
        let pid = ctx
            .spawn_link(spawn)
            .map_err(|error: SpawnError| failed(error.to_string()))?;
        if here && !signal.wait() {
            // Its start-up failed: it is ending, and its end is no news.
            ctx.unlink(&pid);
            let exit = pid.wait().unwrap_or_default();
            return Err(failed(exit.to_string()));
        }
        if !here
            && running.spec.register
            && let Err(error) = names::register(running.spec.id.clone(), &pid)
        {
            ctx.unlink(&pid);
            pid.kill();
            return Err(failed(error.to_string()));
        }
        running.pid = Some(pid);
        Ok(())
    }

    /// Stops child `index`, if it runs: unlinked first (so its end is no
    /// news), told to end behind what it was sent, killed after its
    /// shutdown timeout, and waited for.
    fn stop_child(&mut self, ctx: &mut Ctx, index: usize) {
        let running = &mut self.children[index];
        let Some(pid) = running.pid.take() else {
            return;
        };
        ctx.unlink(&pid);
        pid.terminate_with(Shutdown);
        match pid.wait_timeout(running.spec.shutdown) {
            Ok(_) | Err(WaitTimeoutError::OwnProcess) => {}
            Err(WaitTimeoutError::Timeout) => {
                pid.kill();
                let _ = pid.wait();
            }
        }
    }

    /// Stops every running child from the last to `from`.
    fn stop_from(&mut self, ctx: &mut Ctx, from: usize) {
        for index in (from..self.children.len()).rev() {
            self.stop_child(ctx, index);
        }
    }

    /// Notes a restart now: an error if it is one too many.
    fn count_restart(&mut self, child: &str, exit: &Exit) -> Result<(), SupervisorError> {
        let now = Instant::now();
        while self
            .restarts
            .front()
            .is_some_and(|at| now.duration_since(*at) >= self.period)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() >= self.max_restarts as usize {
            return Err(SupervisorError::Intensity {
                max_restarts: self.max_restarts,
                period: self.period,
                child: child.to_owned(),
                exit: exit.clone(),
            });
        }
        self.restarts.push_back(now);
        Ok(())
    }

    /// Child `index` has ended with `exit`: restarts what the strategy
    /// says, or gives up.
    fn child_ended(&mut self, ctx: &mut Ctx, mut index: usize, exit: Exit) -> Result<(), Exit> {
        self.children[index].pid = None;
        let spec = &self.children[index].spec;
        let restart = match spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !exit.is_normal() && exit.downcast_ref::<Shutdown>().is_none(),
            Restart::Temporary => false,
        };
        if !restart {
            if spec.restart == Restart::Temporary {
                self.children.remove(index);
            }
            return Ok(());
        }
        let mut exit = exit;
        loop {
            let id = self.children[index].spec.id.clone();
            if let Err(error) = self.count_restart(&id, &exit) {
                self.stop_from(ctx, 0);
                return Err(Exit::with_error(error));
            }
            let (first, mut end) = match self.strategy {
                Strategy::OneForOne => (index, index + 1),
                Strategy::OneForAll => (0, self.children.len()),
                Strategy::RestForOne => (index, self.children.len()),
            };
            for other in (first..end).rev() {
                self.stop_child(ctx, other);
            }
            // Temporary children stopped along the way are not started
            // again, as in OTP.
            let mut at = first;
            let mut started = Ok(());
            while at < end {
                if self.children[at].spec.restart == Restart::Temporary && at != index {
                    self.children.remove(at);
                    end -= 1;
                    if at < index {
                        index -= 1;
                    }
                    continue;
                }
                if let Err(error) = self.start_child(ctx, at) {
                    started = Err(error);
                    index = at;
                    break;
                }
                at += 1;
            }
            match started {
                Ok(()) => return Ok(()),
                // A start that fails counts as another restart.
                Err(error) => exit = Exit::with_error(error),
            }
        }
    }

    /// The running children, as `[(id, Pid)]`.
    fn which(&self) -> Term {
        Term::list(self.children.iter().filter_map(|running| {
            let pid = running.pid.clone()?;
            Some(Term::tuple([
                Term::Str(running.spec.id.clone()),
                Term::Pid(pid),
            ]))
        }))
    }
}

/// Tells the supervisor that a child's start-up code has run: `Some(ok)`,
/// or `Some(false)` if the child ended before.
#[derive(Default)]
struct StartSignal {
    started: Mutex<Option<bool>>,
    settled: Condvar,
}

impl StartSignal {
    fn set(&self, ok: bool) {
        let mut started = lock(&self.started);
        if started.is_none() {
            *started = Some(ok);
            drop(started);
            self.settled.notify_all();
        }
    }

    /// Whether the start-up succeeded, once it has run.
    fn wait(&self) -> bool {
        driver::blocking(|| {
            let mut started = lock(&self.started);
            loop {
                if let Some(ok) = *started {
                    return ok;
                }
                started = self
                    .settled
                    .wait(started)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        })
    }
}

/// A child's process, which registers its name, if it has one, before its
/// start-up code runs (as OTP's behaviours do), and signals its
/// start-up's outcome.
struct Signalling {
    inner: Box<dyn Process>,
    signal: Option<Arc<StartSignal>>,
    name: Option<String>,
}

impl Process for Signalling {
    fn start(&mut self, ctx: &mut Ctx) -> Result<(), Exit> {
        let started = match self.name.take() {
            Some(name) => ctx.register(name).map_err(Exit::with_error),
            None => Ok(()),
        };
        let started = started.and_then(|()| self.inner.start(ctx));
        if let Some(signal) = self.signal.take() {
            signal.set(started.is_ok());
        }
        started
    }

    fn handle(&mut self, ctx: &mut Ctx, message: Message) -> Handled {
        self.inner.handle(ctx, message)
    }
}

impl Drop for Signalling {
    fn drop(&mut self) {
        // Ended (or never run) before its start-up code returned.
        if let Some(signal) = self.signal.take() {
            signal.set(false);
        }
    }
}

/// The request [`which_children`] sends.
const WHICH_CHILDREN: &str = "$paragram:which_children";

/// The children `supervisor` runs now, as (id, `Pid`) in start order: OTP's
/// `which_children/1`.
pub fn which_children(
    supervisor: &Pid,
    timeout: Duration,
) -> Result<Vec<(String, Pid)>, CallError> {
    let (children,): (Vec<(String, Pid)>,) = supervisor.call_as(WHICH_CHILDREN, timeout)?;
    Ok(children)
}

impl Process for Supervisor {
    fn start(&mut self, ctx: &mut Ctx) -> Result<(), Exit> {
        for index in 0..self.children.len() {
            if let Err(error) = self.start_child(ctx, index) {
                self.stop_from(ctx, 0);
                return Err(Exit::with_error(error));
            }
        }
        Ok(())
    }

    fn handle(&mut self, ctx: &mut Ctx, message: Message) -> Handled {
        match message.terms() {
            [Term::Exit(_), Term::Pid(from)] => {
                let from = from.clone();
                let mut terms = message.into_iter();
                let Some(Term::Exit(exit)) = terms.next() else {
                    return Handled::Done(Ok(()));
                };
                match self
                    .children
                    .iter()
                    .position(|running| running.pid.as_ref() == Some(&from))
                {
                    Some(index) => Handled::Done(self.child_ended(ctx, index, exit)),
                    None => {
                        // Its parent, or another linked process, ended: it
                        // ends too, its children first.
                        self.stop_from(ctx, 0);
                        Handled::Done(Err(Exit::with_own_error(LinkedExit::new(&from, &exit))))
                    }
                }
            }
            // It is being terminated: its children go first, last first.
            [Term::Exit(_)] => {
                self.stop_from(ctx, 0);
                Handled::Done(Ok(()))
            }
            [Term::Opaque(from), Term::Str(request)]
                if request == WHICH_CHILDREN && from.is::<ReplyTo>() =>
            {
                let which = self.which();
                let Some(Term::Opaque(from)) = message.into_iter().next() else {
                    return Handled::Done(Ok(()));
                };
                if let Ok(from) = from.downcast::<ReplyTo>() {
                    from.reply(Message::from_terms(smallvec![which]));
                }
                Handled::Done(Ok(()))
            }
            _ => Handled::Unmatched(message),
        }
    }
}

impl IntoSpawn for Supervisor {
    fn into_spawn(self) -> Spawn {
        Spawn::process(self).name("supervisor")
    }
}
