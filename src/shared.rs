//! [`Shared`]: a primitive that an adapter keeps, given as a `&'static` or as an `Arc`.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A primitive handed to something that keeps it: a `&'static` reference or an [`Arc`].
///
/// [`fan_out_with`](crate::FanOutExt::fan_out_with) and
/// [`rate_limited`](crate::FanOutExt::rate_limited) hold their [`Semaphore`](crate::Semaphore)
/// or [`RateLimiter`](crate::RateLimiter) for as long as they run, so they take
/// `impl Into<Shared<T>>`: pass `&API` for a `static API: Semaphore` (Go's package-level
/// semaphore), a `&'static` from a `OnceLock` or `Box::leak`, or an `Arc` (`api.clone()`) for
/// one made at run time. Either way every user of the primitive shares one budget. A `static`
/// saves the reference count: cloning a `Shared::Static` copies a pointer.
///
/// It derefs to the primitive, so it can be used as one.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use futures::{stream, StreamExt};
/// use taskgroup::{FanOutExt, Semaphore, Shared};
///
/// static API: Semaphore = Semaphore::new(4); // the whole program's budget
///
/// # futures::executor::block_on(async {
/// let batch = Arc::new(Semaphore::new(2)); // one made at run time
///
/// // Both forms fit wherever a primitive is kept:
/// let a: Vec<u32> = stream::iter(0..8).fan_out_with(&API, |n| async move { n }).collect().await;
/// let b: Vec<u32> = stream::iter(0..8).fan_out_with(batch.clone(), |n| async move { n }).collect().await;
/// assert_eq!((a.len(), b.len()), (8, 8));
///
/// // Built by hand, a `Shared` derefs to the primitive.
/// let api: Shared<Semaphore> = (&API).into();
/// assert_eq!(api.available_permits(), 4);
/// assert!(matches!(Shared::from(batch), Shared::Arc(_)));
/// # });
/// ```
pub enum Shared<T: ?Sized + 'static> {
    /// A primitive that lives for the whole program: a `static`, or one leaked or set once.
    Static(&'static T),
    /// A primitive owned by reference count.
    Arc(Arc<T>),
}

impl<T: ?Sized> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        match self {
            Self::Static(primitive) => primitive,
            Self::Arc(primitive) => primitive,
        }
    }
}

impl<T: ?Sized> AsRef<T> for Shared<T> {
    #[inline]
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: ?Sized> Clone for Shared<T> {
    #[inline]
    fn clone(&self) -> Self {
        match self {
            Self::Static(primitive) => Self::Static(primitive),
            Self::Arc(primitive) => Self::Arc(Arc::clone(primitive)),
        }
    }
}

impl<T: ?Sized> From<&'static T> for Shared<T> {
    #[inline]
    fn from(primitive: &'static T) -> Self {
        Self::Static(primitive)
    }
}

impl<T: ?Sized> From<Arc<T>> for Shared<T> {
    #[inline]
    fn from(primitive: Arc<T>) -> Self {
        Self::Arc(primitive)
    }
}

/// Shows the primitive, as `Arc`'s `Debug` does.
impl<T: ?Sized + fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
