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

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use smallvec::smallvec;
use thiserror::Error;

use crate::driver;
use crate::exit::Exit;
use crate::message::{IntoMessage, Message};
use crate::pattern::FromBindings;
use crate::pid::{Pid, SendFailure, lock};
use crate::runner;
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
    /// The request could not be sent (to a process of another OS process,
    /// a `ReplyTo` has no serialized form).
    #[error("cannot send the request: {0}")]
    Send(SendFailure),
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
    reply: Option<Arc<Reply>>,
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
    pub fn reply(mut self, message: impl IntoMessage) -> bool {
        let Some(reply) = self.reply.take() else {
            return false;
        };
        reply.settle(Outcome::Replied(message.into_message()))
    }
}

impl Drop for ReplyTo {
    fn drop(&mut self) {
        let Some(reply) = self.reply.take() else {
            return;
        };
        if runner::current().is_some() {
            // A running process drops it: told once the step is over.
            DEFERRED.with(|deferred| deferred.borrow_mut().push(reply));
        } else {
            reply.settle(Outcome::Dropped);
        }
    }
}

thread_local! {
    /// Replies dropped unanswered by the process this thread runs, told
    /// about by [`release_deferred`].
    static DEFERRED: RefCell<Vec<Arc<Reply>>> = const { RefCell::new(Vec::new()) };
}

/// Whether the process that just ran dropped a `ReplyTo` unanswered.
#[inline]
pub(crate) fn deferred() -> bool {
    DEFERRED.with(|deferred| !deferred.borrow().is_empty())
}

/// Tells the callers whose `ReplyTo` the process that just ran dropped
/// unanswered: called by the runner after each run, once an exit the run
/// caused is recorded.
pub(crate) fn release_deferred() {
    let deferred = DEFERRED.with(|deferred| {
        let mut deferred = deferred.borrow_mut();
        (!deferred.is_empty()).then(|| std::mem::take(&mut *deferred))
    });
    for reply in deferred.into_iter().flatten() {
        reply.settle(Outcome::Dropped);
    }
}

/// What became of a call.
enum Outcome {
    Pending,
    Replied(Message),
    Dropped,
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

/// Sends `callee` the call message for `request`, answering to `reply`.
fn send_request(
    callee: &Pid,
    request: impl IntoMessage,
    reply: &Arc<Reply>,
) -> Result<(), CallError> {
    if runner::current() == Some(callee.id()) {
        return Err(CallError::OwnProcess);
    }
    let reply_to = ReplyTo {
        reply: Some(reply.clone()),
    };
    let mut terms = smallvec![Term::Opaque(OpaqueValue::new(reply_to))];
    terms.extend(request.into_message());
    match callee.send(Message::from_terms(terms)) {
        Ok(()) => Ok(()),
        Err(error) => {
            // The handed-back request drops its `ReplyTo` with the error;
            // no one waits on it.
            Err(match error.reason() {
                SendFailure::Ended => no_reply(callee),
                other => CallError::Send(other),
            })
        }
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
        send_request(self, request, &reply)?;
        let deadline = Instant::now() + timeout;
        driver::blocking(|| {
            let mut state = lock(&reply.state);
            loop {
                if !matches!(state.outcome, Outcome::Pending) {
                    drop(state);
                    return reply.result(self, timeout);
                }
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    drop(state);
                    reply.abandon();
                    return Err(CallError::Timeout(timeout));
                };
                state = reply
                    .settled
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
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
                Ok(()) => FutureState::Waiting { reply, timer: None },
                Err(error) => FutureState::Failed(Some(error)),
            },
        }
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
    },
    Failed(Option<CallError>),
    Done,
}

impl Future for CallFuture {
    type Output = Result<Message, CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (reply, timer) = match &mut this.state {
            FutureState::Waiting { reply, timer } => (reply.clone(), timer),
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
        if let FutureState::Waiting { reply, timer } = &mut self.state {
            if let Some(timer) = timer.take() {
                timers::cancel_timer(timer);
            }
            reply.abandon();
        }
    }
}
