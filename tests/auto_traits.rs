//! `Send`/`Sync`/`Unpin`/`'static` of every public type, so a refactor cannot silently drop one.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use taskgroup::{
    Acquire, AcquireError, AcquireOwned, AsyncWaitGroup, CancelToken, Cancelled, Elapsed, ErrGroup,
    ErrGroupSpawner, ErrGroupWait, ErrGroupWaitAll, NotUntil, OwnedSemaphorePermit, RateAcquire,
    RateAcquireOwned, RateLimitError, RateLimiter, RunUntilCancelled, Semaphore, SemaphorePermit,
    Timeout, Track, TryAcquireError, TryRateLimitError, Wait, WaitGroupGuard,
};

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn unpin<T: Unpin>() {}
fn static_<T: 'static>() {}

type SendFut = Pin<Box<dyn Future<Output = ()> + Send>>;

#[test]
fn wait_group_types() {
    send::<AsyncWaitGroup>();
    sync::<AsyncWaitGroup>();
    unpin::<AsyncWaitGroup>();
    static_::<AsyncWaitGroup>();

    send::<WaitGroupGuard>();
    sync::<WaitGroupGuard>();
    static_::<WaitGroupGuard>();

    send::<Wait<'_>>();
    sync::<Wait<'_>>();
    unpin::<Wait<'_>>();

    // `spawn(wg.track(fut))` works on every runtime: 'static + Send when the input is.
    send::<Track<SendFut>>();
    static_::<Track<SendFut>>();
    unpin::<Track<SendFut>>();
}

#[test]
fn timeout_types() {
    send::<Timeout<SendFut>>();
    static_::<Timeout<SendFut>>();
    unpin::<Timeout<SendFut>>();
    send::<Elapsed>();
    sync::<Elapsed>();
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    error::<Elapsed>();
}

#[test]
fn semaphore_types() {
    send::<Semaphore>();
    sync::<Semaphore>();
    unpin::<Semaphore>();
    send::<Acquire<'_>>();
    sync::<Acquire<'_>>();
    unpin::<Acquire<'_>>();
    send::<AcquireOwned>();
    sync::<AcquireOwned>();
    static_::<AcquireOwned>();
    unpin::<AcquireOwned>();
    send::<SemaphorePermit<'_>>();
    sync::<SemaphorePermit<'_>>();
    send::<OwnedSemaphorePermit>();
    sync::<OwnedSemaphorePermit>();
    static_::<OwnedSemaphorePermit>();
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    error::<AcquireError>();
    error::<TryAcquireError>();
}

#[test]
fn err_group_types() {
    // A group, its wait futures and its spawner are Send (a group can be awaited inside a
    // spawned task), also when the tasks borrow ('scope shorter than 'static).
    send::<ErrGroup<'_, String, std::io::Error>>();
    sync::<ErrGroup<'_, String, std::io::Error>>();
    send::<ErrGroupWait<'_, String, std::io::Error>>();
    send::<ErrGroupWaitAll<'_, String, std::io::Error>>();
    unpin::<ErrGroupWait<'_, String, std::io::Error>>();
    send::<ErrGroupSpawner<'_, String, std::io::Error>>();
    sync::<ErrGroupSpawner<'_, String, std::io::Error>>();
    static_::<ErrGroupWait<'static, String, std::io::Error>>();
    fn clone<T: Clone>() {}
    clone::<ErrGroupSpawner<'_, String, std::io::Error>>();

    // A wait() inside a spawned task: the future is Send across the await.
    fn spawnable<F: Future + Send + 'static>(_: F) {}
    spawnable(async {
        let mut group = ErrGroup::new();
        group.spawn(async { Ok::<_, ()>("static str") });
        group.wait().await
    });
}

#[test]
fn cancel_types() {
    send::<CancelToken>();
    sync::<CancelToken>();
    unpin::<CancelToken>();
    static_::<CancelToken>();
    send::<Cancelled<'_>>();
    sync::<Cancelled<'_>>();
    unpin::<Cancelled<'_>>();
    send::<RunUntilCancelled<'_, SendFut>>();
    unpin::<RunUntilCancelled<'_, SendFut>>();
}

#[test]
fn rate_limit_types() {
    send::<RateLimiter>();
    sync::<RateLimiter>();
    unpin::<RateLimiter>();
    static_::<RateLimiter>();
    send::<RateAcquire<'_>>();
    sync::<RateAcquire<'_>>();
    unpin::<RateAcquire<'_>>();
    static_::<RateAcquire<'static>>();
    send::<RateAcquireOwned>();
    sync::<RateAcquireOwned>();
    unpin::<RateAcquireOwned>();
    static_::<RateAcquireOwned>();
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    error::<RateLimitError>();
    error::<NotUntil>();
    error::<TryRateLimitError>();
    fn copy<T: Copy>() {}
    copy::<NotUntil>();

    // An acquire inside a spawned task: the future is Send across the await.
    fn spawnable<F: Future + Send + 'static>(_: F) {}
    let limiter = std::sync::Arc::new(RateLimiter::new(1, std::time::Duration::from_secs(1)));
    spawnable(async move { limiter.acquire().await });
}
