//! [`FanOut`]: at most `limit` futures in flight, outputs in completion order.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::{check_limit, queued_size_hint};
use crate::in_flight::InFlight;

pin_project! {
    /// Stream returned by [`FanOutExt::fan_out`](super::FanOutExt::fan_out).
    #[must_use = "streams do nothing unless polled"]
    #[project = FanOutProj]
    pub struct FanOut<St, F, Fut>
    where
        Fut: Future,
    {
        #[pin]
        source: St,
        source_done: bool,
        f: F,
        limit: usize,
        in_flight: InFlight<Fut, ()>,
        // Outputs of futures that finished at their first poll, not yet yielded.
        ready: VecDeque<Fut::Output>,
        // A final output (try_fan_out's error) was seen: pull nothing more.
        stopped: bool,
    }
}

impl<St, F, Fut> FanOut<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    #[track_caller]
    pub(super) fn new(source: St, limit: usize, f: F) -> Self {
        check_limit("fan_out", limit);
        Self {
            source,
            source_done: false,
            f,
            limit,
            in_flight: InFlight::for_limit(limit),
            ready: VecDeque::new(),
            stopped: false,
        }
    }
}

impl<St, F, Fut> FanOutProj<'_, St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    /// Pulls from the source while there is room, starting (and polling once) a future per
    /// item. Room counts the futures in flight and the outputs not yet yielded; a final output
    /// (see `poll_next_until`) stops the pulls for good.
    fn fill(&mut self, cx: &mut Context<'_>, is_final: &impl Fn(&Fut::Output) -> bool) {
        while !*self.source_done
            && !*self.stopped
            && self.in_flight.len() + self.ready.len() < *self.limit
        {
            match self.source.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    let future = (self.f)(item);
                    if let Some(((), output)) = self.in_flight.push(future, (), &mut drop) {
                        *self.stopped |= is_final(&output);
                        self.ready.push_back(output);
                    }
                }
                Poll::Ready(None) => *self.source_done = true,
                Poll::Pending => break,
            }
        }
    }
}

impl<St, F, Fut> Stream for FanOut<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_until(cx, &|_| false)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let queued = self.in_flight.len() + self.ready.len();
        queued_size_hint(queued, self.source_done, &self.source)
    }
}

impl<St, F, Fut> FanOut<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    pub(super) fn poll_next_until(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        is_final: &impl Fn(&Fut::Output) -> bool,
    ) -> Poll<Option<Fut::Output>> {
        let mut this = self.project();
        let output = match this.ready.pop_front() {
            Some(output) => output,
            None => {
                this.fill(cx, is_final);
                match this.ready.pop_front() {
                    Some(output) => output,
                    None => {
                        let mut budget = this.in_flight.len().max(1);
                        match this.in_flight.poll_next(cx, &mut budget, &mut drop) {
                            Poll::Ready(Some(((), output))) => output,
                            // Nothing in flight: either the source is done too, or it is
                            // pending (and will wake us).
                            Poll::Ready(None) if *this.source_done => return Poll::Ready(None),
                            Poll::Ready(None) | Poll::Pending => return Poll::Pending,
                        }
                    }
                }
            }
        };
        // Refill the room this output leaves before handing it over, so the pipeline keeps
        // `limit` futures running while the consumer works on it.
        *this.stopped |= is_final(&output);
        this.fill(cx, is_final);
        Poll::Ready(Some(output))
    }
}

impl<St, F, Fut> FusedStream for FanOut<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    fn is_terminated(&self) -> bool {
        self.source_done && self.in_flight.is_empty() && self.ready.is_empty()
    }
}

impl<St, F, Fut> fmt::Debug for FanOut<St, F, Fut>
where
    Fut: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOut")
            .field("limit", &self.limit)
            .field("in_flight", &self.in_flight.len())
            .field("ready", &self.ready.len())
            .field("source_done", &self.source_done)
            .finish()
    }
}
