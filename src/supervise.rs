//! Supervised work: user futures polled with their panics caught, and the one wrapper that runs
//! them as executor tasks for every primitive that spawns (the parallel `ErrGroup`,
//! `fan_out_spawned`).
//!
//! A [`Supervised`] task polls its future inside `catch_unwind`, reports how it ended exactly
//! once ([`Outcome`]: a value, a panic's payload, or dropped), and obeys a hard [`Abort`]: once
//! it is set, the task drops its future at its next poll (it is woken for it) and reports
//! `Dropped`. An executor that drops the task unfinished (a runtime shutting down) gets the same
//! report from its drop, so the owner never waits for it forever.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::cancel::Flag;
use crate::notify::Ticket;

/// A caught panic's payload.
pub(crate) type Payload = Box<dyn Any + Send>;

/// A task as every runtime's spawn takes it.
pub(crate) type Task<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The spawn function a user hands over (`|f| { tokio::spawn(f); }`).
pub(crate) type SpawnFn<'a> = std::sync::Arc<dyn Fn(Task<'a>) + Send + Sync + 'a>;

/// How a piece of supervised work ended.
pub(crate) enum Outcome<O> {
    /// It returned this.
    Done(O),
    /// It panicked (in its poll or its drop code), with this payload.
    Panicked(Payload),
    /// It was dropped before it finished: aborted, or by its executor.
    Dropped,
}

/// Polls the future in `future` (which must be `Some`), catching a panic. The future is dropped
/// as soon as it is done, inside the catch, so a panic of its drop code counts as its panic; a
/// future that panicked is dropped too, and a second panic from its drop code is swallowed
/// (it is not the story).
pub(crate) fn poll_catching<F: Future>(
    mut future: Pin<&mut Option<F>>,
    cx: &mut Context<'_>,
) -> Poll<Outcome<F::Output>> {
    let polled = catch_unwind(AssertUnwindSafe(|| {
        let inner = future
            .as_mut()
            .as_pin_mut()
            .expect("a task's future is not polled after it finished");
        let poll = inner.poll(cx);
        if poll.is_ready() {
            future.set(None);
        }
        poll
    }));
    match polled {
        Ok(Poll::Ready(output)) => Poll::Ready(Outcome::Done(output)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(payload) => {
            let _ = catch_unwind(AssertUnwindSafe(|| future.set(None)));
            Poll::Ready(Outcome::Panicked(payload))
        }
    }
}

/// Drops the future in `future` before it finished; a panic of its drop code is its panic.
pub(crate) fn drop_catching<F>(mut future: Pin<&mut Option<F>>) -> Outcome<F::Output>
where
    F: Future,
{
    match catch_unwind(AssertUnwindSafe(|| future.set(None))) {
        Ok(()) => Outcome::Dropped,
        Err(payload) => Outcome::Panicked(payload),
    }
}

/// A hard-abort signal for spawned work, split over a few flags: each task registers on the
/// flag of its index, so tasks pending on different worker threads rarely contend for one
/// waker list (measured: a quarter of the time of the error-group bench `cancel_10k_pending_mt`
/// went to one list).
pub(crate) struct Abort {
    shards: [Flag; 4],
}

impl Abort {
    pub(crate) fn new() -> Self {
        Self {
            shards: std::array::from_fn(|_| Flag::new()),
        }
    }

    /// Sets every shard; shard 0 first, the one `is_set` reads.
    pub(crate) fn set(&self) {
        for shard in &self.shards {
            shard.set();
        }
    }

    pub(crate) fn is_set(&self) -> bool {
        self.shards[0].is_set()
    }

    /// Polls until the shard of task `index` is set.
    fn poll_set(
        &self,
        index: usize,
        ticket: &mut Option<Ticket>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        self.shards[index % self.shards.len()].poll_set(ticket, cx)
    }

    /// Drops task `index`'s registration, if any.
    fn unlisten(&self, index: usize, ticket: &mut Option<Ticket>) {
        self.shards[index % self.shards.len()].unlisten(ticket);
    }
}

/// The owner of supervised tasks: where they find the abort signal and report how they ended.
/// Implemented for the owner's shared handle (an `Arc` of its state).
pub(crate) trait Report<O> {
    fn abort_signal(&self) -> &Abort;
    /// Called exactly once per task that was handed to an executor.
    fn report(&self, index: usize, outcome: Outcome<O>);
}

pin_project! {
    /// A user future run as an executor task: polled with its panics caught, reporting its
    /// outcome once, dropping its future at its next poll once aborted.
    pub(crate) struct Supervised<F, R>
    where
        F: Future,
        R: Report<F::Output>,
    {
        #[pin]
        future: Option<F>,
        owner: R,
        index: usize,
        // Its place in the abort signal's waker list while the future is pending.
        ticket: Option<Ticket>,
        reported: bool,
    }

    impl<F, R> PinnedDrop for Supervised<F, R>
    where
        F: Future,
        R: Report<F::Output>,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.owner.abort_signal().unlisten(*this.index, this.ticket);
            if !*this.reported {
                // Dropped unfinished by its executor (or unpolled by an aborted owner): the
                // future goes first, so its drop code runs before the owner hears of it.
                *this.reported = true;
                let outcome = drop_catching(this.future);
                this.owner.report(*this.index, outcome);
            }
        }
    }
}

impl<F, R> Supervised<F, R>
where
    F: Future,
    R: Report<F::Output>,
{
    pub(crate) fn new(future: F, owner: R, index: usize) -> Self {
        Self {
            future: Some(future),
            owner,
            index,
            ticket: None,
            reported: false,
        }
    }

    /// Sets the index it reports under, before it is handed to an executor.
    pub(crate) fn set_index(&mut self, index: usize) {
        self.index = index;
    }

    /// Takes the future back out of a task that was never handed to an executor; nothing is
    /// reported for it.
    pub(crate) fn take_unstarted(&mut self) -> Option<F> {
        self.reported = true;
        self.future.take()
    }
}

impl<F, R> Future for Supervised<F, R>
where
    F: Future,
    R: Report<F::Output>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if *this.reported {
            return Poll::Ready(());
        }
        let abort = this.owner.abort_signal();
        let outcome = if abort.is_set() {
            drop_catching(this.future.as_mut())
        } else {
            match poll_catching(this.future.as_mut(), cx) {
                Poll::Ready(outcome) => outcome,
                Poll::Pending => {
                    if abort.poll_set(*this.index, this.ticket, cx).is_pending() {
                        return Poll::Pending;
                    }
                    // Aborted while we were pending: drop the future now.
                    drop_catching(this.future.as_mut())
                }
            }
        };
        *this.reported = true;
        this.owner.report(*this.index, outcome);
        Poll::Ready(())
    }
}
