//! The futures of [`RateLimiter::acquire`] and its forms: the state machine that books the
//! slots at the first poll and then waits for their start on one timer. Not built under loom,
//! whose models do not run the timer. (The module is `cfg(not(loom))` as a whole; the items
//! keep their own `cfg(not(loom))` too, which is what gives the public ones and their trait
//! impls the "Available on non-loom only" note in the docs.)

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::time::timer::Timer;

use super::gcra::RateBooking;
use super::{RateLimitError, RateLimiter};
use crate::Shared;

/// The state machine shared by [`RateAcquire`] and [`RateAcquireOwned`].
#[cfg(not(loom))]
struct Waiting {
    n: u32,
    state: State,
}

#[cfg(not(loom))]
enum State {
    /// Not polled yet: nothing booked.
    Start,
    /// Booked; the timer fires at the booking's start.
    Booked {
        booking: RateBooking,
        timer: Timer,
    },
    Done,
}

#[cfg(not(loom))]
impl Waiting {
    fn new(n: u32) -> Self {
        Self {
            n,
            state: State::Start,
        }
    }

    /// Books at the first poll (or fails, or is ready at once), then waits for the one timer.
    fn poll(
        &mut self,
        limiter: &RateLimiter,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), RateLimitError>> {
        if let State::Start = self.state {
            let n = self.n;
            if n == 0 {
                self.state = State::Done;
                return Poll::Ready(Ok(()));
            }
            if n > limiter.burst {
                self.state = State::Done;
                return Poll::Ready(Err(RateLimitError::TooLarge {
                    requested: n,
                    burst: limiter.burst,
                }));
            }
            let now = limiter.now();
            let booking = limiter.reserve(n, now);
            if booking.start <= now {
                self.state = State::Done;
                return Poll::Ready(Ok(()));
            }
            let timer = limiter
                .instant(booking.start, now)
                .map_or_else(Timer::never, Timer::at);
            self.state = State::Booked { booking, timer };
        }
        match &mut self.state {
            State::Booked { timer, .. } => match timer.poll(cx) {
                Poll::Ready(()) => {
                    self.state = State::Done;
                    Poll::Ready(Ok(()))
                }
                Poll::Pending => Poll::Pending,
            },
            State::Done => panic!("a rate-limiter acquire polled after it completed"),
            State::Start => unreachable!(),
        }
    }

    /// The future was dropped: give the booking back if it is still the latest.
    fn cancel(&mut self, limiter: &RateLimiter) {
        if let State::Booked { booking, .. } = &self.state {
            limiter.give_back(booking);
        }
    }

    fn debug(&self, name: &str, limiter: &RateLimiter, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start => "not polled",
            State::Booked { .. } => "waiting",
            State::Done => "done",
        };
        let mut d = f.debug_struct(name);
        d.field("slots", &self.n).field("state", &state);
        if let State::Booked { booking, .. } = &self.state {
            let starts_in = booking.start.saturating_sub(limiter.now());
            d.field("starts_in", &Duration::from_nanos(starts_in));
        }
        d.finish()
    }
}

/// Future returned by [`RateLimiter::acquire`] and [`RateLimiter::acquire_many`].
///
/// It books its slot at its first poll, not when it is created.
///
/// # Cancel safety
///
/// Dropping it before its slot gives the slot back if nobody booked after it, and never delays
/// those behind it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::futures::RateAcquire;
/// use taskgroup::RateLimiter;
///
/// # futures::executor::block_on(async {
/// let limiter = RateLimiter::new(1, Duration::from_secs(3600));
/// let first: RateAcquire<'_> = limiter.acquire();
/// let second = limiter.acquire(); // nothing booked yet
/// drop(second);
/// first.await.unwrap(); // the free slot
/// assert!(format!("{limiter:?}").contains("burst: 1"));
/// # });
/// ```
#[cfg(not(loom))]
#[must_use = "futures do nothing unless polled"]
pub struct RateAcquire<'a> {
    limiter: &'a RateLimiter,
    waiting: Waiting,
}

#[cfg(not(loom))]
impl<'a> RateAcquire<'a> {
    /// For [`RateLimiter::acquire_many`]: `n` slots, nothing booked yet.
    pub(super) fn new(limiter: &'a RateLimiter, n: u32) -> Self {
        RateAcquire {
            limiter,
            waiting: Waiting::new(n),
        }
    }
}

#[cfg(not(loom))]
impl Future for RateAcquire<'_> {
    type Output = Result<(), RateLimitError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.waiting.poll(this.limiter, cx)
    }
}

#[cfg(not(loom))]
impl Drop for RateAcquire<'_> {
    fn drop(&mut self) {
        self.waiting.cancel(self.limiter);
    }
}

#[cfg(not(loom))]
impl fmt::Debug for RateAcquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.waiting.debug("RateAcquire", self.limiter, f)
    }
}

/// Future returned by [`RateLimiter::acquire_owned`] and [`RateLimiter::acquire_many_owned`]:
/// holds an `Arc<RateLimiter>`, so it is `'static` and can be stored or moved into a spawned
/// task.
///
/// # Cancel safety
///
/// As [`RateAcquire`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use taskgroup::futures::RateAcquireOwned;
/// use taskgroup::RateLimiter;
///
/// struct Client {
///     pending: Option<RateAcquireOwned>, // a struct can hold the owned form
/// }
///
/// # futures::executor::block_on(async {
/// let limiter = Arc::new(RateLimiter::new(100, Duration::from_secs(1)));
/// let mut client = Client { pending: Some(limiter.acquire_owned()) };
/// client.pending.take().unwrap().await.unwrap();
/// # });
/// ```
#[cfg(not(loom))]
#[must_use = "futures do nothing unless polled"]
pub struct RateAcquireOwned {
    /// An `Arc` from the public constructors; `rate_limited` may give a `&'static`.
    limiter: Shared<RateLimiter>,
    waiting: Waiting,
}

#[cfg(not(loom))]
impl RateAcquireOwned {
    /// For [`RateLimiter::acquire_many_owned`] and `rate_limited`: `n` slots, nothing booked
    /// yet.
    pub(crate) fn new(limiter: Shared<RateLimiter>, n: u32) -> Self {
        RateAcquireOwned {
            limiter,
            waiting: Waiting::new(n),
        }
    }
}

#[cfg(not(loom))]
impl Future for RateAcquireOwned {
    type Output = Result<(), RateLimitError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.waiting.poll(&this.limiter, cx)
    }
}

#[cfg(not(loom))]
impl Drop for RateAcquireOwned {
    fn drop(&mut self) {
        self.waiting.cancel(&self.limiter);
    }
}

#[cfg(not(loom))]
impl fmt::Debug for RateAcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.waiting.debug("RateAcquireOwned", &self.limiter, f)
    }
}
