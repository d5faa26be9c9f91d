//! The loom switch: the synchronisation types the primitives are built on.
//!
//! Under `--cfg loom` these are loom's model-checked types (and `event-listener` runs on loom's
//! primitives too, see `Cargo.toml`); otherwise they are std's. Primitives import from here, never
//! from `std::sync` directly, so a loom model exercises exactly the code users run.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
