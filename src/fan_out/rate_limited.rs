//! [`RateLimited`]: a source whose items come out no faster than a rate limiter allows.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use crate::rate_limit::{RateAcquireOwned, RateLimiter};
use crate::Shared;

pin_project! {
    /// Stream returned by [`FanOutExt::rate_limited`](super::FanOutExt::rate_limited).
    #[must_use = "streams do nothing unless polled"]
    pub struct RateLimited<St>
    where
        St: Stream,
    {
        #[pin]
        source: St,
        source_done: bool,
        limiter: Shared<RateLimiter>,
        // The one pulled item waiting for its slot, and its booking.
        waiting: Option<(St::Item, RateAcquireOwned)>,
    }
}

impl<St: Stream> RateLimited<St> {
    pub(super) fn new(source: St, limiter: Shared<RateLimiter>) -> Self {
        Self {
            source,
            source_done: false,
            limiter,
            waiting: None,
        }
    }
}

impl<St: Stream> Stream for RateLimited<St> {
    type Item = St::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let mut this = self.project();
        let booking = match this.waiting {
            Some((_, booking)) => booking,
            None => {
                if *this.source_done {
                    return Poll::Ready(None);
                }
                match std::task::ready!(this.source.as_mut().poll_next(cx)) {
                    // The slot is booked only once there is an item to start in it.
                    Some(item) => {
                        let booking = RateAcquireOwned::new(this.limiter.clone(), 1);
                        &mut this.waiting.insert((item, booking)).1
                    }
                    None => {
                        *this.source_done = true;
                        return Poll::Ready(None);
                    }
                }
            }
        };
        let granted = std::task::ready!(Pin::new(booking).poll(cx));
        // One slot never exceeds the burst, which is at least 1.
        granted.expect("a single slot is always within the burst");
        let (item, _) = this.waiting.take().expect("an item waits for this slot");
        Poll::Ready(Some(item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.source_done {
            return (0, Some(0));
        }
        let waiting = usize::from(self.waiting.is_some());
        let (low, high) = self.source.size_hint();
        (
            low.saturating_add(waiting),
            high.and_then(|high| high.checked_add(waiting)),
        )
    }
}

impl<St: Stream> FusedStream for RateLimited<St> {
    fn is_terminated(&self) -> bool {
        self.source_done && self.waiting.is_none()
    }
}

impl<St: Stream> fmt::Debug for RateLimited<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimited")
            .field("waiting_for_slot", &self.waiting.is_some())
            .field("source_done", &self.source_done)
            .field("limiter", &self.limiter)
            .finish()
    }
}
