//! Go's task-coordination idioms for async Rust, on any executor.
//!
//! taskgroup brings `sync.WaitGroup` and context-style timeouts to async Rust without tying
//! your code to a runtime: waiting and waking go through [`event-listener`], so the same
//! primitives work under tokio, async-std, smol, `futures::executor` or a hand-rolled executor,
//! and from plain threads where that makes sense.
//!
//! | coming from Go | taskgroup |
//! | --- | --- |
//! | `var wg sync.WaitGroup` | [`AsyncWaitGroup::new()`] |
//! | `wg.Add(1)` + `go func() { defer wg.Done() … }()` | `spawn(wg.track(fut))` or a [`WaitGroupGuard`] |
//! | `wg.Go(f)` (Go 1.25) | [`AsyncWaitGroup::track`] |
//! | `wg.Wait()` | `wg.wait().await`, or [`wait_blocking`](AsyncWaitGroup::wait_blocking) from a thread |
//! | `select { case <-done: case <-time.After(d): }` | `wg.wait().timeout(d).await` ([`TimeoutExt`]) |
//!
//! # A tour
//!
//! Wait for a batch of jobs, but not forever:
//!
//! ```
//! use std::time::Duration;
//! use taskgroup::{AsyncWaitGroup, TimeoutExt};
//!
//! # futures::executor::block_on(async {
//! let wg = AsyncWaitGroup::new();
//! let mut pending = Vec::new();
//! for job in 0..8 {
//!     let guard = wg.guard(); // counts one now, done when dropped
//!     if job == 7 {
//!         pending.push(guard); // a job that hangs
//!     } else {
//!         std::thread::spawn(move || drop(guard)); // finishes at once
//!     }
//! }
//! match wg.wait().timeout(Duration::from_millis(50)).await {
//!     Ok(()) => unreachable!("job 7 never finishes"),
//!     Err(elapsed) => {
//!         assert_eq!(wg.count(), 1); // one job still outstanding
//!         assert!(elapsed.waited() >= Duration::from_millis(50));
//!     }
//! }
//! # });
//! ```
//!
//! [`event-listener`]: https://docs.rs/event-listener

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod semaphore;
mod sync;
#[cfg(not(loom))]
mod time;
mod wait_group;

pub use semaphore::{
    Acquire, AcquireError, AcquireOwned, OwnedSemaphorePermit, Semaphore, SemaphorePermit,
    TryAcquireError,
};
#[cfg(not(loom))]
pub use time::{Elapsed, Timeout, TimeoutExt};
pub use wait_group::{AsyncWaitGroup, Track, Wait, WaitGroupGuard};

/// The README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
