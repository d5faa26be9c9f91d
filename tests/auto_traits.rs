//! `Send`/`Sync`/`Unpin`/`'static` of every public type, so a refactor cannot silently drop one.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use taskgroup::futures::{
    Acquire, AcquireOwned, Cancelled, CancelledOwned, ErrGroupWait, ErrGroupWaitAll,
    ErrGroupWaitPartial, LocalErrGroupWait, LocalErrGroupWaitAll, LocalErrGroupWaitPartial,
    RateAcquire, RateAcquireOwned, Run, RunUntilCancelled, RunUntilCancelledOwned, Timeout, Track,
    Wait,
};
use taskgroup::{
    AcquireError, AsyncWaitGroup, CancelToken, DropGuard, Elapsed, ErrGroup, ErrGroupSpawner,
    FanOut, FanOutOrdered, FanOutSpawned, FanOutWith, LocalErrGroup, LocalErrGroupSpawner,
    NotUntil, OwnedSemaphorePermit, Partial, RateLimitError, RateLimited, RateLimiter, Semaphore,
    SemaphorePermit, Shared, SingleFlight, TryAcquireError, TryFanOut, TryRateLimitError,
    WaitGroupGuard,
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
    send::<ErrGroupWaitPartial<'_, String, std::io::Error>>();
    unpin::<ErrGroupWaitPartial<'_, String, std::io::Error>>();
    send::<Partial<String, std::io::Error>>();
    sync::<Partial<String, std::io::Error>>();
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    error::<Partial<String, std::io::Error>>();
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

    // The local form: Unpin futures, a Clone spawner, `'static` when its scope is. (It is
    // `!Send` by design: its tasks need not be; that is what it is for.)
    unpin::<LocalErrGroupWait<'_, String, std::io::Error>>();
    unpin::<LocalErrGroupWaitAll<'_, String, std::io::Error>>();
    unpin::<LocalErrGroupWaitPartial<'_, String, std::io::Error>>();
    static_::<LocalErrGroupWait<'static, String, std::io::Error>>();
    clone::<LocalErrGroupSpawner<'_, String, std::io::Error>>();
    let _: LocalErrGroup<'_, (), ()> = LocalErrGroup::default();
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
    // The owned forms move into spawned tasks.
    send::<CancelledOwned>();
    sync::<CancelledOwned>();
    unpin::<CancelledOwned>();
    static_::<CancelledOwned>();
    send::<RunUntilCancelledOwned<SendFut>>();
    unpin::<RunUntilCancelledOwned<SendFut>>();
    static_::<RunUntilCancelledOwned<SendFut>>();
    send::<DropGuard>();
    sync::<DropGuard>();
    static_::<DropGuard>();
}

#[test]
fn fan_out_types() {
    type Src = futures::stream::Iter<std::ops::Range<usize>>;
    type Boxed = fn(usize) -> SendFut;
    type Ready = std::future::Ready<Result<usize, ()>>;
    type MkReady = fn(usize) -> Ready;

    // Send (and Unpin) when the source, the closure and the futures are, boxed or not.
    send::<FanOut<Src, Boxed, SendFut>>();
    unpin::<FanOut<Src, Boxed, SendFut>>();
    static_::<FanOut<Src, Boxed, SendFut>>();
    send::<FanOutOrdered<Src, Boxed, SendFut>>();
    unpin::<FanOutOrdered<Src, Boxed, SendFut>>();
    send::<FanOutWith<Src, Boxed, SendFut>>();
    unpin::<FanOutWith<Src, Boxed, SendFut>>();
    send::<TryFanOut<Src, MkReady, Ready>>();
    unpin::<TryFanOut<Src, MkReady, Ready>>();
    send::<FanOutSpawned<Src, Boxed, ()>>();
    unpin::<FanOutSpawned<Src, Boxed, ()>>();
    static_::<FanOutSpawned<Src, Boxed, ()>>();

    // Sync too when they all are.
    sync::<FanOut<Src, MkReady, Ready>>();
    sync::<FanOutOrdered<Src, MkReady, Ready>>();
    sync::<FanOutWith<Src, MkReady, Ready>>();
    sync::<TryFanOut<Src, MkReady, Ready>>();
    send::<RateLimited<Src>>();
    sync::<RateLimited<Src>>();
    unpin::<RateLimited<Src>>();
    static_::<RateLimited<Src>>();
    // (`FanOutSpawned` is Send, not Sync: it may hold a panic payload, a `Box<dyn Any + Send>`.)

    // A fan-out stream can be driven inside a spawned task.
    fn spawnable() -> impl Future<Output = usize> + Send + 'static {
        use futures::StreamExt;
        use taskgroup::FanOutExt;
        futures::stream::iter(0..4usize)
            .fan_out(2, |i| async move { i })
            .fold(0, |a, b| async move { a + b })
    }
    let _ = spawnable;
}

#[test]
fn shared_types() {
    // A `Shared` primitive moves into spawned tasks and is shared between threads, as an `Arc`
    // of it is.
    send::<Shared<Semaphore>>();
    sync::<Shared<Semaphore>>();
    unpin::<Shared<Semaphore>>();
    static_::<Shared<Semaphore>>();
    send::<Shared<RateLimiter>>();
    sync::<Shared<RateLimiter>>();
    unpin::<Shared<RateLimiter>>();
    static_::<Shared<RateLimiter>>();
    fn clone<T: Clone>() {}
    clone::<Shared<Semaphore>>();
    fn debug<T: std::fmt::Debug>() {}
    debug::<Shared<Semaphore>>();
    fn deref<T: std::ops::Deref<Target = Semaphore>>() {}
    deref::<Shared<Semaphore>>();
    // Either form converts into it.
    fn into_shared<T: Into<Shared<Semaphore>>>() {}
    into_shared::<&'static Semaphore>();
    into_shared::<std::sync::Arc<Semaphore>>();

    // The adapters that keep one stay Send, Sync and 'static with a `static` behind them.
    type Src = futures::stream::Iter<std::ops::Range<usize>>;
    type Ready = std::future::Ready<usize>;
    type MkReady = fn(usize) -> Ready;
    fn with_static() -> FanOutWith<Src, MkReady, Ready> {
        use taskgroup::FanOutExt;
        static API: Semaphore = Semaphore::new(1);
        futures::stream::iter(0..1).fan_out_with(&API, std::future::ready as MkReady)
    }
    fn assert_all<T: Send + Sync + Unpin + 'static>(_: T) {}
    assert_all(with_static());
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

#[test]
fn single_flight_types() {
    send::<SingleFlight<String, u32>>();
    sync::<SingleFlight<String, u32>>();
    unpin::<SingleFlight<String, u32>>();
    static_::<SingleFlight<String, u32>>();
    // Send when its inputs are, so a call can be spawned or held across an await in a task.
    fn run_of<'a>(
        g: &'a SingleFlight<String, u32>,
    ) -> Run<'a, String, u32, impl FnOnce() -> SendFut2 + Send> {
        g.run(String::new(), || Box::pin(async { 1u32 }) as SendFut2)
    }
    type SendFut2 = Pin<Box<dyn Future<Output = u32> + Send>>;
    fn assert_send<T: Send>(_: &T) {}
    fn assert_unpin<T: Unpin>(_: &T) {}
    let g = SingleFlight::new();
    let run = run_of(&g);
    assert_send(&run);
    assert_unpin(&run);
}
