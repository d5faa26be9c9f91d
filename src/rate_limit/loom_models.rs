//! loom models of the rate limiter's reservation core: one atomic horizon, moved by CAS loops.
//! Virtual time (the clock-independent core) keeps the models deterministic; the timer is not
//! modelled. They live in the crate because that core is private to it; run them with the
//! others: `RUSTFLAGS="--cfg loom" cargo test --release --lib --test loom`.

use std::time::Duration;

use loom::thread;

use super::RateLimiter;

const T: Duration = Duration::from_millis(100);

fn limiter() -> std::sync::Arc<RateLimiter> {
    std::sync::Arc::new(RateLimiter::new(10, Duration::from_secs(1)))
}

/// Two bookings at the same instant: they get the two next slots, one each, in CAS order.
#[test]
fn two_reservations_racing_get_distinct_slots() {
    loom::model(|| {
        let limiter = limiter();
        let other = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.reserve_at(1, Duration::ZERO).unwrap().start())
        };
        let mine = limiter.reserve_at(1, Duration::ZERO).unwrap().start();
        let theirs = other.join().unwrap();
        let mut starts = [mine, theirs];
        starts.sort();
        assert_eq!(starts, [Duration::ZERO, T]);
        assert_eq!(
            limiter.reserve_at(1, Duration::ZERO).unwrap().start(),
            2 * T
        );
    });
}

/// A waiter's give-back racing a new booking: either the give-back comes first and the
/// newcomer takes the slot it freed, or it comes second, fails, and the newcomer keeps the
/// slot after it; never both, never a lost or doubled slot.
#[test]
fn a_give_back_racing_a_reservation() {
    loom::model(|| {
        let limiter = limiter();
        limiter.reserve_at(1, Duration::ZERO).unwrap(); // slot 0
        let waiter = limiter.reserve_at(1, Duration::ZERO).unwrap(); // slot 1
        assert_eq!(waiter.start(), T);
        let canceller = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.give_back(&waiter))
        };
        let newcomer = limiter.reserve_at(1, Duration::ZERO).unwrap().start();
        let gave_back = canceller.join().unwrap();
        if gave_back {
            assert_eq!(newcomer, T, "the newcomer takes the freed slot");
        } else {
            assert_eq!(newcomer, 2 * T, "the newcomer queues after the waiter");
        }
        let next = limiter.try_acquire_at(1, Duration::ZERO).unwrap_err();
        assert_eq!(next, Some(newcomer + T));
    });
}

/// `try_acquire` racing a booking for the one free slot: exactly one of them gets it.
#[test]
fn try_acquire_racing_a_reservation_for_the_free_slot() {
    loom::model(|| {
        let limiter = limiter();
        let trier = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.try_acquire_at(1, Duration::ZERO))
        };
        let booked = limiter.reserve_at(1, Duration::ZERO).unwrap().start();
        match trier.join().unwrap() {
            Ok(()) => assert_eq!(booked, T),
            Err(earliest) => {
                assert_eq!(booked, Duration::ZERO);
                assert_eq!(earliest, Some(T));
            }
        }
    });
}
