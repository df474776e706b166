//! The per-process loop, whatever drives it: start, receive, dispatch,
//! catch, exit.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use smallvec::smallvec;

use crate::call;
use crate::ctx::Ctx;
use crate::driver::{Launch, LinkUp};
use crate::exit::{Exit, Killed, LinkedExit, Panicked, UnhandledMessage};
use crate::link;
use crate::mailbox::{Inbox, Item};
use crate::message::Message;
use crate::monitors::Down;
use crate::pid::{Core, Pid};
use crate::process::{Handled, Process};
use crate::term::{OpaqueValue, Term};
use crate::text;

/// What travels through a mailbox: messages and the signals that share
/// their order.
pub(crate) enum Envelope {
    /// A message from `send`.
    Message(Message),
    /// A linked (`linked`) or watched process ended; delivered as the
    /// message `(Exit, Pid)` unless the link has gone meanwhile.
    Exit { from: Pid, exit: Exit, linked: bool },
    /// `terminate` / `terminate_with`: end once this is reached.
    Terminate(Exit),
    /// The last `Pid`, link or monitor reaching the process has gone.
    Unreachable,
    /// A monitored process ended; delivered as the message `(Down,)`.
    Down(Down),
    /// The receive timeout set as this generation may have passed.
    Timeout(u64),
    /// Code to run inside the process, as a handler does.
    Run(Box<dyn FnOnce(&mut Ctx) + Send>),
    /// Envelopes queued together, in order ([`Mailbox::push_many`]): the
    /// inbox hands them out one by one.
    ///
    /// [`Mailbox::push_many`]: crate::mailbox::Mailbox::push_many
    Group(Vec<Envelope>),
}

impl Item for Envelope {
    fn group(items: Vec<Envelope>) -> Envelope {
        Envelope::Group(items)
    }

    #[inline]
    fn group_len(&self) -> Option<usize> {
        match self {
            Envelope::Group(items) => Some(items.len()),
            _ => None,
        }
    }

    fn into_items(self) -> Vec<Envelope> {
        match self {
            Envelope::Group(items) => items,
            one => vec![one],
        }
    }
}

/// What the process does after a step.
pub(crate) enum Step {
    Continue,
    Exit(Exit),
}

impl Step {
    /// The exit the step ends the process with, if it does.
    fn exit(&self) -> Option<&Exit> {
        match self {
            Step::Exit(exit) => Some(exit),
            Step::Continue => None,
        }
    }
}

/// What a process reports to its driver after running what was ready.
pub(crate) enum Progress {
    /// Nothing more is queued: it waits for its mailbox to wake it.
    Idle,
    /// It used its budget; more may be queued.
    Yielded,
    /// It has ended; its exit steps are [`Runner::finish`]'s to run.
    Exited(Exit),
}

/// One process: its logic, its context and its inbox.
pub(crate) struct Runner {
    ctx: Ctx,
    inbox: Inbox<Envelope>,
    process: Box<dyn Process>,
    /// Whether the start-up code has run.
    started: bool,
    /// The process's span, entered while its code runs.
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl Runner {
    /// The runner of `launch`'s process, not yet started, its core, and
    /// what links it: for a kind that runs the process here.
    pub(crate) fn launch(launch: Launch, tag: &'static str) -> (Runner, Arc<Core>, LinkUp) {
        let Launch {
            id,
            name,
            process,
            owner,
            default_kind,
            link,
            ..
        } = launch;
        let (core, inbox) = Core::new(id, name, tag, owner.as_ref());
        let runner = Runner {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!("process", id = core.id, name = %core.name, kind = tag),
            ctx: Ctx::new(core.clone(), default_kind),
            inbox,
            process,
            started: false,
        };
        (runner, core, link)
    }

    /// The state the process shares with its handles.
    pub(crate) fn core(&self) -> &Arc<Core> {
        self.ctx.core()
    }

    /// Runs what is ready, start-up code first: up to `budget` envelopes,
    /// then reports whether the process is idle, has more to do, or has
    /// ended. User code runs inside a guard; were anything else to panic,
    /// the process still ends, and its links and waiters hear of it.
    pub(crate) fn run_ready(&mut self, budget: usize) -> Progress {
        #[cfg(feature = "tracing")]
        let span = self.span.clone();
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        let current = Current::enter(self.core().id);
        self.core().running.store(true, Ordering::Relaxed);
        let progress =
            catch_unwind(AssertUnwindSafe(|| self.run_batch(budget))).unwrap_or_else(|payload| {
                let exit = Exit::with_error(Panicked::from_payload(&*payload));
                text::forget_quietly(payload);
                Progress::Exited(exit)
            });
        drop(current);
        self.core().running.store(false, Ordering::Relaxed);
        // Were a step cut short by a panic outside the guards, callers
        // whose request it dropped hear of it now.
        self.release_dropped(match &progress {
            Progress::Exited(exit) => Some(exit),
            Progress::Idle | Progress::Yielded => None,
        });
        progress
    }

    fn run_batch(&mut self, budget: usize) -> Progress {
        if !self.started {
            self.started = true;
            if self.ctx.core().is_killed() {
                return Progress::Exited(Exit::with_own_error(Killed));
            }
            let step = self.start();
            self.release_dropped(step.exit());
            if let Step::Exit(exit) = step {
                return Progress::Exited(exit);
            }
        }
        for _ in 0..budget {
            if self.ctx.core().is_killed() {
                return Progress::Exited(Exit::with_own_error(Killed));
            }
            let Some(envelope) = self.inbox.try_recv(&self.ctx.core().mailbox) else {
                return Progress::Idle;
            };
            let step = self.handle(envelope);
            self.release_dropped(step.exit());
            if let Step::Exit(exit) = step {
                return Progress::Exited(exit);
            }
        }
        Progress::Yielded
    }

    /// Tells the callers whose request the step just run dropped
    /// unanswered, once the exit it causes, if any, is recorded (the exit
    /// steps record it again).
    #[inline]
    fn release_dropped(&self, exit: Option<&Exit>) {
        if call::deferred() {
            if let Some(exit) = exit {
                self.core().record_exit(exit.clone());
            }
            call::release_deferred(exit);
        }
    }

    /// Waits, as a thread waits, until something is queued: a short spin,
    /// a few yields, then parked until a send wakes the thread.
    pub(crate) fn wait(&mut self) {
        let Runner { ctx, inbox, .. } = self;
        inbox.wait(&ctx.core().mailbox);
    }

    /// Runs the start-up code.
    pub(crate) fn start(&mut self) -> Step {
        let Runner { ctx, process, .. } = self;
        step(guard(|| process.start(ctx)))
    }

    /// Handles one envelope.
    pub(crate) fn handle(&mut self, envelope: Envelope) -> Step {
        match envelope {
            Envelope::Message(message) => {
                #[cfg(feature = "tracing")]
                let _span = tracing::debug_span!("message", elements = message.len()).entered();
                let step = self.message(message);
                // The wait for a receive timeout starts again once it is
                // handled, as Erlang's `after` starts when `receive` is
                // entered again.
                self.ctx.took_something();
                step
            }
            Envelope::Exit { from, exit, linked } => {
                if linked && !link::take_link(self.ctx.core(), from.id()) {
                    // Unlinked since: no effect.
                    return Step::Continue;
                }
                self.linked_exit(from, exit)
            }
            Envelope::Down(down) => {
                if !link::take_down(self.ctx.core(), down.reference) {
                    return Step::Continue;
                }
                let message = Message::from_terms(smallvec![Term::Opaque(OpaqueValue::new(down))]);
                self.handle(Envelope::Message(message))
            }
            Envelope::Timeout(generation) => match self.ctx.timed_out(generation) {
                Some(message) => self.handle(Envelope::Message(message)),
                None => Step::Continue,
            },
            Envelope::Terminate(exit) => self.terminate(exit),
            Envelope::Unreachable => self.unreachable(),
            Envelope::Run(run) => {
                let ctx = &mut self.ctx;
                step(guard(|| {
                    run(ctx);
                    Ok(())
                }))
            }
            // The inbox takes groups apart; were one handed over whole,
            // its envelopes would be handled in order all the same.
            Envelope::Group(envelopes) => {
                for envelope in envelopes {
                    if let Step::Exit(exit) = self.handle(envelope) {
                        return Step::Exit(exit);
                    }
                }
                Step::Continue
            }
        }
    }

    /// Offers `message` to the receivers; unmatched, it ends the process.
    #[inline]
    fn message(&mut self, message: Message) -> Step {
        match self.dispatch(message) {
            Ok(None) => Step::Continue,
            Ok(Some(message)) => {
                let exit = Exit::with_error(UnhandledMessage::new(&message));
                quietly_drop(message);
                Step::Exit(exit)
            }
            Err(exit) => Step::Exit(exit),
        }
    }

    /// Offers `(Exit, Pid)` to the receivers; unhandled, the default
    /// receiver queues the process's own end.
    fn linked_exit(&mut self, from: Pid, exit: Exit) -> Step {
        let message = Message::from_terms(smallvec![Term::Exit(exit), Term::Pid(from)]);
        let dispatched = self.dispatch(message);
        self.ctx.took_something();
        match dispatched {
            Ok(None) => Step::Continue,
            Ok(Some(message)) => {
                let mut terms = message.into_iter();
                let (Some(Term::Exit(exit)), Some(Term::Pid(from))) = (terms.next(), terms.next())
                else {
                    return Step::Continue;
                };
                let exit = Exit::with_own_error(LinkedExit::new(&from, &exit));
                if self.inbox.is_empty(&self.ctx.core().mailbox) {
                    // Nothing is queued to handle first: ending now is ending
                    // after the queue, without the round trip through it.
                    return self.terminate(exit);
                }
                self.ctx.terminate_with(exit);
                Step::Continue
            }
            Err(exit) => Step::Exit(exit),
        }
    }

    /// Ends the process with `exit`, as a `terminate` does: receivers of
    /// `(Exit,)` observe the end; they cannot stop it.
    fn terminate(&mut self, exit: Exit) -> Step {
        let _ = self.dispatch(Message::from_terms(smallvec![Term::Exit(exit.clone())]));
        Step::Exit(exit)
    }

    /// Ends the process if nothing reaches it and nothing is queued.
    fn unreachable(&mut self) -> Step {
        let core = self.ctx.core();
        if core.handles() > 0 || link::reached(core) {
            // Told again when the last of these goes.
            return Step::Continue;
        }
        if self.inbox.is_empty(&self.ctx.core().mailbox) {
            return Step::Exit(Exit::normal());
        }
        // Decide again once what is queued now has been handled.
        let _ = self.ctx.core().mailbox.push(Envelope::Unreachable);
        Step::Continue
    }

    /// Runs the first receiver that matches: the process's own, then the
    /// runtime ones. `Ok(Some(message))` if none matched.
    fn dispatch(&mut self, message: Message) -> Result<Option<Message>, Exit> {
        let Runner { ctx, process, .. } = self;
        guard(|| match process.handle(ctx, message) {
            Handled::Done(result) => result.map(|()| None),
            Handled::Unmatched(message) => ctx.dispatch(message),
        })
    }

    /// Runs the exit steps for `exit`: see [`exit_steps`].
    pub(crate) fn finish(self, exit: Exit) {
        #[cfg(feature = "tracing")]
        self.span
            .in_scope(|| tracing::debug!(exit = %exit, "process ended"));
        let Runner {
            ctx,
            inbox,
            process,
            ..
        } = self;
        let core: Arc<Core> = ctx.core().clone();
        exit_steps(&core, exit, inbox, move || {
            quietly_drop(process);
            quietly_drop(ctx);
        });
    }
}

/// The exit steps, the only place they are written, whatever runs the
/// process or stands for it, in order: record the exit value; drop every
/// queued message exactly once; drop what the process held (`drop_own`);
/// notify links; wake everyone waiting.
pub(crate) fn exit_steps(
    core: &Arc<Core>,
    exit: Exit,
    mut inbox: Inbox<Envelope>,
    drop_own: impl FnOnce(),
) {
    core.record_exit(exit.clone());
    // What the queue and the process's state drop is dropped knowing how
    // the process ended.
    call::ending(&exit, || {
        core.mailbox.close(&mut inbox);
        drop(inbox);
        drop_own();
    });
    link::notify_exit(core);
    core.finish();
}

/// Runs user code, turning a panic into the exit it causes. The panic's
/// payload is dropped here, where a `Drop` of its own that panics too is
/// contained.
fn guard<T>(run: impl FnOnce() -> Result<T, Exit>) -> Result<T, Exit> {
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|payload| {
        let exit = Exit::with_error(Panicked::from_payload(&*payload));
        text::forget_quietly(payload);
        Err(exit)
    })
}

thread_local! {
    /// The id of the process whose code this thread runs, or 0.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

/// The process whose code the calling thread runs, if any.
pub(crate) fn current() -> Option<u64> {
    Some(CURRENT.with(Cell::get)).filter(|&id| id != 0)
}

/// Marks the calling thread as running process `id` until dropped.
pub(crate) struct Current {
    before: u64,
}

impl Current {
    pub(crate) fn enter(id: u64) -> Current {
        Current {
            before: CURRENT.with(|current| current.replace(id)),
        }
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.before));
    }
}

fn step(result: Result<(), Exit>) -> Step {
    match result {
        Ok(()) => Step::Continue,
        Err(exit) => Step::Exit(exit),
    }
}

/// Drops `value`, containing a panic in its `Drop` (and in the panic's
/// payload's): the exit goes on.
pub(crate) fn quietly_drop<T>(value: T) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        text::forget_quietly(payload);
    }
}
