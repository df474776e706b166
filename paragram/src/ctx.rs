//! The context a process's code runs in: who it is, what it can spawn and
//! link, and the receivers it registers while it runs.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::driver::Kind;
use crate::exit::{BoxError, Exit};
use crate::link;
use crate::message::Message;
use crate::pattern::{FromBindings, IntoPattern, Pattern, PatternError};
use crate::pid::{Core, Pid};
use crate::process::Outcome;
use crate::runner::Envelope;
use crate::spawn::{self, IntoSpawn, SpawnError};
use crate::term::{OpaqueValue, Term};
use crate::timers::{self, ReceiveTimeout, TimerRef};

type Handler = Box<dyn FnMut(&mut Ctx, Message) -> Result<(), Exit> + Send>;

/// A receiver registered at run time: a pattern and its handler.
struct Receiver {
    pattern: Pattern,
    handler: Handler,
}

/// The running process, as its own code sees it. Every handler and the
/// start-up code get `&mut Ctx`.
pub struct Ctx {
    core: Arc<Core>,
    /// The kind of what this process spawns, unless a spawn says.
    default_kind: Kind,
    /// Runtime receivers, in registration order.
    receivers: Vec<Receiver>,
    /// The receive timeout, if one is set.
    timeout: Option<Box<Timeout>>,
    /// How many receive timeouts have been set: each setting's number,
    /// so that a wake-up armed for an earlier one is told apart.
    timeouts_set: u64,
}

/// A receive timeout: its length, when the process last took something,
/// which setting it is, and the wake-up armed for it.
struct Timeout {
    after: Duration,
    last: Instant,
    generation: u64,
    timer: Option<TimerRef>,
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            timers::cancel_timer(timer);
        }
    }
}

impl Ctx {
    pub(crate) fn new(core: Arc<Core>, default_kind: Kind) -> Ctx {
        Ctx {
            core,
            default_kind,
            receivers: Vec::new(),
            timeout: None,
            timeouts_set: 0,
        }
    }

    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// A handle to this process.
    pub fn me(&self) -> Pid {
        Pid::from_core(self.core.clone())
    }

    /// This process's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// Spawns a process, not linked to this one.
    pub fn spawn(&mut self, process: impl IntoSpawn) -> Result<Pid, SpawnError> {
        spawn::spawn(
            process.into_spawn(),
            None,
            Some(&self.core),
            self.default_kind,
        )
    }

    /// Spawns a process linked both ways to this one; the link is in place
    /// before the child runs, so it cannot end unobserved.
    pub fn spawn_link(&mut self, process: impl IntoSpawn) -> Result<Pid, SpawnError> {
        spawn::spawn(
            process.into_spawn(),
            Some(&self.core),
            Some(&self.core),
            self.default_kind,
        )
    }

    /// Links this process both ways to `pid`. Linking to a process that has
    /// ended delivers its `(Exit, Pid)` at once; linking to oneself or
    /// linking twice does nothing.
    pub fn link(&mut self, pid: &Pid) {
        link::link(&self.core, pid.core());
    }

    /// Removes the link to `pid`, if any.
    pub fn unlink(&mut self, pid: &Pid) {
        link::unlink(&self.core, pid.core());
    }

    /// Monitors `pid`, as Erlang's `monitor(process, Pid)`: when it ends,
    /// this process receives a [`Down`](crate::Down) with the reference
    /// returned here. Each call makes a monitor of its own; a process that
    /// has ended is reported at once, its `Down` carrying
    /// [`NoProcess`](crate::NoProcess).
    pub fn monitor(&mut self, pid: &Pid) -> crate::MonitorRef {
        crate::monitors::monitor(&self.core, pid.core())
    }

    /// Ends the monitor `reference`, as Erlang's `demonitor/1`: true if it
    /// was still active. If the monitored process has ended already, its
    /// `Down` may be on its way, and is received all the same.
    pub fn demonitor(&mut self, reference: crate::MonitorRef) -> bool {
        crate::monitors::demonitor(&self.core, reference, false)
    }

    /// Ends the monitor `reference` and drops its `Down` if one is on its
    /// way, as Erlang's `demonitor(Ref, [flush])`: once this returns, no
    /// `Down` for it is received. True if the monitor was still active.
    pub fn demonitor_flush(&mut self, reference: crate::MonitorRef) -> bool {
        crate::monitors::demonitor(&self.core, reference, true)
    }

    /// Sets a receive timeout, as Erlang's `receive ... after`: whenever
    /// nothing (no message, exit notification or `Down`) has come for
    /// `after`, the process receives the message `(ReceiveTimeout,)`,
    /// which a receiver takes as any other message (`pattern!(ReceiveTimeout)`
    /// or `#[receive(ReceiveTimeout)]`). The wait starts again once each
    /// thing taken is handled, the timeout message included, until
    /// [`Ctx::cancel_receive_timeout`]; a later call replaces it. Its
    /// wake-ups come from the program's one timer thread and do not keep
    /// the process reachable.
    ///
    /// ```
    /// use std::time::Duration;
    /// use paragram::{ReceiveTimeout, Root, pattern};
    /// let root = Root::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let pid = root
    ///     .spawn(move |ctx: &mut paragram::Ctx| {
    ///         ctx.set_receive_timeout(Duration::from_millis(20));
    ///         ctx.receive(pattern!(ReceiveTimeout), move |ctx, (timeout,): (ReceiveTimeout,)| {
    ///             tx.send(timeout.after()).unwrap();
    ///             ctx.cancel_receive_timeout();
    ///         })
    ///     })
    ///     .unwrap();
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(Duration::from_millis(20)));
    /// # pid.terminate();
    /// ```
    pub fn set_receive_timeout(&mut self, after: Duration) {
        self.timeouts_set += 1;
        let generation = self.timeouts_set;
        let timer = timers::arm_timeout(after, &self.core, generation);
        self.timeout = Some(Box::new(Timeout {
            after,
            last: Instant::now(),
            generation,
            timer: Some(timer),
        }));
    }

    /// Removes the receive timeout, if one is set; a `ReceiveTimeout`
    /// already queued is still received.
    pub fn cancel_receive_timeout(&mut self) {
        self.timeout = None;
    }

    /// Notes that the process has handled something: a receive timeout
    /// waits again from now.
    #[inline]
    pub(crate) fn took_something(&mut self) {
        if let Some(timeout) = &mut self.timeout {
            timeout.last = Instant::now();
        }
    }

    /// The receive timeout's wake-up for `generation` has come: the
    /// timeout message if nothing came for the timeout's whole length
    /// (the next wake-up armed either way); nothing for a wake-up of a
    /// timeout since replaced or removed.
    pub(crate) fn timed_out(&mut self, generation: u64) -> Option<Message> {
        let timeout = self.timeout.as_mut()?;
        if timeout.generation != generation {
            return None;
        }
        let quiet = timeout.last.elapsed();
        let after = timeout.after;
        let (due, wait) = match after.checked_sub(quiet) {
            Some(left) if !left.is_zero() => (false, left),
            _ => (true, after),
        };
        let armed = timers::arm_timeout(wait, &self.core, generation);
        if let Some(before) = timeout.timer.replace(armed) {
            // The one that woke it has fired; a stale one is cancelled.
            timers::cancel_timer(before);
        }
        due.then(|| {
            Message::from_terms(smallvec::smallvec![Term::Opaque(OpaqueValue::new(
                ReceiveTimeout { after }
            ))])
        })
    }

    /// Registers this process under `name`: see [`register`](crate::register).
    pub fn register(&mut self, name: impl Into<String>) -> Result<(), crate::RegisterError> {
        crate::names::register(name, &self.me())
    }

    /// Registers a receiver, tried after those registered before it; it
    /// takes effect from the next message. The handler's argument is a tuple
    /// of the pattern's bindings, each of the type the pattern names (or
    /// `Term`), or `Vec<Term>` for all of them.
    ///
    /// ```
    /// use paragram::{Ctx, Root, pattern};
    /// let root = Root::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let pid = root
    ///     .spawn(move |ctx: &mut Ctx| {
    ///         ctx.receive(pattern!("add", i64, i64), move |_, (a, b): (i64, i64)| {
    ///             tx.send(a + b).unwrap();
    ///         })
    ///     })
    ///     .unwrap();
    /// pid.send(("add", 2, 3)).unwrap();
    /// assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)), Ok(5));
    /// ```
    pub fn receive<A, R>(
        &mut self,
        pattern: impl IntoPattern<A>,
        mut handler: impl FnMut(&mut Ctx, A) -> R + Send + 'static,
    ) -> Result<(), PatternError>
    where
        A: FromBindings,
        R: Outcome,
    {
        let pattern = pattern.into_pattern()?;
        let handler: Handler = Box::new(move |ctx, bindings| match A::from_bindings(bindings) {
            Some(args) => handler(ctx, args).into_exit(),
            // `check` above makes this unreachable for the bindings `pattern` gives.
            None => Err(Exit::with_error(
                "handler arguments do not fit the pattern's bindings",
            )),
        });
        if self.receivers.capacity() == 0 {
            // Most processes register one or two receivers: room for one,
            // then doubling, rather than four at once.
            self.receivers.reserve_exact(1);
        }
        self.receivers.push(Receiver { pattern, handler });
        Ok(())
    }

    /// Ends this process normally once the messages already queued are
    /// handled.
    pub fn terminate(&mut self) {
        let _ = self.core.mailbox.push(Envelope::Terminate(Exit::normal()));
    }

    /// Ends this process with `reason` once the messages already queued are
    /// handled. To end at once, return `Err(reason)` from the handler.
    pub fn terminate_with(&mut self, reason: impl Into<BoxError>) {
        let exit = Exit::with_error(reason);
        let _ = self.core.mailbox.push(Envelope::Terminate(exit));
    }

    /// Runs the first runtime receiver that matches `message`; hands the
    /// message back if none does. Receivers registered meanwhile are kept
    /// for the next message.
    pub(crate) fn dispatch(&mut self, message: Message) -> Result<Option<Message>, Exit> {
        let mut receivers = std::mem::take(&mut self.receivers);
        let position = receivers
            .iter()
            .position(|r| r.pattern.matches(message.terms()));
        let result = match position {
            Some(i) => {
                let receiver = &mut receivers[i];
                let bindings = receiver.pattern.bind(message);
                (receiver.handler)(self, bindings).map(|()| None)
            }
            None => Ok(Some(message)),
        };
        receivers.append(&mut self.receivers);
        self.receivers = receivers;
        result
    }
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ctx(")?;
        self.core.fmt_debug(f)?;
        write!(f, ")")
    }
}
