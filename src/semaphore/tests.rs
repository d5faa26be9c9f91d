//! The semaphore's unit tests: fairness, cancellation, resizing and the errors, through the
//! public front.

use super::*;
use futures::task::noop_waker_ref;
use std::task::Waker;

fn poll<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(noop_waker_ref()))
}

fn granted<T, E: fmt::Debug>(p: Poll<Result<T, E>>) -> T {
    match p {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("expected the permits to be granted"),
    }
}

#[test]
fn uncontended_acquire_and_release_round_trip() {
    let sem = Semaphore::new(2);
    let a = granted(poll(&mut sem.acquire()));
    let b = sem.try_acquire().unwrap();
    assert_eq!(sem.available_permits(), 0);
    drop((a, b));
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn a_large_request_at_the_head_is_not_starved_by_small_ones() {
    // Go's fairness case: a waiter for 3 of 3 is served before later waiters for 1.
    let sem = Semaphore::new(3);
    let one = sem.try_acquire().unwrap();
    let mut big = sem.acquire_many(3);
    assert!(poll(&mut big).is_pending());
    let mut small = sem.acquire();
    assert!(
        poll(&mut small).is_pending(),
        "small waits behind big, though 2 are free"
    );
    assert_eq!(
        sem.try_acquire().unwrap_err(),
        TryAcquireError::NoPermits,
        "no barging"
    );
    drop(one);
    let big = granted(poll(&mut big));
    assert_eq!(big.num_permits(), 3);
    assert!(poll(&mut small).is_pending());
    drop(big);
    drop(granted(poll(&mut small)));
}

#[test]
fn waiters_are_served_in_the_order_they_started_waiting() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut waiters: Vec<_> = (0..4).map(|_| sem.acquire()).collect();
    for w in &mut waiters {
        assert!(poll(w).is_pending());
    }
    drop(held);
    for i in 0..4 {
        let permit = granted(poll(&mut waiters[i]));
        for later in &mut waiters[i + 1..] {
            assert!(poll(later).is_pending());
        }
        drop(permit);
    }
}

#[test]
fn a_dropped_head_lets_the_ones_behind_it_through() {
    let sem = Semaphore::new(2);
    let one = sem.try_acquire().unwrap();
    let mut big = sem.acquire_many(2);
    let mut small = sem.acquire();
    assert!(poll(&mut big).is_pending());
    assert!(poll(&mut small).is_pending());
    drop(big);
    drop(granted(poll(&mut small)));
    drop(one);
}

#[test]
fn permits_handed_to_a_dropped_waiter_go_on_to_the_next() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut first = sem.acquire();
    let mut second = sem.acquire();
    assert!(poll(&mut first).is_pending());
    assert!(poll(&mut second).is_pending());
    drop(held); // granted to `first`, which never looks
    drop(first);
    let p = granted(poll(&mut second));
    drop(p);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn too_large_requests_fail_at_once_with_both_numbers() {
    let sem = Semaphore::new(3);
    let err = poll(&mut sem.acquire_many(4)).map(|r| r.unwrap_err());
    assert_eq!(
        err,
        Poll::Ready(AcquireError::TooLarge {
            requested: 4,
            total: 3
        })
    );
    assert_eq!(
        err.map(|e| e.to_string()),
        Poll::Ready("requested 4 permits from a semaphore with a total of 3".into())
    );
    // Permits out still count toward the total.
    let _all = sem.try_acquire_many(3).unwrap();
    assert_eq!(
        sem.try_acquire_many(4).unwrap_err(),
        TryAcquireError::TooLarge {
            requested: 4,
            total: 3
        }
    );
}

#[test]
fn a_queued_waiter_fails_when_a_shrink_leaves_it_too_large() {
    let sem = Semaphore::new(4);
    let held = sem.try_acquire_many(4).unwrap();
    let mut three = sem.acquire_many(3);
    let mut one = sem.acquire();
    assert!(poll(&mut three).is_pending());
    assert!(poll(&mut one).is_pending());
    sem.resize(2);
    assert_eq!(
        poll(&mut three).map(|r| r.unwrap_err()),
        Poll::Ready(AcquireError::TooLarge {
            requested: 3,
            total: 2
        })
    );
    assert!(
        poll(&mut one).is_pending(),
        "2 of the 4 out are owed to the shrink"
    );
    drop(held);
    let p = granted(poll(&mut one));
    assert_eq!(sem.available_permits(), 1);
    drop(p);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn forget_can_leave_a_queued_waiter_too_large() {
    let sem = Semaphore::new(3);
    let held = sem.try_acquire_many(2).unwrap();
    let mut three = sem.acquire_many(3);
    assert!(poll(&mut three).is_pending());
    held.forget();
    assert_eq!(
        poll(&mut three).map(|r| r.unwrap_err()),
        Poll::Ready(AcquireError::TooLarge {
            requested: 3,
            total: 1
        })
    );
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn a_zero_total_is_a_gate_that_add_permits_opens() {
    let sem = Semaphore::new(0);
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    let mut five = sem.acquire_many(5);
    assert!(poll(&mut five).is_pending(), "no TooLarge on a zero total");
    sem.add_permits(5);
    drop(granted(poll(&mut five)));
}

#[test]
fn resize_to_zero_pauses_without_failing_waiters() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let mut w = sem.acquire_many(2);
    assert!(poll(&mut w).is_pending());
    sem.resize(0);
    drop(held);
    assert!(poll(&mut w).is_pending());
    assert_eq!(sem.available_permits(), 0);
    sem.resize(2);
    drop(granted(poll(&mut w)));
}

#[test]
fn growing_wakes_waiters_at_once() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let mut w = sem.acquire_many(2);
    assert!(poll(&mut w).is_pending());
    sem.resize(4); // while the 2 are still out
    let granted = granted(poll(&mut w));
    drop(held);
    assert_eq!(sem.available_permits(), 2);
    drop(granted);
    assert_eq!(sem.available_permits(), 4);
}

#[test]
fn acquire_many_zero_is_ready_at_once_unless_closed() {
    let sem = Semaphore::new(1);
    let _held = sem.try_acquire().unwrap();
    let mut queued = sem.acquire();
    assert!(poll(&mut queued).is_pending());
    let empty = granted(poll(&mut sem.acquire_many(0)));
    assert_eq!(empty.num_permits(), 0);
    sem.close();
    assert!(matches!(
        poll(&mut sem.acquire_many(0)),
        Poll::Ready(Err(AcquireError::Closed))
    ));
}

#[test]
fn try_acquire_many_zero_agrees_with_acquire_many_zero() {
    // Issue 16: with a waiter queued, `acquire_many(0)` is ready, so `try_acquire_many(0)`
    // succeeds too (tokio's semaphore does the same); a non-zero try still does not barge.
    let sem = std::sync::Arc::new(Semaphore::new(1));
    let _held = sem.try_acquire().unwrap();
    let mut queued = sem.acquire();
    assert!(poll(&mut queued).is_pending());
    assert_eq!(sem.try_acquire_many(0).unwrap().num_permits(), 0);
    assert_eq!(
        sem.clone().try_acquire_many_owned(0).unwrap().num_permits(),
        0
    );
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    assert_eq!(sem.available_permits(), 0);
    sem.close();
    assert_eq!(
        sem.try_acquire_many(0).unwrap_err(),
        TryAcquireError::Closed
    );
}

#[test]
fn close_fails_pending_and_later_acquires_and_keeps_permits_out_valid() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut w = sem.acquire();
    assert!(poll(&mut w).is_pending());
    sem.close();
    assert!(sem.is_closed());
    assert!(matches!(
        poll(&mut w),
        Poll::Ready(Err(AcquireError::Closed))
    ));
    assert!(matches!(
        poll(&mut sem.acquire()),
        Poll::Ready(Err(AcquireError::Closed))
    ));
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn overflowing_totals_panic_with_a_message() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let err = std::panic::catch_unwind(|| sem.add_permits(1)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("exceeds Semaphore::MAX_PERMITS"), "{msg}");
    assert!(std::panic::catch_unwind(|| sem.resize(usize::MAX)).is_err());
    assert!(std::panic::catch_unwind(|| Semaphore::new(usize::MAX)).is_err());
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
}

#[test]
fn the_waker_of_the_latest_poll_is_the_one_woken() {
    use std::sync::atomic::AtomicUsize as Count;
    use std::task::Wake;

    #[derive(Default)]
    struct Counting(Count);
    impl Wake for Counting {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (first, second) = (
        std::sync::Arc::new(Counting::default()),
        std::sync::Arc::new(Counting::default()),
    );
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut w = sem.acquire();
    let waker = Waker::from(first.clone());
    assert!(Pin::new(&mut w)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    let waker = Waker::from(second.clone());
    assert!(Pin::new(&mut w)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(held);
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
    drop(granted(poll(&mut w)));
}

#[test]
fn debug_shows_permits_total_waiters_and_closed() {
    let sem = Semaphore::new(2);
    let _p = sem.try_acquire_many(2).unwrap();
    let mut w = sem.acquire();
    assert!(poll(&mut w).is_pending());
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { available: 0, total: 2, waiters: 1, closed: false }"
    );
}
