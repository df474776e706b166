//! The synchronisation primitives the runtime's concurrency cores use, in
//! one place so that a model checker can stand in for them in tests.

pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
pub(crate) use std::thread::yield_now;
