//! `SingleFlight` against `async_singleflight` and the hand-rolled map of shared futures.
//!
//! Run with `cargo bench --bench single_flight`.
//!
//! | line | what a call does |
//! | --- | --- |
//! | taskgroup | `SingleFlight::run(key, f)` |
//! | async_singleflight | `UnaryGroup::work(&key, fut)` (0.6; a tokio mutex and a watch channel per flight) |
//! | hand_rolled_shared | `Mutex<HashMap<K, Shared<BoxFuture<T>>>>`: clone the entry's `Shared` or insert a new one, await it, remove the entry |
//! | floor_mutex_hashmap | the least any of them does for a call that finds no flight: one insert and one remove in a `Mutex<HashMap>` |
//!
//! `uncontended`: every call has its own key and its work is ready at once (a cache miss that
//! nobody else shares): the cost of the bookkeeping alone, per call.
//! `coalesced_64`: 64 tokio tasks ask for one key at once; the work yields twice, so that the
//! others join it. One iteration is the batch; criterion reports time per batch (÷ 64 per call).

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use criterion::{criterion_group, criterion_main, Criterion};
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::task::noop_waker_ref;

/// Callers per batch in `coalesced_64`.
const TASKS: u64 = 64;

#[inline]
fn poll_once<F: Future>(fut: F) -> F::Output {
    match pin!(fut).poll(&mut Context::from_waker(noop_waker_ref())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("ready work made a call wait"),
    }
}

/// The map users write by hand today.
struct HandRolled {
    map: Mutex<HashMap<u64, Shared<BoxFuture<'static, u64>>>>,
}

impl HandRolled {
    fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    async fn run<Fut>(&self, key: u64, fut: Fut) -> u64
    where
        Fut: Future<Output = u64> + Send + 'static,
    {
        let (shared, leader) = {
            let mut map = self.map.lock().unwrap();
            match map.get(&key) {
                Some(shared) => (shared.clone(), false),
                None => {
                    let shared = fut.boxed().shared();
                    map.insert(key, shared.clone());
                    (shared, true)
                }
            }
        };
        let out = shared.await;
        if leader {
            self.map.lock().unwrap().remove(&key);
        }
        out
    }
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("single_flight_uncontended");

    let floor = Mutex::new(HashMap::<u64, u64>::new());
    let mut key = 0u64;
    g.bench_function("floor_mutex_hashmap", |b| {
        b.iter(|| {
            key += 1;
            floor.lock().unwrap().insert(black_box(key), key);
            black_box(floor.lock().unwrap().remove(&key));
        })
    });

    let group = taskgroup::SingleFlight::<u64, u64>::new();
    let mut key = 0u64;
    g.bench_function("taskgroup", |b| {
        b.iter(|| {
            key += 1;
            let k = black_box(key);
            black_box(poll_once(group.run(k, || std::future::ready(k))))
        })
    });

    let group = async_singleflight::UnaryGroup::<u64, u64>::new();
    let mut key = 0u64;
    g.bench_function("async_singleflight", |b| {
        b.iter(|| {
            key += 1;
            let k = black_box(key);
            black_box(poll_once(group.work(&k, std::future::ready(k))))
        })
    });

    let group = HandRolled::new();
    let mut key = 0u64;
    g.bench_function("hand_rolled_shared", |b| {
        b.iter(|| {
            key += 1;
            let k = black_box(key);
            black_box(poll_once(group.run(k, std::future::ready(k))))
        })
    });

    g.finish();
}

async fn work(value: u64) -> u64 {
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    value
}

async fn batch<F, Fut>(call: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    let handles: Vec<_> = (0..TASKS).map(|_| tokio::spawn(call())).collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), 7);
    }
}

fn coalesced_64(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("single_flight_coalesced_64");

    let group = Arc::new(taskgroup::SingleFlight::<u64, u64>::new());
    g.bench_function("taskgroup", |b| {
        b.to_async(&rt).iter(|| {
            batch(|| {
                let group = group.clone();
                async move { group.run(1, || work(7)).await }
            })
        })
    });

    let group = Arc::new(async_singleflight::UnaryGroup::<u64, u64>::new());
    g.bench_function("async_singleflight", |b| {
        b.to_async(&rt).iter(|| {
            batch(|| {
                let group = group.clone();
                async move { group.work(&1, work(7)).await }
            })
        })
    });

    let group = Arc::new(HandRolled::new());
    g.bench_function("hand_rolled_shared", |b| {
        b.to_async(&rt).iter(|| {
            batch(|| {
                let group = group.clone();
                async move { group.run(1, work(7)).await }
            })
        })
    });

    g.finish();
}

criterion_group!(benches, uncontended, coalesced_64);
criterion_main!(benches);
