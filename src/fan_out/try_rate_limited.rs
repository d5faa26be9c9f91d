//! [`TryRateLimited`]: a source paced by a [`RedisRateLimiter`], whose failures come out as
//! items.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use crate::futures::RedisAcquire;
use crate::{RateLimitError, RedisRateLimiter};

pin_project! {
    /// Stream returned by [`FanOutExt::try_rate_limited`](super::FanOutExt::try_rate_limited).
    #[must_use = "streams do nothing unless polled"]
    pub struct TryRateLimited<St>
    where
        St: Stream,
    {
        #[pin]
        source: St,
        source_done: bool,
        limiter: RedisRateLimiter,
        // The one pulled item waiting for its slot, and its booking (`None` after a failed one:
        // the next poll books again).
        waiting: Option<(St::Item, Option<RedisAcquire>)>,
    }
}

impl<St: Stream> TryRateLimited<St> {
    pub(super) fn new(source: St, limiter: RedisRateLimiter) -> Self {
        Self {
            source,
            source_done: false,
            limiter,
            waiting: None,
        }
    }
}

impl<St: Stream> Stream for TryRateLimited<St> {
    type Item = Result<St::Item, RateLimitError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if this.waiting.is_none() {
            if *this.source_done {
                return Poll::Ready(None);
            }
            match std::task::ready!(this.source.as_mut().poll_next(cx)) {
                // The slot is booked only once there is an item to start in it.
                Some(item) => *this.waiting = Some((item, None)),
                None => {
                    *this.source_done = true;
                    return Poll::Ready(None);
                }
            }
        }
        let (_, booking) = this.waiting.as_mut().expect("an item waits for its slot");
        let booking = booking.get_or_insert_with(|| this.limiter.acquire());
        match std::task::ready!(Pin::new(booking).poll(cx)) {
            Ok(()) => {
                let (item, _) = this.waiting.take().expect("an item waits for this slot");
                Poll::Ready(Some(Ok(item)))
            }
            Err(error) => {
                // The item stays: a consumer that goes on polling gets it once a booking
                // succeeds (the next poll books again); one that stops drops it with the stream.
                if let Some((_, booking)) = this.waiting {
                    *booking = None;
                }
                Poll::Ready(Some(Err(error)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.source_done && self.waiting.is_none() {
            return (0, Some(0));
        }
        let waiting = usize::from(self.waiting.is_some());
        let low = if self.source_done {
            0
        } else {
            self.source.size_hint().0
        };
        // No upper bound: each failed booking is an item of its own.
        (low.saturating_add(waiting), None)
    }
}

impl<St: Stream> FusedStream for TryRateLimited<St> {
    fn is_terminated(&self) -> bool {
        self.source_done && self.waiting.is_none()
    }
}

impl<St: Stream> fmt::Debug for TryRateLimited<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryRateLimited")
            .field("waiting_for_slot", &self.waiting.is_some())
            .field("source_done", &self.source_done)
            .field("limiter", &self.limiter)
            .finish()
    }
}
