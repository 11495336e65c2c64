//! [`RwLock`]: `std::sync::RwLock` that records its contention.

use std::fmt;
use std::sync::{self, LockResult, PoisonError, TryLockError, TryLockResult};

use super::contention::{Contention, Release, Waiter};

/// A reader-writer lock with `std::sync::RwLock`'s API and behavior (poisoning
/// included) that records its contention, as [`Mutex`](super::Mutex) does:
/// waits of readers and writers go to the block profile, and the unlock (read
/// or write) that made others wait goes to the mutex profile with their
/// waiting time (Go's `sync.RWMutex`).
///
/// ```
/// use sonde::sync::RwLock;
///
/// let config = RwLock::new(String::from("v1"));
/// assert_eq!(*config.read().unwrap(), "v1");
/// *config.write().unwrap() = "v2".into();
/// ```
#[derive(Default)]
pub struct RwLock<T: ?Sized> {
    contention: Contention,
    inner: sync::RwLock<T>,
}

/// The guard of a read lock: derefs to the data; dropping it unlocks.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    inner: Release<'a, sync::RwLockReadGuard<'a, T>, true>,
}

/// The guard of the write lock: derefs mutably to the data; dropping it unlocks.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    inner: Release<'a, sync::RwLockWriteGuard<'a, T>, false>,
}

/// Maps std's lock results to this lock's guards.
fn wrap<G, W>(r: Result<G, PoisonError<G>>, w: impl Fn(G) -> W) -> LockResult<W> {
    match r {
        Ok(g) => Ok(w(g)),
        Err(e) => Err(PoisonError::new(w(e.into_inner()))),
    }
}

/// Maps std's try-lock results to this lock's guards.
fn wrap_try<G, W>(r: TryLockResult<G>, w: impl Fn(G) -> W) -> TryLockResult<W> {
    match r {
        Ok(g) => Ok(w(g)),
        Err(TryLockError::Poisoned(e)) => Err(TryLockError::Poisoned(PoisonError::new(w(e.into_inner())))),
        Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
    }
}

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value` (std's `RwLock::new`).
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            contention: Contention::new(),
            inner: sync::RwLock::new(value),
        }
    }

    /// The data, consuming the lock (std's `into_inner`); an error if poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    fn reader<'a>(&'a self, g: sync::RwLockReadGuard<'a, T>) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard {
            inner: Release::new(&self.contention, g),
        }
    }

    fn writer<'a>(&'a self, g: sync::RwLockWriteGuard<'a, T>) -> RwLockWriteGuard<'a, T> {
        RwLockWriteGuard {
            inner: Release::new(&self.contention, g),
        }
    }

    /// Locks for reading, waiting while a writer holds or waits for the lock
    /// (std's `read`). The wait, if any, is recorded.
    #[inline]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        match self.inner.try_read() {
            Err(TryLockError::WouldBlock) => self.read_contended(),
            Ok(g) => Ok(self.reader(g)),
            Err(TryLockError::Poisoned(e)) => Err(PoisonError::new(self.reader(e.into_inner()))),
        }
    }

    #[cold]
    #[inline(never)]
    fn read_contended(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let start = self.contention.begin_wait(Waiter::Shared);
        let r = self.inner.read();
        self.contention.end_wait(Waiter::Shared, start);
        wrap(r, |g| self.reader(g))
    }

    /// Locks for writing, waiting while anyone holds the lock (std's `write`).
    /// The wait, if any, is recorded.
    #[inline]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        match self.inner.try_write() {
            Err(TryLockError::WouldBlock) => self.write_contended(),
            Ok(g) => Ok(self.writer(g)),
            Err(TryLockError::Poisoned(e)) => Err(PoisonError::new(self.writer(e.into_inner()))),
        }
    }

    #[cold]
    #[inline(never)]
    fn write_contended(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let start = self.contention.begin_wait(Waiter::Exclusive);
        let r = self.inner.write();
        self.contention.end_wait(Waiter::Exclusive, start);
        wrap(r, |g| self.writer(g))
    }

    /// Locks for reading if no writer holds the lock, without waiting (std's
    /// `try_read`).
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        wrap_try(self.inner.try_read(), |g| self.reader(g))
    }

    /// Locks for writing if the lock is free, without waiting (std's `try_write`).
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        wrap_try(self.inner.try_write(), |g| self.writer(g))
    }

    /// Whether a writer panicked while holding the lock (std's `is_poisoned`).
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
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

guard_impls!(RwLockReadGuard);
guard_impls!(RwLockWriteGuard, mut);
