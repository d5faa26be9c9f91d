//! The `tokio` feature starts no second timer thread: timeouts and rate-limiter waits under a
//! tokio runtime leave no `async-io` thread behind. Its own test binary, alone in its process,
//! so that no other test starts async-io's thread first.
#![cfg(all(feature = "tokio", not(loom), target_os = "linux"))]

use std::time::Duration;

use taskgroup::{RateLimiter, TimeoutExt};

/// The names of this process's threads, from `/proc/self/task/*/comm`.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

#[tokio::test]
async fn timers_under_tokio_start_no_async_io_thread() {
    let err = std::future::pending::<()>()
        .timeout(Duration::from_millis(5))
        .await
        .unwrap_err();
    assert!(err.waited() >= Duration::from_millis(5));
    let limiter = RateLimiter::new(1, Duration::from_millis(5));
    limiter.acquire().await.unwrap();
    limiter.acquire().await.unwrap(); // waits on a timer

    let names = thread_names();
    assert!(!names.iter().any(|n| n == "async-io"), "{names:?}");
}
