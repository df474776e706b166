//! Calls: request and reply with a timeout, as Erlang's `gen_server:call`.
//!
//! A call sends the callee the message `(ReplyTo, request...)`; a receiver
//! takes the [`ReplyTo`] like any element (`pattern!(ReplyTo, "get", u64)`,
//! `#[receive(ReplyTo, "get", u64)]`) and answers through it, then or
//! later, from that process or another. The reply goes straight to the
//! caller, never through its mailbox, so a reply that comes after the
//! caller gave up is dropped, not left queued.
//!
//! A `ReplyTo` dropped without a reply tells the caller at once, which is
//! what makes a call fail at once when its callee dies or has died (its
//! queued requests, its state and a handler's arguments are all dropped
//! then): Erlang's `call` monitors the callee for the same promise. A
//! `ReplyTo` that a running handler drops is told about once the
//! handler's step is over, after the exit it causes is recorded, so that
//! the caller reads the callee's exit rather than a bare "no reply".

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use smallvec::smallvec;
use thiserror::Error;

use crate::ctx::Ctx;
use crate::driver::{self, Kind};
use crate::exit::Exit;
use crate::message::{Elements, IntoMessage, Message};
use crate::monitors::Down;
use crate::pattern::FromBindings;
use crate::pid::{Pid, SendFailure, lock};
use crate::process::{Handled, Process};
use crate::runner;
use crate::spawn::{self, Spawn};
use crate::term::{Opaque, OpaqueValue, Term};
use crate::timers::{self, Alarm, TimerRef};

/// Why a call returned no reply.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum CallError {
    /// The callee ended before it replied, or had ended before the call;
    /// this is how.
    #[error("the called process ended before it replied: {0}")]
    Ended(Exit),
    /// No reply came within the call's timeout. A reply that comes later
    /// is dropped.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The request's [`ReplyTo`] was dropped without a reply by a process
    /// that lives on: no reply can come.
    #[error("the request was dropped without a reply")]
    NoReply,
    /// A process called itself, which could never be answered.
    #[error("a process cannot call itself")]
    OwnProcess,
    /// The request could not be sent (to another OS process, it must be
    /// serializable).
    #[error("cannot send the request: {0}")]
    Send(SendFailure),
    /// The process that takes the reply from another OS process could not
    /// start.
    #[error("cannot start the call: {0}")]
    Start(String),
    /// The reply did not have the shape [`Pid::call_as`] asked for.
    #[error("the reply is not a {expected}")]
    UnexpectedReply {
        /// The type asked for.
        expected: &'static str,
    },
}

/// Where a call's reply goes: the first element of the message a call
/// sends. [`ReplyTo::reply`] answers; dropping it unanswered tells the
/// caller that no reply will come.
pub struct ReplyTo {
    target: Option<Target>,
}

/// Where a reply goes.
enum Target {
    /// A caller of this program.
    Local(Arc<Reply>),
    /// A caller of another OS process, through the process that takes
    /// the reply for it there.
    Remote(Pid),
}

impl Opaque for ReplyTo {}

impl std::fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplyTo")
    }
}

impl ReplyTo {
    /// Sends `message` to the caller as the call's reply: true if the
    /// caller still waits, false (the message dropped) if it has given
    /// up.
    ///
    /// For a caller in another OS process, true means the reply is on its
    /// way (the caller may have given up by the time it comes).
    pub fn reply(mut self, message: impl IntoMessage) -> bool {
        match self.target.take() {
            Some(Target::Local(reply)) => reply.settle(Outcome::Replied(message.into_message())),
            Some(Target::Remote(to)) => {
                let mut terms: Elements = smallvec![Term::Str(REPLY.to_owned())];
                terms.extend(message.into_message());
                to.send(Message::from_terms(terms)).is_ok()
            }
            None => false,
        }
    }
}

impl Drop for ReplyTo {
    fn drop(&mut self) {
        let Some(target) = self.target.take() else {
            return;
        };
        if runner::current().is_some() {
            // A running process drops it: told once the step is over.
            DEFERRED.with(|deferred| deferred.borrow_mut().push(target));
            ANY_DEFERRED.with(|any| any.set(true));
        } else {
            // Dropped by the exit steps of a process (with its queue or
            // its state), or by code outside any process.
            let ending = ENDING.with(|ending| ending.borrow().clone());
            target.dropped(ending);
        }
    }
}

impl Target {
    /// Tells the caller that no reply will come: the callee ended with
    /// `exit`, if that is known.
    fn dropped(self, exit: Option<Exit>) {
        match self {
            Target::Local(reply) => {
                reply.settle(Outcome::Dropped);
            }
            Target::Remote(to) => {
                let mut terms: Elements = smallvec![Term::Str(DROPPED.to_owned())];
                terms.extend(exit.map(Term::Exit));
                let _ = to.send(Message::from_terms(terms));
            }
        }
    }
}

/// The first element of a reply to a caller of another OS process.
const REPLY: &str = "$paragram:reply";
/// The first element of the news that a request was dropped unanswered,
/// followed by the callee's exit if it ended.
const DROPPED: &str = "$paragram:no_reply";
/// The first element of a request from another OS process: a tuple of it
/// and the process that takes the reply there.
const REPLY_TO: &str = "$paragram:reply_to";

/// A message as a process of this program receives it from another OS
/// process: a request's `("$paragram:reply_to", Pid)` first element
/// becomes the `ReplyTo` the receivers match.
pub(crate) fn accept_remote(message: Message) -> Message {
    let is_request = matches!(
        message.terms().first(),
        Some(Term::Tuple(items))
            if matches!(items.as_slice(), [Term::Str(tag), Term::Pid(_)] if tag == REPLY_TO)
    );
    if !is_request {
        return message;
    }
    let mut terms = message.into_iter();
    let to = match terms.next() {
        Some(Term::Tuple(items)) => items.into_iter().find_map(|item| match item {
            Term::Pid(pid) => Some(pid),
            _ => None,
        }),
        _ => None,
    };
    let Some(to) = to else {
        return Message::from_terms(Elements::new());
    };
    let reply_to = ReplyTo {
        target: Some(Target::Remote(to)),
    };
    let mut out: Elements = smallvec![Term::Opaque(OpaqueValue::new(reply_to))];
    out.extend(terms);
    Message::from_terms(out)
}

thread_local! {
    /// Replies dropped unanswered by the process this thread runs, told
    /// about by [`release_deferred`].
    static DEFERRED: RefCell<Vec<Target>> = const { RefCell::new(Vec::new()) };
    /// Whether `DEFERRED` holds anything: one load on the path of every
    /// message.
    static ANY_DEFERRED: Cell<bool> = const { Cell::new(false) };
    /// The exit of the process whose exit steps this thread runs, if it
    /// does.
    static ENDING: RefCell<Option<Exit>> = const { RefCell::new(None) };
}

/// Runs `steps`, the exit steps of a process that ended with `exit`: a
/// `ReplyTo` they drop tells a caller in another OS process how the
/// callee ended.
pub(crate) fn ending<R>(exit: &Exit, steps: impl FnOnce() -> R) -> R {
    struct Reset(Option<Exit>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let before = self.0.take();
            ENDING.with(|ending| *ending.borrow_mut() = before);
        }
    }
    let before = ENDING.with(|ending| ending.borrow_mut().replace(exit.clone()));
    let _reset = Reset(before);
    steps()
}

/// Whether the process that just ran dropped a `ReplyTo` unanswered.
#[inline]
pub(crate) fn deferred() -> bool {
    ANY_DEFERRED.with(Cell::get)
}

/// Tells the callers whose `ReplyTo` the process that just ran dropped
/// unanswered: called by the runner after each run, once an exit the run
/// caused is recorded.
pub(crate) fn release_deferred(exit: Option<&Exit>) {
    ANY_DEFERRED.with(|any| any.set(false));
    let deferred = DEFERRED.with(|deferred| {
        let mut deferred = deferred.borrow_mut();
        (!deferred.is_empty()).then(|| std::mem::take(&mut *deferred))
    });
    for target in deferred.into_iter().flatten() {
        target.dropped(exit.cloned());
    }
}

/// What became of a call.
enum Outcome {
    Pending,
    Replied(Message),
    Dropped,
    /// A callee in another OS process ended before it replied.
    Ended(Exit),
    /// The async form's timeout passed.
    Expired,
    /// The caller gave up; a reply is dropped.
    Abandoned,
}

/// The meeting point of a caller and its callee.
pub(crate) struct Reply {
    state: Mutex<State>,
    settled: Condvar,
}

struct State {
    outcome: Outcome,
    waker: Option<Waker>,
}

impl Reply {
    fn new() -> Arc<Reply> {
        Arc::new(Reply {
            state: Mutex::new(State {
                outcome: Outcome::Pending,
                waker: None,
            }),
            settled: Condvar::new(),
        })
    }

    /// Settles a pending call with `outcome`: false if it was settled
    /// already. What it displaces is dropped outside the lock.
    fn settle(&self, outcome: Outcome) -> bool {
        let mut state = lock(&self.state);
        if !matches!(state.outcome, Outcome::Pending) {
            drop(state);
            drop(outcome);
            return false;
        }
        state.outcome = outcome;
        let waker = state.waker.take();
        drop(state);
        self.settled.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The settled call's result; the call is abandoned from then on, so
    /// that nothing more is kept.
    fn result(&self, callee: &Pid, timeout: Duration) -> Result<Message, CallError> {
        let outcome = std::mem::replace(&mut lock(&self.state).outcome, Outcome::Abandoned);
        match outcome {
            Outcome::Replied(message) => Ok(message),
            Outcome::Dropped => Err(no_reply(callee)),
            Outcome::Ended(exit) => Err(CallError::Ended(exit)),
            Outcome::Pending | Outcome::Expired | Outcome::Abandoned => {
                Err(CallError::Timeout(timeout))
            }
        }
    }

    /// Gives up waiting: a reply that comes is dropped.
    fn abandon(&self) {
        let outcome = {
            let mut state = lock(&self.state);
            state.waker = None;
            std::mem::replace(&mut state.outcome, Outcome::Abandoned)
        };
        drop(outcome);
    }
}

impl Alarm for Reply {
    fn ring(&self) {
        self.settle(Outcome::Expired);
    }
}

/// Why a dropped `ReplyTo` brought no reply: the callee's end, if it has
/// ended.
fn no_reply(callee: &Pid) -> CallError {
    callee.exit().map_or(CallError::NoReply, CallError::Ended)
}

/// Sends `callee` the call message for `request`, answering to `reply`;
/// for a callee in another OS process, returns the process that takes
/// the reply here, to end once the call is over.
fn send_request(
    callee: &Pid,
    request: impl IntoMessage,
    reply: &Arc<Reply>,
) -> Result<Option<Pid>, CallError> {
    if runner::current() == Some(callee.id()) {
        return Err(CallError::OwnProcess);
    }
    let (first, catcher) = if callee.core().route.get().is_some() {
        let catcher = spawn::spawn(
            Spawn::process(Catcher {
                reply: reply.clone(),
                callee: Some(callee.clone()),
            })
            .name("reply"),
            None,
            None,
            Kind::default(),
        )
        .map_err(|error| CallError::Start(error.to_string()))?;
        let first = Term::tuple([Term::Str(REPLY_TO.to_owned()), Term::Pid(catcher.clone())]);
        (first, Some(catcher))
    } else {
        let reply_to = ReplyTo {
            target: Some(Target::Local(reply.clone())),
        };
        (Term::Opaque(OpaqueValue::new(reply_to)), None)
    };
    let mut terms: Elements = smallvec![first];
    terms.extend(request.into_message());
    match callee.send(Message::from_terms(terms)) {
        Ok(()) => Ok(catcher),
        Err(error) => {
            if let Some(catcher) = catcher {
                catcher.terminate();
            }
            // The handed-back request drops its `ReplyTo` with the error;
            // no one waits on it.
            Err(match error.reason() {
                SendFailure::Ended => no_reply(callee),
                other => CallError::Send(other),
            })
        }
    }
}

/// The process that takes the reply to a call to another OS process: it
/// monitors the callee, so that the call fails at once if the callee or
/// its OS process dies, and settles the call with what comes first.
struct Catcher {
    reply: Arc<Reply>,
    callee: Option<Pid>,
}

impl Process for Catcher {
    fn start(&mut self, ctx: &mut Ctx) -> Result<(), Exit> {
        if let Some(callee) = self.callee.take() {
            ctx.monitor(&callee);
        }
        Ok(())
    }

    fn handle(&mut self, ctx: &mut Ctx, message: Message) -> Handled {
        let outcome = match message.terms() {
            [Term::Str(tag), ..] if tag == REPLY => {
                Outcome::Replied(Message::from_terms(message.into_iter().skip(1).collect()))
            }
            [Term::Str(tag)] if tag == DROPPED => Outcome::Dropped,
            [Term::Str(tag), Term::Exit(_)] if tag == DROPPED => match message.into_iter().nth(1) {
                Some(Term::Exit(exit)) => Outcome::Ended(exit),
                _ => Outcome::Dropped,
            },
            [Term::Opaque(down)] if down.is::<Down>() => match message.into_iter().next() {
                Some(Term::Opaque(down)) => match down.downcast::<Down>() {
                    Ok(down) => Outcome::Ended(down.exit),
                    Err(_) => Outcome::Dropped,
                },
                _ => Outcome::Dropped,
            },
            _ => return Handled::Unmatched(message),
        };
        self.reply.settle(outcome);
        ctx.terminate();
        Handled::Done(Ok(()))
    }
}

impl Drop for Catcher {
    fn drop(&mut self) {
        // Ended with no news: no reply can come.
        self.reply.settle(Outcome::Dropped);
    }
}

impl Pid {
    /// Calls the process: sends it `(ReplyTo, request...)` and waits up to
    /// `timeout` for the reply, as Erlang's `gen_server:call/3`. Fails at
    /// once, with [`CallError::Ended`] and the callee's exit, if the callee
    /// has ended or ends before replying; a reply after the timeout is
    /// dropped. From a process's own code the call blocks that process (a
    /// blocking call: the scheduler kind hands the worker's other
    /// processes to another thread meanwhile); calling itself is
    /// [`CallError::OwnProcess`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use paragram::{ReplyTo, Root, pattern};
    /// let root = Root::new();
    /// let doubler = root
    ///     .spawn(|ctx: &mut paragram::Ctx| {
    ///         ctx.receive(pattern!(ReplyTo, "double", u64), |_, (from, n): (ReplyTo, u64)| {
    ///             from.reply(n * 2);
    ///         })
    ///     })
    ///     .unwrap();
    /// let (n,): (u64,) = doubler.call_as(("double", 21u64), Duration::from_secs(5)).unwrap();
    /// assert_eq!(n, 42);
    /// # doubler.terminate();
    /// ```
    pub fn call(&self, request: impl IntoMessage, timeout: Duration) -> Result<Message, CallError> {
        let reply = Reply::new();
        let catcher = send_request(self, request, &reply)?;
        let _end = catcher.map(EndOnDrop);
        // A timeout past the clock's end is no timeout.
        let deadline = Instant::now().checked_add(timeout);
        driver::blocking(|| {
            let mut state = lock(&reply.state);
            loop {
                if !matches!(state.outcome, Outcome::Pending) {
                    drop(state);
                    return reply.result(self, timeout);
                }
                state = match deadline {
                    None => reply
                        .settled
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner),
                    Some(deadline) => {
                        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                            drop(state);
                            reply.abandon();
                            return Err(CallError::Timeout(timeout));
                        };
                        reply
                            .settled
                            .wait_timeout(state, left)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                };
            }
        })
    }

    /// [`Pid::call`], with the reply converted into `A`, a tuple of the
    /// reply's elements' types (`(u64,)`, `(String, Pid)`):
    /// [`CallError::UnexpectedReply`] if it does not convert.
    pub fn call_as<A: FromBindings>(
        &self,
        request: impl IntoMessage,
        timeout: Duration,
    ) -> Result<A, CallError> {
        let message = self.call(request, timeout)?;
        A::from_bindings(message).ok_or(CallError::UnexpectedReply {
            expected: std::any::type_name::<A>(),
        })
    }

    /// [`Pid::call`] as a future, for `async` code: it never blocks its
    /// executor's thread, and needs no particular runtime (its timeout
    /// comes from paragram's timer thread). Dropping it gives up the
    /// call; a reply that comes later is dropped.
    pub fn call_async(&self, request: impl IntoMessage, timeout: Duration) -> CallFuture {
        let reply = Reply::new();
        let sent = send_request(self, request, &reply);
        CallFuture {
            callee: self.clone(),
            timeout,
            state: match sent {
                Ok(catcher) => FutureState::Waiting {
                    reply,
                    timer: None,
                    _catcher: catcher.map(EndOnDrop),
                },
                Err(error) => FutureState::Failed(Some(error)),
            },
        }
    }
}

/// Ends the process that takes a call's reply, once the call is over.
struct EndOnDrop(Pid);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.terminate();
    }
}

/// The future of [`Pid::call_async`].
pub struct CallFuture {
    callee: Pid,
    timeout: Duration,
    state: FutureState,
}

enum FutureState {
    Waiting {
        reply: Arc<Reply>,
        timer: Option<TimerRef>,
        _catcher: Option<EndOnDrop>,
    },
    Failed(Option<CallError>),
    Done,
}

impl Future for CallFuture {
    type Output = Result<Message, CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (reply, timer) = match &mut this.state {
            FutureState::Waiting { reply, timer, .. } => (reply.clone(), timer),
            FutureState::Failed(error) => {
                let error = error.take().unwrap_or(CallError::NoReply);
                this.state = FutureState::Done;
                return Poll::Ready(Err(error));
            }
            FutureState::Done => return Poll::Pending,
        };
        if timer.is_none() {
            let alarm: Weak<dyn Alarm> = Arc::downgrade(&reply) as Weak<Reply>;
            *timer = Some(timers::alarm(this.timeout, alarm));
        }
        {
            let mut state = lock(&reply.state);
            if matches!(state.outcome, Outcome::Pending) {
                match &state.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => state.waker = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
        }
        let result = reply.result(&this.callee, this.timeout);
        if let Some(timer) = timer.take() {
            timers::cancel_timer(timer);
        }
        this.state = FutureState::Done;
        Poll::Ready(result)
    }
}

impl Drop for CallFuture {
    fn drop(&mut self) {
        if let FutureState::Waiting { reply, timer, .. } = &mut self.state {
            if let Some(timer) = timer.take() {
                timers::cancel_timer(timer);
            }
            reply.abandon();
        }
    }
}
