//! [`FanOutSpawned`]: each item's future runs as its own executor task; outputs come back
//! through a queue, in completion order.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::{check_limit, queued_size_hint};
use crate::supervise::{Abort, Outcome, Report, SpawnFn, Supervised, Task};
use crate::sync::{lock, Arc, Mutex};

/// Shared by the stream and its spawned items.
struct Shared<T> {
    queue: Mutex<Queue<T>>,
    /// Set when the stream is dropped: every item drops its future at its next poll.
    abort: Abort,
}

struct Queue<T> {
    /// Outcomes not yet taken by the stream.
    outcomes: VecDeque<Outcome<T>>,
    /// The stream's waker, left when it found the queue empty; taken by the next report.
    waker: Option<Waker>,
}

/// The items' owner: each item is a [`Supervised`] task that reports into the queue.
impl<T> Report<T> for Arc<Shared<T>> {
    fn abort_signal(&self) -> &Abort {
        &self.abort
    }

    fn report(&self, _index: usize, outcome: Outcome<T>) {
        let waker = {
            let mut queue = lock(&self.queue);
            queue.outcomes.push_back(outcome);
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Fires the abort signal when the stream is dropped.
struct AbortOnDrop<T>(Arc<Shared<T>>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort.set();
    }
}

pin_project! {
    /// Stream returned by [`FanOutExt::fan_out_spawned`](super::FanOutExt::fan_out_spawned).
    #[must_use = "streams do nothing unless polled"]
    #[project = FanOutSpawnedProj]
    pub struct FanOutSpawned<St, F, T> {
        #[pin]
        source: St,
        source_done: bool,
        f: F,
        limit: usize,
        spawn: SpawnFn<'static>,
        shared: AbortOnDrop<T>,
        // Items spawned whose outcome the stream has not yet taken from `taken`.
        in_flight: usize,
        // Spawned so far: the index that picks an item's abort shard.
        spawned: usize,
        // A batch of outcomes taken from the shared queue (swapped with it, so both buffers
        // are reused).
        taken: VecDeque<Outcome<T>>,
    }
}

impl<St, F, Fut, T> FanOutSpawned<St, F, T>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    pub(super) fn new<S>(source: St, limit: usize, spawn: S, f: F) -> Self
    where
        S: Fn(Task<'static>) + Send + Sync + 'static,
    {
        check_limit("fan_out_spawned", limit);
        Self {
            source,
            source_done: false,
            f,
            limit,
            spawn: std::sync::Arc::new(spawn),
            shared: AbortOnDrop(Arc::new(Shared {
                queue: Mutex::new(Queue {
                    outcomes: VecDeque::new(),
                    waker: None,
                }),
                abort: Abort::new(),
            })),
            in_flight: 0,
            spawned: 0,
            taken: VecDeque::new(),
        }
    }
}

impl<St, F, Fut, T> FanOutSpawnedProj<'_, St, F, T>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    /// Pulls while fewer than `limit` items are spawned and not yet yielded, spawning each.
    fn fill(&mut self, cx: &mut Context<'_>) {
        while !*self.source_done && *self.in_flight < *self.limit {
            match self.source.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    // The index picks the item's abort shard.
                    let job = Supervised::new((self.f)(item), self.shared.0.clone(), *self.spawned);
                    *self.in_flight += 1;
                    *self.spawned = self.spawned.wrapping_add(1);
                    (self.spawn)(Box::pin(job));
                }
                Poll::Ready(None) => *self.source_done = true,
                Poll::Pending => break,
            }
        }
    }
}

impl<St, F, Fut, T> Stream for FanOutSpawned<St, F, T>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut this = self.project();
        this.fill(cx);
        loop {
            if let Some(outcome) = this.taken.pop_front() {
                *this.in_flight -= 1;
                match outcome {
                    Outcome::Done(output) => {
                        // Refill before handing the output over (see `FanOut`).
                        this.fill(cx);
                        return Poll::Ready(Some(output));
                    }
                    Outcome::Panicked(payload) => resume_unwind(payload),
                    Outcome::Dropped => panic!(
                        "fan_out_spawned: an item's task was dropped by its executor before it \
                         finished (was the runtime shut down?), so its output is lost"
                    ),
                }
            }
            if *this.in_flight == 0 {
                return if *this.source_done {
                    Poll::Ready(None)
                } else {
                    Poll::Pending // the source will wake us
                };
            }
            // Take what came, or leave the waker: under one lock, so no report is missed.
            let old = {
                let mut queue = lock(&this.shared.0.queue);
                std::mem::swap(&mut queue.outcomes, this.taken);
                if !this.taken.is_empty() {
                    continue;
                }
                match &queue.waker {
                    Some(w) if w.will_wake(cx.waker()) => None,
                    _ => queue.waker.replace(cx.waker().clone()),
                }
            };
            drop(old); // executor code, outside the lock
            return Poll::Pending;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        queued_size_hint(self.in_flight, self.source_done, &self.source)
    }
}

impl<St, F, Fut, T> FusedStream for FanOutSpawned<St, F, T>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.source_done && self.in_flight == 0
    }
}

impl<St, F, T> fmt::Debug for FanOutSpawned<St, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOutSpawned")
            .field("limit", &self.limit)
            .field("in_flight", &self.in_flight)
            .field("source_done", &self.source_done)
            .finish()
    }
}
