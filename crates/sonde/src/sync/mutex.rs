//! [`Mutex`]: `std::sync::Mutex` that records its contention.

use std::fmt;
use std::sync::{self, LockResult, PoisonError, TryLockError, TryLockResult};

use super::contention::{Contention, Release, Waiter};

/// A mutual exclusion lock with `std::sync::Mutex`'s API and behavior
/// (poisoning included) that records its contention: a thread that waits for
/// it adds its wait to the block profile, and the unlock that made others wait
/// adds their waiting time to the mutex profile (Go's `sync.Mutex` with
/// `SetBlockProfileRate` and `SetMutexProfileFraction`).
///
/// An uncontended `lock()` is std's `try_lock` (one compare-and-swap); its
/// guard's drop reads one atomic more than std's. A contended release records
/// its event after the lock is released, outside the critical section. Nothing else is added until
/// a thread has to wait.
///
/// ```
/// use sonde::sync::Mutex;
///
/// sonde::sync::set_mutex_profile_fraction(1);
/// let cache = Mutex::new(std::collections::HashMap::new());
/// cache.lock().unwrap().insert("k", 1);
/// assert_eq!(cache.lock().unwrap().get("k"), Some(&1));
/// ```
#[derive(Default)]
pub struct Mutex<T: ?Sized> {
    contention: Contention,
    inner: sync::Mutex<T>,
}

/// The guard of a locked [`Mutex`]: derefs to the data; dropping it unlocks.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    inner: Release<'a, sync::MutexGuard<'a, T>, false>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value` (std's `Mutex::new`).
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            contention: Contention::new(),
            inner: sync::Mutex::new(value),
        }
    }

    /// The data, consuming the mutex (std's `into_inner`); an error if poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    fn guard<'a>(&'a self, inner: sync::MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        MutexGuard {
            inner: Release::new(&self.contention, inner),
        }
    }

    fn wrap<'a>(&'a self, r: LockResult<sync::MutexGuard<'a, T>>) -> LockResult<MutexGuard<'a, T>> {
        match r {
            Ok(g) => Ok(self.guard(g)),
            Err(e) => Err(PoisonError::new(self.guard(e.into_inner()))),
        }
    }

    /// Locks, waiting while another thread holds the lock (std's `lock`). An
    /// error if a thread panicked while holding it (the guard is in the error).
    /// The wait, if any, is recorded for the contention profiles.
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        match self.inner.try_lock() {
            Ok(g) => Ok(self.guard(g)),
            Err(TryLockError::Poisoned(e)) => Err(PoisonError::new(self.guard(e.into_inner()))),
            Err(TryLockError::WouldBlock) => self.lock_contended(),
        }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) -> LockResult<MutexGuard<'_, T>> {
        let start = self.contention.begin_wait(Waiter::Exclusive);
        let r = self.inner.lock();
        self.contention.end_wait(Waiter::Exclusive, start);
        self.wrap(r)
    }

    /// Locks if the lock is free, without waiting (std's `try_lock`).
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        match self.inner.try_lock() {
            Ok(g) => Ok(self.guard(g)),
            Err(TryLockError::Poisoned(e)) => Err(TryLockError::Poisoned(PoisonError::new(self.guard(e.into_inner())))),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        }
    }

    /// Whether a thread panicked while holding the lock (std's `is_poisoned`).
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Clears the poisoned state (std's `clear_poison`).
    pub fn clear_poison(&self) {
        self.inner.clear_poison();
    }

    /// The data, through a unique reference: no locking needed (std's `get_mut`).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }

    /// The std guard inside `guard`, for [`Condvar`](super::Condvar), with
    /// what records its unlock.
    pub(super) fn parts<'a>(guard: MutexGuard<'a, T>) -> (&'a Contention, sync::MutexGuard<'a, T>) {
        guard.inner.into_parts()
    }

    /// A guard from its parts (after a [`Condvar`](super::Condvar) wait).
    pub(super) fn from_parts<'a>(contention: &'a Contention, inner: sync::MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        MutexGuard {
            inner: Release::new(contention, inner),
        }
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

guard_impls!(MutexGuard, mut);
