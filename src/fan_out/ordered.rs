//! [`FanOutOrdered`]: at most `limit` futures in flight, outputs in input order.

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
    /// Stream returned by [`FanOutExt::fan_out_ordered`](super::FanOutExt::fan_out_ordered).
    #[must_use = "streams do nothing unless polled"]
    pub struct FanOutOrdered<St, F, Fut>
    where
        Fut: Future,
    {
        #[pin]
        source: St,
        source_done: bool,
        f: F,
        limit: usize,
        // Tagged with the item's sequence number.
        in_flight: InFlight<Fut, usize>,
        // One entry per item pulled and not yet yielded, in input order. Its length is what
        // `limit` bounds, so a slow head holds back the pulls, not the memory.
        window: VecDeque<Entry<Fut::Output>>,
        // Sequence number of `window[0]`.
        head: usize,
    }
}

/// An item of the window.
enum Entry<T> {
    Running,
    Done(T),
    /// Its future panicked (the panic resumed from `poll_next`); skipped if polled again.
    Lost,
}

impl<St, F, Fut> FanOutOrdered<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    #[track_caller]
    pub(super) fn new(source: St, limit: usize, f: F) -> Self {
        check_limit("fan_out_ordered", limit);
        Self {
            source,
            source_done: false,
            f,
            limit,
            in_flight: InFlight::for_limit(limit),
            window: VecDeque::new(),
            head: 0,
        }
    }
}

/// Pulls while the window has room, starting (and polling once) a future per item.
#[allow(clippy::too_many_arguments)] // the projected fields, borrowed one by one
fn fill<St, F, Fut>(
    mut source: Pin<&mut St>,
    source_done: &mut bool,
    f: &mut F,
    limit: usize,
    in_flight: &mut InFlight<Fut, usize>,
    window: &mut VecDeque<Entry<Fut::Output>>,
    head: usize,
    cx: &mut Context<'_>,
) where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    while !*source_done && window.len() < limit {
        match source.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                let seq = head + window.len();
                window.push_back(Entry::Running);
                let lost = &mut |seq| window[seq - head] = Entry::Lost;
                if let Some((seq, output)) = in_flight.push(f(item), seq, lost) {
                    window[seq - head] = Entry::Done(output);
                }
            }
            Poll::Ready(None) => *source_done = true,
            Poll::Pending => break,
        }
    }
}

impl<St, F, Fut> Stream for FanOutOrdered<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        fill(
            this.source.as_mut(),
            this.source_done,
            this.f,
            *this.limit,
            this.in_flight,
            this.window,
            *this.head,
            cx,
        );
        let mut budget = this.in_flight.len().max(1);
        loop {
            match this.window.front() {
                Some(Entry::Done(_)) => {
                    let Some(Entry::Done(output)) = this.window.pop_front() else {
                        unreachable!("the head is done")
                    };
                    *this.head += 1;
                    // Refill before handing the output over (see `FanOut`).
                    fill(
                        this.source,
                        this.source_done,
                        this.f,
                        *this.limit,
                        this.in_flight,
                        this.window,
                        *this.head,
                        cx,
                    );
                    return Poll::Ready(Some(output));
                }
                Some(Entry::Lost) => {
                    this.window.pop_front();
                    *this.head += 1;
                    fill(
                        this.source.as_mut(),
                        this.source_done,
                        this.f,
                        *this.limit,
                        this.in_flight,
                        this.window,
                        *this.head,
                        cx,
                    );
                    continue;
                }
                Some(Entry::Running) | None => {}
            }
            let (window, head) = (&mut *this.window, *this.head);
            let lost = &mut |seq| window[seq - head] = Entry::Lost;
            match this.in_flight.poll_next(cx, &mut budget, lost) {
                Poll::Ready(Some((seq, output))) => {
                    this.window[seq - *this.head] = Entry::Done(output)
                }
                // Nothing in flight and the head not done means the window is empty: the
                // source is done, or pending (and will wake us).
                Poll::Ready(None) if *this.source_done => return Poll::Ready(None),
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        queued_size_hint(self.window.len(), self.source_done, &self.source)
    }
}

impl<St, F, Fut> FusedStream for FanOutOrdered<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
{
    fn is_terminated(&self) -> bool {
        self.source_done && self.window.is_empty()
    }
}

impl<St, F, Fut> fmt::Debug for FanOutOrdered<St, F, Fut>
where
    Fut: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOutOrdered")
            .field("limit", &self.limit)
            .field("in_flight", &self.in_flight.len())
            .field("done_waiting", &(self.window.len() - self.in_flight.len()))
            .field("source_done", &self.source_done)
            .finish()
    }
}
