//! [`FanOutWith`]: futures in flight as long as a shared semaphore gives permits.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::queued_size_hint;
use crate::in_flight::InFlight;
use crate::semaphore::{Semaphore, SharedAcquire, SharedPermit};
use crate::Shared;

pin_project! {
    /// Stream returned by [`FanOutExt::fan_out_with`](super::FanOutExt::fan_out_with).
    #[must_use = "streams do nothing unless polled"]
    #[project = FanOutWithProj]
    pub struct FanOutWith<St, F, Fut>
    where
        St: Stream,
        Fut: Future,
    {
        #[pin]
        source: St,
        // The source ended, or the semaphore was closed: nothing more is pulled.
        source_done: bool,
        f: F,
        semaphore: Shared<Semaphore>,
        // The one pulled item waiting for its permit, and the permit's place in the queue.
        waiting: Option<(St::Item, SharedAcquire)>,
        // Each future holds its permit until it finishes.
        in_flight: InFlight<Fut, SharedPermit>,
        // At most one output of a future that finished at its first poll.
        ready: VecDeque<Fut::Output>,
    }
}

impl<St, F, Fut> FanOutWith<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    pub(super) fn new(source: St, semaphore: Shared<Semaphore>, f: F) -> Self {
        // Sized by the permits free now: a hint only (they are shared and may change).
        let in_flight = InFlight::for_limit(semaphore.available_permits());
        Self {
            source,
            source_done: false,
            f,
            semaphore,
            waiting: None,
            in_flight,
            ready: VecDeque::new(),
        }
    }
}

impl<St, F, Fut> FanOutWithProj<'_, St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    /// Starts futures while permits come at once: pulls an item, waits in the semaphore's
    /// queue for its permit, starts (and polls once) its future. Stops with an output in hand,
    /// so at most one finished-at-once output waits to be yielded.
    fn fill(&mut self, cx: &mut Context<'_>) {
        while self.ready.is_empty() {
            let acquire = match &mut *self.waiting {
                Some((_, acquire)) => acquire,
                None => {
                    if *self.source_done || self.semaphore.is_closed() {
                        *self.source_done = true;
                        return;
                    }
                    match self.source.as_mut().poll_next(cx) {
                        Poll::Ready(Some(item)) => {
                            let acquire = SharedAcquire::new(self.semaphore);
                            &mut self.waiting.insert((item, acquire)).1
                        }
                        Poll::Ready(None) => {
                            *self.source_done = true;
                            return;
                        }
                        Poll::Pending => return,
                    }
                }
            };
            match Pin::new(acquire).poll(cx) {
                Poll::Ready(Ok(permit)) => {
                    let (item, _) = self.waiting.take().expect("an item waits for this permit");
                    let future = (self.f)(item);
                    if let Some((permit, output)) = self.in_flight.push(future, permit, &mut drop) {
                        drop(permit);
                        self.ready.push_back(output);
                    }
                }
                // Closed: a shutdown. Pull nothing more; the futures in flight finish, then the
                // stream ends. The item that waited is dropped, unstarted.
                Poll::Ready(Err(_)) => {
                    *self.waiting = None;
                    *self.source_done = true;
                    return;
                }
                Poll::Pending => return,
            }
        }
    }
}

impl<St, F, Fut> Stream for FanOutWith<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let output = match this.ready.pop_front() {
            Some(output) => output,
            None => {
                this.fill(cx);
                match this.ready.pop_front() {
                    Some(output) => output,
                    None => {
                        let mut budget = this.in_flight.len().max(1);
                        match this.in_flight.poll_next(cx, &mut budget, &mut drop) {
                            // The permit goes back before the output is handed over.
                            Poll::Ready(Some((_permit, output))) => output,
                            Poll::Ready(None) if *this.source_done && this.waiting.is_none() => {
                                return Poll::Ready(None)
                            }
                            // Waiting for the source or for a permit (both will wake us).
                            Poll::Ready(None) | Poll::Pending => return Poll::Pending,
                        }
                    }
                }
            }
        };
        this.fill(cx);
        Poll::Ready(Some(output))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // The semaphore may be closed at any time, which ends the stream once the futures in
        // flight are done: only those (and the outputs in hand) are sure to come.
        let sure = self.in_flight.len() + self.ready.len();
        let high = queued_size_hint(
            sure + usize::from(self.waiting.is_some()),
            self.source_done,
            &self.source,
        )
        .1;
        (sure, high)
    }
}

impl<St, F, Fut> FusedStream for FanOutWith<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    fn is_terminated(&self) -> bool {
        self.source_done
            && self.waiting.is_none()
            && self.in_flight.is_empty()
            && self.ready.is_empty()
    }
}

impl<St, F, Fut> fmt::Debug for FanOutWith<St, F, Fut>
where
    St: Stream,
    Fut: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOutWith")
            .field("in_flight", &self.in_flight.len())
            .field("waiting_for_permit", &self.waiting.is_some())
            .field("ready", &self.ready.len())
            .field("source_done", &self.source_done)
            .field("semaphore", &self.semaphore)
            .finish()
    }
}
