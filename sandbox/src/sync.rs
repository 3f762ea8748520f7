//! The one lock helper of the crate: every emulator keeps its state behind `std::sync::Mutex`es
//! that are never held across an await, and a panicked test thread must not wedge them.

use std::sync::{Mutex, MutexGuard};

/// Locks, shrugging off poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
