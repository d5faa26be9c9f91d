//! The wake-up core of the primitives that wake everyone at once (the wait group's zero, the
//! cancel token, the hard-abort signal of spawned work): a list of wakers under a lock, woken only
//! after the lock is released.
//!
//! Why not `event-listener`, which the crate used before: it calls `wake()` while holding its
//! list's mutex, and drops a replaced waker under it too. A waker may run executor code that
//! comes back into the same list: a waker that polls its task inline drops or re-registers the
//! waiting future, a waker whose drop releases a guard calls `done()` or `cancel()`. Either
//! takes the mutex its caller already holds, and the thread deadlocks (issue 14; tokio's
//! #5429 is the same shape). Here no waker is woken, replaced or dropped under our lock:
//! [`WakerList::wake_all`] takes the wakers out and wakes them after unlocking, and
//! registering or unregistering drops the old waker after unlocking.
//!
//! The protocol, for a waiter watching some state that a notifier changes and then calls
//! `wake_all`: look at the state; if not ready, [`register`](WakerList::register), then look
//! again; only then return `Pending`. The lock settles the race: if the notifier's `wake_all`
//! takes the lock after the registration, it finds the waker; if before, its change of the
//! state happened-before the registration and so before the second look, which sees it.
//!
//! Each waiter keeps its key in the slab (`Option<usize>`), so re-polling and dropping a waiter
//! are O(1), and memory is O(waiters registered now). `wake_all` leaves the entries in place
//! with their wakers taken: a woken waiter looks at the state again and, if it must wait on,
//! stores a fresh waker under the same key.

use std::task::Waker;

use slab::Slab;

use crate::sync::{lock, Mutex};

/// Wakers of everyone waiting for one event; see the module docs.
pub(crate) struct WakerList {
    wakers: Mutex<Slab<Option<Waker>>>,
}

impl WakerList {
    pub(crate) fn new() -> Self {
        Self {
            wakers: Mutex::new(Slab::new()),
        }
    }

    /// Stores `waker` for the waiter whose key is in `key`, registering it first if it has
    /// none. The waker it replaces (unless it would wake the same task) is dropped after the
    /// lock is released.
    pub(crate) fn register(&self, key: &mut Option<usize>, waker: &Waker) {
        let mut wakers = lock(&self.wakers);
        let old = match *key {
            Some(at) => {
                let slot = &mut wakers[at];
                match slot {
                    Some(current) if current.will_wake(waker) => None,
                    _ => slot.replace(waker.clone()),
                }
            }
            None => {
                *key = Some(wakers.insert(Some(waker.clone())));
                None
            }
        };
        drop(wakers);
        drop(old);
    }

    /// Removes the waiter whose key is in `key`, if it registered; its waker is dropped after
    /// the lock is released.
    pub(crate) fn unregister(&self, key: &mut Option<usize>) {
        if let Some(at) = key.take() {
            let old = lock(&self.wakers).remove(at);
            drop(old);
        }
    }

    /// Wakes every registered waiter, after releasing the lock. Entries stay registered.
    pub(crate) fn wake_all(&self) {
        let woken: Vec<Waker> = lock(&self.wakers)
            .iter_mut()
            .filter_map(|(_, slot)| slot.take())
            .collect();
        for waker in woken {
            waker.wake();
        }
    }

    /// How many waiters are registered (for `Debug`).
    pub(crate) fn len(&self) -> usize {
        lock(&self.wakers).len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// A waker that re-enters the list from `wake` and from its drop.
    struct Reenters {
        list: Arc<WakerList>,
        woken: AtomicUsize,
    }

    impl Wake for Reenters {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.woken.fetch_add(1, Ordering::Relaxed);
            // Registers a new waiter and drops it again, both under our list's lock if the
            // list were to wake under it.
            let mut key = None;
            self.list
                .register(&mut key, futures::task::noop_waker_ref());
            self.list.unregister(&mut key);
        }
    }

    impl Drop for Reenters {
        fn drop(&mut self) {
            self.list.wake_all();
        }
    }

    #[test]
    fn a_waker_may_reenter_the_list_when_woken_replaced_or_dropped() {
        let list = Arc::new(WakerList::new());
        let waker = Waker::from(Arc::new(Reenters {
            list: list.clone(),
            woken: AtomicUsize::new(0),
        }));
        let mut key = None;
        list.register(&mut key, &waker);
        list.wake_all(); // wakes it: it re-enters
        list.register(&mut key, &waker);
        drop(waker); // the list holds the last clone now
        list.register(&mut key, futures::task::noop_waker_ref()); // replaced: its drop re-enters
        assert_eq!(list.len(), 1);
        list.unregister(&mut key);
        assert_eq!(list.len(), 0);
        assert_eq!(key, None);
    }

    #[test]
    fn keys_stay_valid_across_wake_all() {
        let list = WakerList::new();
        let (mut a, mut b) = (None, None);
        list.register(&mut a, futures::task::noop_waker_ref());
        list.register(&mut b, futures::task::noop_waker_ref());
        list.wake_all();
        list.unregister(&mut a);
        list.register(&mut b, futures::task::noop_waker_ref());
        assert_eq!(list.len(), 1);
        list.unregister(&mut b);
        assert_eq!(list.len(), 0);
    }
}
