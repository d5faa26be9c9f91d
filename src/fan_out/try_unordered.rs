//! [`TryFanOut`]: [`FanOut`] for fallible futures; the first error ends the stream.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::check_limit;
use super::unordered::FanOut;

pin_project! {
    /// Stream returned by [`FanOutExt::try_fan_out`](super::FanOutExt::try_fan_out).
    #[must_use = "streams do nothing unless polled"]
    pub struct TryFanOut<St, F, Fut>
    where
        Fut: Future,
    {
        // `None` once an error was yielded: the source, the closure and every future in
        // flight are dropped before the error is handed over.
        #[pin]
        inner: Option<FanOut<St, F, Fut>>,
    }
}

impl<St, F, Fut, T, E> TryFanOut<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    #[track_caller]
    pub(super) fn new(source: St, limit: usize, f: F) -> Self {
        check_limit("try_fan_out", limit);
        Self {
            inner: Some(FanOut::new(source, limit, f)),
        }
    }
}

impl<St, F, Fut, T, E> Stream for TryFanOut<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut inner = self.project().inner;
        let Some(fan_out) = inner.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        match std::task::ready!(fan_out.poll_next_until(cx, &|output| output.is_err())) {
            Some(Ok(value)) => Poll::Ready(Some(Ok(value))),
            Some(Err(error)) => {
                inner.set(None);
                Poll::Ready(Some(Err(error)))
            }
            None => {
                inner.set(None);
                Poll::Ready(None)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            // An error may end it after any item.
            Some(fan_out) => (fan_out.size_hint().0.min(1), fan_out.size_hint().1),
            None => (0, Some(0)),
        }
    }
}

impl<St, F, Fut, T, E> FusedStream for TryFanOut<St, F, Fut>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_none()
    }
}

impl<St, F, Fut> fmt::Debug for TryFanOut<St, F, Fut>
where
    Fut: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(fan_out) => f.debug_tuple("TryFanOut").field(fan_out).finish(),
            None => f.write_str("TryFanOut(done)"),
        }
    }
}
