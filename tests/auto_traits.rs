//! `Send`/`Sync`/`Unpin`/`'static` of every public type, so a refactor cannot silently drop one.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use taskgroup::{
    Acquire, AcquireError, AcquireOwned, AsyncWaitGroup, Elapsed, OwnedSemaphorePermit, Semaphore,
    SemaphorePermit, Timeout, Track, TryAcquireError, Wait, WaitGroupGuard,
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
