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
//! Each waiter keeps a [`Ticket`] (its key in the slab, and the list's epoch when it got it), so
//! re-polling and dropping a waiter are O(1), and memory is O(waiters registered now).
//! `wake_all` takes the whole slab out (no allocation, one lock) and bumps the epoch: a woken
//! waiter that is done drops its stale ticket with one atomic load and no lock, which is what
//! a thousand waiters woken at once do (`benches/wait_group.rs`, `wake_1000_waiters`); one that
//! must wait on registers again under a new ticket.

use std::task::Waker;

use slab::Slab;

use crate::sync::{lock, AtomicUsize, Mutex, Ordering};

/// Wakers of everyone waiting for one event; see the module docs.
pub(crate) struct WakerList {
    wakers: Mutex<Slab<Waker>>,
    /// How many times `wake_all` took the slab out. Written under the lock; read without it by
    /// `unregister`, whose ticket from an older epoch has nothing left to remove.
    epoch: AtomicUsize,
}

/// A waiter's place in a [`WakerList`]: valid while the list's epoch is the one it was got in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    key: usize,
    epoch: usize,
}

impl WakerList {
    pub(crate) fn new() -> Self {
        Self {
            wakers: Mutex::new(Slab::new()),
            epoch: AtomicUsize::new(0),
        }
    }

    /// Stores `waker` for the waiter holding `ticket`, registering it (again) if it has no
    /// ticket or one that a `wake_all` made stale. The waker it replaces (unless it would wake
    /// the same task) is dropped after the lock is released.
    pub(crate) fn register(&self, ticket: &mut Option<Ticket>, waker: &Waker) {
        let mut wakers = lock(&self.wakers);
        // Stable under the lock: only `wake_all` changes it, holding the lock.
        let epoch = self.epoch.load(Ordering::Relaxed);
        let old = match ticket {
            Some(held) if held.epoch == epoch => {
                let slot = &mut wakers[held.key];
                if slot.will_wake(waker) {
                    None
                } else {
                    Some(std::mem::replace(slot, waker.clone()))
                }
            }
            _ => {
                let key = wakers.insert(waker.clone());
                *ticket = Some(Ticket { key, epoch });
                None
            }
        };
        drop(wakers);
        drop(old);
    }

    /// Removes the waiter holding `ticket`, if it is still registered; its waker is dropped
    /// after the lock is released. A ticket that a `wake_all` made stale costs one load.
    pub(crate) fn unregister(&self, ticket: &mut Option<Ticket>) {
        let Some(held) = ticket.take() else { return };
        // Relaxed: the epoch only grows, and only when the slab is taken out; a stale read is
        // checked again under the lock.
        if self.epoch.load(Ordering::Relaxed) != held.epoch {
            return;
        }
        let mut wakers = lock(&self.wakers);
        let old =
            (self.epoch.load(Ordering::Relaxed) == held.epoch).then(|| wakers.remove(held.key));
        drop(wakers);
        drop(old);
    }

    /// Wakes every registered waiter, after releasing the lock; their tickets go stale.
    pub(crate) fn wake_all(&self) {
        let woken = {
            let mut wakers = lock(&self.wakers);
            if wakers.is_empty() {
                return;
            }
            self.epoch.store(
                self.epoch.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
            std::mem::take(&mut *wakers)
        };
        for (_, waker) in woken {
            waker.wake();
        }
    }

    /// How many waiters are registered and not yet woken (for `Debug`).
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
        assert_eq!(
            list.len(),
            0,
            "the replaced waker's drop woke (and so removed) the new one"
        );
        list.unregister(&mut key);
        assert_eq!(list.len(), 0);
        assert!(key.is_none());
    }

    #[test]
    fn tickets_go_stale_at_wake_all_and_never_remove_a_newer_waiter() {
        let list = WakerList::new();
        let (mut a, mut b, mut c) = (None, None, None);
        list.register(&mut a, futures::task::noop_waker_ref());
        list.register(&mut b, futures::task::noop_waker_ref());
        list.wake_all();
        assert_eq!(list.len(), 0, "woken waiters leave the list");
        // `c` may reuse the key `a` had; `a`'s stale ticket must not remove it.
        list.register(&mut c, futures::task::noop_waker_ref());
        list.unregister(&mut a);
        assert_eq!(list.len(), 1);
        // `b` waits on: a new ticket.
        list.register(&mut b, futures::task::noop_waker_ref());
        assert_eq!(list.len(), 2);
        list.unregister(&mut b);
        list.unregister(&mut c);
        assert_eq!(list.len(), 0);
    }
}
