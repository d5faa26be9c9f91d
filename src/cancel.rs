//! [`CancelToken`]: the `ctx.Done()` of this crate, a cancellation signal that tasks watch.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
// `Weak` has no loom counterpart; the tree's pointers are plain std reference counts, and every
// piece of shared state they point at (the flag, the child list) is on the loom switch.
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::notify::{Ticket, WakerList};
use crate::sync::{lock, AtomicBool, Mutex, Ordering};

/// A one-way signal: a flag that is set once, and the wakers of everyone waiting for it.
/// The token's core, and the shards of the hard-abort signal of spawned work
/// (`crate::supervise::Abort`).
///
/// A waiter keeps its registration ticket in an `Option<Ticket>` between polls and hands it back to
/// [`unlisten`](Self::unlisten) when it is dropped.
pub(crate) struct Flag {
    set: AtomicBool,
    wakers: WakerList,
}

impl Flag {
    pub(crate) fn new() -> Self {
        Self {
            set: AtomicBool::new(false),
            wakers: WakerList::new(),
        }
    }

    /// Sets the flag and wakes every waiter (after the list's lock is released); returns whether
    /// this call set it.
    pub(crate) fn set(&self) -> bool {
        // Release: everything before the `cancel()` happens-before an `is_set` that reads the
        // flag. The race with a registering waiter is settled by the list's lock (see
        // `crate::notify`), not by this ordering.
        let first = !self.set.swap(true, Ordering::AcqRel);
        if first {
            self.wakers.wake_all();
        }
        first
    }

    pub(crate) fn is_set(&self) -> bool {
        // Acquire: pairs with the swap in `set`.
        self.set.load(Ordering::Acquire)
    }

    /// Polls until the flag is set, keeping the registration in `key` between polls: look,
    /// register, look again.
    pub(crate) fn poll_set(&self, key: &mut Option<Ticket>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.is_set() {
            self.wakers.register(key, cx.waker());
            if !self.is_set() {
                return Poll::Pending;
            }
        }
        self.unlisten(key);
        Poll::Ready(())
    }

    /// Drops the registration in `key`, if any: O(1).
    pub(crate) fn unlisten(&self, key: &mut Option<Ticket>) {
        self.wakers.unregister(key);
    }
}

/// A cancellation signal shared by every clone: Go's `ctx.Done()` for async Rust.
///
/// [`cancel`](Self::cancel) fires the token once and for all; tasks watch it with
/// [`is_cancelled`](Self::is_cancelled) (in a loop or from blocking code),
/// [`cancelled().await`](Self::cancelled) (in a `select!`), or
/// [`run_until_cancelled`](Self::run_until_cancelled). A clone is the same token.
/// [`child_token`](Self::child_token) makes a token that fires with this one but can also be
/// fired on its own, for a scope inside a larger one (a request inside a server).
///
/// Each [`ErrGroup`](crate::ErrGroup) has one ([`ErrGroup::cancel_token`](crate::ErrGroup::cancel_token)):
/// it fires on the group's first error and when the group finishes. Cancellation is cooperative:
/// firing a token only tells; the code that watches it decides how to wind down.
///
/// The token needs no runtime; waiting on it works under any executor.
///
/// # Examples
///
/// ```
/// use taskgroup::CancelToken;
///
/// # futures::executor::block_on(async {
/// let shutdown = CancelToken::new();
/// let request = shutdown.child_token();
///
/// let worker = {
///     let request = request.clone();
///     std::thread::spawn(move || {
///         let mut steps = 0;
///         while !request.is_cancelled() {
///             steps += 1; // a step of blocking work
///             std::thread::yield_now();
///         }
///         steps
///     })
/// };
///
/// shutdown.cancel(); // fires the child too
/// request.cancelled().await;
/// assert!(request.is_cancelled());
/// worker.join().unwrap();
/// # });
/// ```
#[derive(Clone)]
pub struct CancelToken {
    node: Arc<Node>,
}

struct Node {
    flag: Flag,
    /// The tokens made by `child_token()`, weakly: a dropped child is not kept alive by its
    /// parent. A child holds its parent strongly (below), so a chain keeps firing through
    /// tokens in its middle that every handle dropped.
    children: Mutex<Children>,
    /// Kept alive so that the chain from a living descendant up to the root stays whole.
    parent: Option<Arc<Node>>,
}

struct Children {
    nodes: Vec<Weak<Node>>,
    /// When `nodes` reaches this length, dead entries are pruned (amortised, like a `Vec`'s
    /// growth), so a long-lived parent of many short-lived children stays small.
    prune_at: usize,
}

impl Children {
    fn push(&mut self, child: &Arc<Node>) {
        if self.nodes.len() >= self.prune_at {
            self.nodes.retain(|c| c.strong_count() > 0);
            self.prune_at = (self.nodes.len() * 2).max(8);
        }
        self.nodes.push(Arc::downgrade(child));
    }
}

impl Drop for Node {
    /// Frees a chain of ancestors iteratively: a long chain whose middle tokens were dropped
    /// would otherwise be freed by recursion, one stack frame per token.
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(node) = parent {
            match Arc::try_unwrap(node) {
                Ok(mut node) => parent = node.parent.take(),
                Err(_) => break, // still in use above
            }
        }
    }
}

impl CancelToken {
    /// A token that has not fired.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = taskgroup::CancelToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn new() -> Self {
        Self::with_parent(None)
    }

    fn with_parent(parent: Option<Arc<Node>>) -> Self {
        Self {
            node: Arc::new(Node {
                flag: Flag::new(),
                children: Mutex::new(Children {
                    nodes: Vec::new(),
                    prune_at: 8,
                }),
                parent,
            }),
        }
    }

    /// Fires the token, its clones and every child token made from it (and their children),
    /// waking every task that waits on one of them. Calling it again does nothing. A parent of
    /// this token is not fired.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = taskgroup::CancelToken::new();
    /// let child = parent.child_token();
    /// child.cancel();
    /// child.cancel(); // idempotent
    /// assert!(child.is_cancelled());
    /// assert!(!parent.is_cancelled()); // only downwards
    /// ```
    pub fn cancel(&self) {
        // An explicit stack rather than recursion: a deep chain of children cannot overflow it.
        // Every call walks the whole subtree, also where a flag was already set: a concurrent
        // `cancel()` may be firing it right now, and this one must not return before every
        // descendant has fired. The walk sets flags (and wakes waiters) without holding a lock.
        let mut pending = vec![self.node.clone()];
        while let Some(node) = pending.pop() {
            node.flag.set();
            // `child_token()` checks the flag under this lock, after we set it above: a child
            // made concurrently is either in the list we read, or born cancelled.
            let children = lock(&node.children);
            pending.extend(children.nodes.iter().filter_map(Weak::upgrade));
        }
    }

    /// Whether the token has fired.
    ///
    /// Everything done before a [`cancel`](Self::cancel) happens-before an `is_cancelled()`
    /// that returns `true` because of it.
    pub fn is_cancelled(&self) -> bool {
        self.node.flag.is_set()
    }

    /// A future that is ready once the token has fired (at once if it already has).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing, and a new `cancelled()` sees the same token.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let token = taskgroup::CancelToken::new();
    /// let remote = token.clone();
    /// std::thread::spawn(move || remote.cancel());
    /// token.cancelled().await;
    /// assert!(token.is_cancelled());
    /// # });
    /// ```
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled {
            token: self,
            key: None,
        }
    }

    /// A new token that fires when this one does, and can also be fired on its own without
    /// firing this one. A child of a fired token is born fired.
    ///
    /// A child keeps its ancestors' link alive: dropping every handle to a token in the middle
    /// of a chain does not cut the tokens below it off from the ones above.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = taskgroup::CancelToken::new();
    /// let request = server.child_token().child_token(); // the middle one is dropped at once
    /// server.cancel();
    /// assert!(request.is_cancelled());
    /// ```
    pub fn child_token(&self) -> CancelToken {
        let child = Self::with_parent(Some(self.node.clone()));
        let mut children = lock(&self.node.children);
        // Checked under the lock that `cancel` takes after setting the flag (see there).
        if self.is_cancelled() {
            drop(children);
            child.node.flag.set();
            return child;
        }
        children.push(&child.node);
        drop(children);
        child
    }

    /// Hooks this token under `parent` after the fact, as if it had been made by
    /// `parent.child_token()`. The caller keeps `parent` alive as long as this token matters
    /// (the parent holds its children weakly).
    pub(crate) fn attach_to(&self, parent: &CancelToken) {
        let mut children = lock(&parent.node.children);
        if parent.is_cancelled() {
            drop(children);
            self.cancel();
            return;
        }
        children.push(&self.node);
    }

    /// Runs `future` until it completes (`Some(output)`) or the token fires (`None`, and the
    /// future is dropped). The token is checked first: if it has already fired, the future is
    /// never polled.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `future` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let token = taskgroup::CancelToken::new();
    /// assert_eq!(token.run_until_cancelled(async { 7 }).await, Some(7));
    ///
    /// token.cancel();
    /// let never = std::future::pending::<()>();
    /// assert_eq!(token.run_until_cancelled(never).await, None);
    /// # });
    /// ```
    pub fn run_until_cancelled<F: Future>(&self, future: F) -> RunUntilCancelled<'_, F> {
        RunUntilCancelled {
            future,
            cancelled: self.cancelled(),
        }
    }

    /// Like [`cancelled`](Self::cancelled), taking the token by value: the future is
    /// `'static`, to store in a struct or move into a spawned task (tokio-util's
    /// `cancelled_owned`).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let token = taskgroup::CancelToken::new();
    /// let waiter = std::thread::spawn({
    ///     let fired = token.clone().cancelled_owned();
    ///     move || futures::executor::block_on(fired)
    /// });
    /// token.cancel();
    /// waiter.join().unwrap();
    /// # });
    /// ```
    pub fn cancelled_owned(self) -> CancelledOwned {
        CancelledOwned {
            token: self,
            key: None,
        }
    }

    /// Like [`run_until_cancelled`](Self::run_until_cancelled), taking the token by value: the
    /// future is `'static` when `future` is.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `future` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let token = taskgroup::CancelToken::new();
    /// let job = token.clone().run_until_cancelled_owned(async { 7 });
    /// assert_eq!(job.await, Some(7));
    /// token.cancel();
    /// let job = token.run_until_cancelled_owned(std::future::pending::<()>());
    /// assert_eq!(job.await, None);
    /// # });
    /// ```
    pub fn run_until_cancelled_owned<F: Future>(self, future: F) -> RunUntilCancelledOwned<F> {
        RunUntilCancelledOwned {
            future,
            cancelled: self.cancelled_owned(),
        }
    }

    /// A guard that fires this token when it is dropped, unwinding included, unless
    /// [`disarm`](DropGuard::disarm)ed (tokio-util's `drop_guard`).
    ///
    /// # Examples
    ///
    /// ```
    /// let token = taskgroup::CancelToken::new();
    /// {
    ///     let _guard = token.clone().drop_guard();
    /// } // dropped: the token fires
    /// assert!(token.is_cancelled());
    ///
    /// let token = taskgroup::CancelToken::new();
    /// let kept = token.clone().drop_guard().disarm();
    /// assert!(!token.is_cancelled() && !kept.is_cancelled());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The future returned by [`CancelToken::cancelled`]: ready once the token has fired.
///
/// # Cancel safety
///
/// Cancel-safe: dropping it loses nothing.
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled<'a> {
    token: &'a CancelToken,
    /// Its place in the token's waker list while it waits.
    key: Option<Ticket>,
}

impl Future for Cancelled<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.token.node.flag.poll_set(&mut this.key, cx)
    }
}

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        self.token.node.flag.unlisten(&mut self.key);
    }
}

impl fmt::Debug for Cancelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("cancelled", &self.token.is_cancelled())
            .finish()
    }
}

pin_project! {
    /// The future returned by [`CancelToken::run_until_cancelled`]: `Some(output)` if the inner
    /// future finished first, `None` if the token fired first.
    #[must_use = "futures do nothing unless polled"]
    pub struct RunUntilCancelled<'a, F> {
        #[pin]
        future: F,
        cancelled: Cancelled<'a>,
    }
}

impl<F: Future> Future for RunUntilCancelled<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The token first: once it has fired, the future is not polled again.
        if Pin::new(&mut *this.cancelled).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll(cx).map(Some)
    }
}

impl<F> fmt::Debug for RunUntilCancelled<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilCancelled")
            .field("cancelled", &self.cancelled.token.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// The future returned by [`CancelToken::cancelled_owned`]: ready once the token has fired.
///
/// # Cancel safety
///
/// Cancel-safe: dropping it loses nothing.
#[must_use = "futures do nothing unless polled"]
pub struct CancelledOwned {
    token: CancelToken,
    /// Its place in the token's waker list while it waits.
    key: Option<Ticket>,
}

impl Future for CancelledOwned {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.token.node.flag.poll_set(&mut this.key, cx)
    }
}

impl Drop for CancelledOwned {
    fn drop(&mut self) {
        self.token.node.flag.unlisten(&mut self.key);
    }
}

impl fmt::Debug for CancelledOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelledOwned")
            .field("cancelled", &self.token.is_cancelled())
            .finish()
    }
}

pin_project! {
    /// The future returned by [`CancelToken::run_until_cancelled_owned`]: `Some(output)` if the
    /// inner future finished first, `None` if the token fired first.
    #[must_use = "futures do nothing unless polled"]
    pub struct RunUntilCancelledOwned<F> {
        #[pin]
        future: F,
        cancelled: CancelledOwned,
    }
}

impl<F: Future> Future for RunUntilCancelledOwned<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The token first, as in `RunUntilCancelled`.
        if Pin::new(&mut *this.cancelled).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll(cx).map(Some)
    }
}

impl<F> fmt::Debug for RunUntilCancelledOwned<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilCancelledOwned")
            .field("cancelled", &self.cancelled.token.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// Fires its [`CancelToken`] when dropped, unless disarmed: made by
/// [`CancelToken::drop_guard`].
#[must_use = "the token fires as soon as the guard is dropped"]
pub struct DropGuard {
    token: Option<CancelToken>,
}

impl DropGuard {
    /// Gives the token back without firing it.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = taskgroup::CancelToken::new().drop_guard().disarm();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn disarm(mut self) -> CancelToken {
        self.token
            .take()
            .expect("a guard holds its token until disarmed")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}

impl fmt::Debug for DropGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuard")
            .field("token", &self.token)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn owned_forms_wait_for_the_token_and_a_drop_guard_fires_it_unless_disarmed() {
        use futures::task::noop_waker_ref;
        let cx = &mut Context::from_waker(noop_waker_ref());
        let token = CancelToken::new();
        let mut fired = Box::pin(token.clone().cancelled_owned());
        let mut job = Box::pin(
            token
                .clone()
                .run_until_cancelled_owned(std::future::pending::<()>()),
        );
        assert!(fired.as_mut().poll(cx).is_pending());
        assert!(job.as_mut().poll(cx).is_pending());
        let kept = token.clone().drop_guard().disarm();
        assert!(!kept.is_cancelled());
        let guard = token.clone().drop_guard();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _guard = guard;
            panic!("the guard fires during unwinding");
        }));
        assert!(token.is_cancelled());
        assert!(fired.as_mut().poll(cx).is_ready());
        assert_eq!(job.as_mut().poll(cx), Poll::Ready(None));
        // Born-fired: ready at once, the inner future never polled.
        let never_polled = async { unreachable!("the token fired first") };
        assert_eq!(
            futures::executor::block_on(token.run_until_cancelled_owned(never_polled)),
            None
        );
    }

    #[test]
    fn cancelling_fires_clones_and_children_but_not_parents() {
        let root = CancelToken::new();
        let clone = root.clone();
        let child = root.child_token();
        let grandchild = child.child_token();
        child.cancel();
        assert!(child.is_cancelled() && grandchild.is_cancelled());
        assert!(!root.is_cancelled() && !clone.is_cancelled());
        clone.cancel();
        assert!(root.is_cancelled());
    }

    #[test]
    fn a_chain_fires_through_dropped_middle_tokens() {
        let root = CancelToken::new();
        let mut token = root.child_token();
        for _ in 0..if cfg!(miri) { 100 } else { 1000 } {
            token = token.child_token(); // the previous one is dropped here
        }
        root.cancel();
        assert!(token.is_cancelled());
    }

    #[test]
    fn a_long_chain_is_freed_without_recursion() {
        let root = CancelToken::new();
        let mut token = root.child_token();
        for _ in 0..if cfg!(miri) { 500 } else { 200_000 } {
            token = token.child_token();
        }
        drop(root);
        drop(token); // frees 200 000 nodes; recursion would overflow the test thread's stack
    }

    #[test]
    fn attached_tokens_are_pruned_too() {
        let root = CancelToken::new();
        for _ in 0..if cfg!(miri) { 200 } else { 10_000 } {
            CancelToken::new().attach_to(&root);
        }
        assert!(lock(&root.node.children).nodes.len() <= 16);
    }

    #[test]
    #[cfg_attr(miri, ignore)] // sleeps in a waker to stall a thread
    fn cancel_returns_only_once_every_descendant_fired() {
        use std::sync::atomic::AtomicBool;
        use std::task::{Wake, Waker};
        // A waiter whose waker stalls: the first `cancel()` is stuck inside its notify, after
        // setting the root's flag and before reaching the child.
        struct SlowWaker(AtomicBool);
        impl Wake for SlowWaker {
            fn wake(self: std::sync::Arc<Self>) {
                self.wake_by_ref()
            }
            fn wake_by_ref(self: &std::sync::Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
        let token = CancelToken::new();
        let child = token.child_token();
        let slow = std::sync::Arc::new(SlowWaker(AtomicBool::new(false)));
        let waker = Waker::from(slow.clone());
        let mut waiting = Box::pin(token.cancelled());
        assert!(waiting
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let other = token.clone();
        let first = std::thread::spawn(move || other.cancel());
        while !slow.0.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        token.cancel();
        assert!(
            child.is_cancelled(),
            "cancel() returned before the child fired"
        );
        first.join().unwrap();
    }

    #[test]
    fn a_child_of_a_fired_token_is_born_fired() {
        let root = CancelToken::new();
        root.cancel();
        assert!(root.child_token().is_cancelled());
    }

    #[test]
    fn dropped_children_are_pruned() {
        let root = CancelToken::new();
        let keep: Vec<_> = (0..10).map(|_| root.child_token()).collect();
        for _ in 0..if cfg!(miri) { 300 } else { 10_000 } {
            drop(root.child_token());
        }
        let len = lock(&root.node.children).nodes.len();
        assert!(len <= 2 * keep.len() + 8, "{len} entries kept");
        root.cancel();
        assert!(keep.iter().all(CancelToken::is_cancelled));
    }

    #[test]
    fn cancelled_is_pending_until_fired_then_ready() {
        let token = CancelToken::new();
        let mut fut = token.cancelled();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        token.cancel();
        assert!(Pin::new(&mut fut).poll(&mut cx).is_ready());
        assert!(Pin::new(&mut token.cancelled()).poll(&mut cx).is_ready());
    }

    #[test]
    fn run_until_cancelled_checks_the_token_first() {
        let token = CancelToken::new();
        token.cancel();
        let mut polled = false;
        let out = futures::executor::block_on(token.run_until_cancelled(async {
            polled = true;
        }));
        assert_eq!(out, None);
        assert!(!polled);
    }

    #[test]
    fn debug_shows_the_state() {
        let token = CancelToken::new();
        assert_eq!(format!("{token:?}"), "CancelToken { cancelled: false }");
        token.cancel();
        assert_eq!(format!("{token:?}"), "CancelToken { cancelled: true }");
    }
}
