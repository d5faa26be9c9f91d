//! The connection to the server: one multiplexed connection per [`Backend`] (shared by every
//! handle of a limiter or semaphore and every request in flight), opened on first use, dropped
//! after any failure or timeout and opened again by the next request; the primitive's script,
//! run with `EVALSHA` and sent whole with `EVAL` after a `NOSCRIPT`; pub/sub connections (the
//! semaphore's wake-ups); and the detached tasks that give bookings and permits back.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, ErrorKind, FromRedisValue, RedisError, ServerErrorKind, ToRedisArgs,
};

use super::BackendError;
use crate::sync::lock;
use crate::{Semaphore, TimeoutExt};

pub(super) struct Backend {
    client: redis::Client,
    /// `host:port` (or the socket path), for errors: never the URL, which may hold a password.
    address: Arc<str>,
    /// Which primitive's server this is, for errors ("rate limiter", "semaphore").
    user: &'static str,
    /// The one script every operation of the primitive runs (see its file for its protocol).
    source: &'static str,
    script: redis::Script,
    /// The open connection and its number, if any. Cloning a `MultiplexedConnection` is cheap
    /// (a channel sender); the lock is held only to clone or replace it.
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
    next_id: AtomicU64,
    /// One connect at a time: a thousand acquires at start-up open one connection, not a
    /// thousand.
    connecting: Semaphore,
    /// Round trips made (scripts sent, connects not counted), for `Debug` and the tests.
    pub(super) round_trips: AtomicU64,
}

impl Backend {
    pub(super) fn open(
        url: &str,
        user: &'static str,
        source: &'static str,
    ) -> Result<Self, BackendError> {
        let client = redis::Client::open(url).map_err(|e| {
            BackendError::new(user, "(invalid URL)".into(), format_args!("{e}"), false)
        })?;
        let address = client.get_connection_info().addr().to_string().into();
        Ok(Self {
            client,
            address,
            user,
            source,
            script: redis::Script::new(source),
            conn: Mutex::new(None),
            next_id: AtomicU64::new(0),
            connecting: Semaphore::new(1),
            round_trips: AtomicU64::new(0),
        })
    }

    pub(super) fn address(&self) -> &Arc<str> {
        &self.address
    }

    /// The open connection, or a new one.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), RedisError> {
        if let Some(conn) = lock(&self.conn).clone() {
            return Ok(conn);
        }
        let _one_at_a_time = self.connecting.acquire().await;
        if let Some(conn) = lock(&self.conn).clone() {
            return Ok(conn); // opened while this one waited
        }
        // redis-rs's own timeouts off: the caller's timeout covers connect and answer.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(None)
            .set_response_timeout(None);
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        *lock(&self.conn) = Some((id, conn.clone()));
        Ok((id, conn))
    }

    /// Forgets connection `id` if it is still the current one, so the next request opens a new
    /// one. The connection itself closes when its last clone is dropped (outside the lock).
    fn forget(&self, id: u64) {
        let stale = {
            let mut conn = lock(&self.conn);
            match &*conn {
                Some((current, _)) if *current == id => conn.take(),
                _ => None,
            }
        };
        drop(stale);
    }

    /// Runs the script's `op` on `keys` with its numbers (one round trip; two the first time a
    /// server sees the script), within `timeout` from the call, connecting included.
    pub(super) async fn run<T: FromRedisValue>(
        &self,
        timeout: Duration,
        keys: [&str; 2],
        op: &str,
        args: [i64; 5],
    ) -> Result<T, BackendError> {
        self.eval(timeout, &keys, (op, &args[..])).await
    }

    /// Runs the script on `keys` with `args` (one round trip; two the first time a server sees
    /// the script), within `timeout` from the call, connecting included.
    pub(super) async fn eval<T: FromRedisValue>(
        &self,
        timeout: Duration,
        keys: &[&str],
        args: impl ToRedisArgs,
    ) -> Result<T, BackendError> {
        let mut used = None;
        let outcome = async {
            let (id, mut conn) = self.connection().await?;
            used = Some(id);
            let mut evalsha = redis::cmd("EVALSHA");
            evalsha
                .arg(self.script.get_hash())
                .arg(keys.len())
                .arg(keys)
                .arg(&args);
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            match evalsha.query_async(&mut conn).await {
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    // A server that restarted, or never saw the script: EVAL caches it too.
                    let mut eval = redis::cmd("EVAL");
                    eval.arg(self.source).arg(keys.len()).arg(keys).arg(&args);
                    self.round_trips.fetch_add(1, Ordering::Relaxed);
                    eval.query_async(&mut conn).await
                }
                other => other,
            }
        }
        .timeout(timeout)
        .await;
        let failed = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => self.error(e, false),
            Err(_) => self.error(format_args!("no answer within {timeout:?}"), true),
        };
        // A failed or silent connection is not trusted again; the next request reconnects.
        if let Some(id) = used {
            self.forget(id);
        }
        Err(failed)
    }

    /// An error of this server.
    pub(super) fn error(&self, cause: impl fmt::Display, timed_out: bool) -> BackendError {
        BackendError::new(self.user, self.address.clone(), cause, timed_out)
    }

    /// A new pub/sub connection subscribed to `channel`, within `timeout`.
    pub(super) async fn subscribe(
        &self,
        timeout: Duration,
        channel: &str,
    ) -> Result<redis::aio::PubSubStream, BackendError> {
        let outcome = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok::<_, RedisError>(pubsub.into_on_message())
        }
        .timeout(timeout)
        .await;
        match outcome {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(self.error(e, false)),
            Err(_) => Err(self.error(format_args!("no answer within {timeout:?}"), true)),
        }
    }
}

/// Runs `future` as a detached task on the runtime the connection runs on: tokio's when a tokio
/// runtime is current (with `redis-tokio`), smol's global executor otherwise (with
/// `redis-smol`). With `redis-tokio` alone and no tokio runtime current, no connection can run
/// either, and `future` is dropped.
pub(super) fn spawn_detached(future: impl Future<Output = ()> + Send + 'static) {
    #[cfg(feature = "redis-tokio")]
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        drop(handle.spawn(future));
        return;
    }
    #[cfg(feature = "redis-smol")]
    smol::spawn(future).detach();
    #[cfg(not(feature = "redis-smol"))]
    drop(future);
}
