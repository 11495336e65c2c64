//! tokio's async locks that record their contention (feature `tokio`): a task
//! that awaits a [`Mutex`], [`RwLock`] or [`Semaphore`] adds its wait to the
//! block profile (at the stack of the poll that got the lock: the awaiting
//! async functions), and the release that let waiters go on adds their waiting
//! time to the mutex profile, exactly as the blocking locks of
//! [`sonde::sync`](super) do. Each wraps tokio's type and keeps its API
//! (`lock().await`, `try_lock`, guards); an uncontended acquire is tokio's
//! `try_lock` / `try_acquire`.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use sonde::sync::tokio::Mutex;
//!
//! let cache = Mutex::new(Vec::new());
//! cache.lock().await.push(1);
//! assert_eq!(*cache.lock().await, [1]);
//! # });
//! ```

use tokio::sync::{self as t, AcquireError, TryAcquireError, TryLockError};

use super::contention::{Contention, Release, Waiter};

/// Awaits `acquire` as a contended wait of `who` on `c`.
async fn waiting<G>(c: &Contention, who: Waiter, acquire: impl Future<Output = G>) -> G {
    let start = c.begin_wait(who);
    let g = acquire.await;
    c.end_wait(who, start);
    g
}

/// tokio's `Mutex`, recording its contention.
#[derive(Default)]
pub struct Mutex<T: ?Sized> {
    contention: Contention,
    inner: t::Mutex<T>,
}

/// The guard of a locked [`Mutex`]: derefs to the data; dropping it unlocks.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    inner: Release<'a, t::MutexGuard<'a, T>, false>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value` (tokio's `Mutex::new`).
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            contention: Contention::new(),
            inner: t::Mutex::new(value),
        }
    }

    /// The data, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    fn guard<'a>(&'a self, inner: t::MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        MutexGuard {
            inner: Release::new(&self.contention, inner),
        }
    }

    /// Locks, awaiting while another task holds the lock (tokio's `lock`); the
    /// wait, if any, is recorded.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        match self.inner.try_lock() {
            Ok(g) => self.guard(g),
            Err(_) => self.guard(waiting(&self.contention, Waiter::Exclusive, self.inner.lock()).await),
        }
    }

    /// Locks if the lock is free, without waiting (tokio's `try_lock`).
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        self.inner.try_lock().map(|g| self.guard(g))
    }

    /// Locks from blocking (non-async) code (tokio's `blocking_lock`; panics
    /// inside an async context, as tokio's does). The wait is recorded.
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        match self.inner.try_lock() {
            Ok(g) => self.guard(g),
            Err(_) => {
                let start = self.contention.begin_wait(Waiter::Exclusive);
                let g = self.inner.blocking_lock();
                self.contention.end_wait(Waiter::Exclusive, start);
                self.guard(g)
            }
        }
    }

    /// The data, through a unique reference: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

guard_impls!(MutexGuard, mut);

/// tokio's `RwLock`, recording its contention: readers' and writers' waits in
/// the block profile, the releases that let them go on in the mutex profile (a
/// read release only for the writers it held up).
#[derive(Default)]
pub struct RwLock<T: ?Sized> {
    contention: Contention,
    inner: t::RwLock<T>,
}

/// The guard of a read lock.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    inner: Release<'a, t::RwLockReadGuard<'a, T>, true>,
}

/// The guard of the write lock.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    inner: Release<'a, t::RwLockWriteGuard<'a, T>, false>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value` (tokio's `RwLock::new`).
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            contention: Contention::new(),
            inner: t::RwLock::new(value),
        }
    }

    /// The data, consuming the lock.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, awaiting while a writer holds or waits for the lock.
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        let inner = match self.inner.try_read() {
            Ok(g) => g,
            Err(_) => waiting(&self.contention, Waiter::Shared, self.inner.read()).await,
        };
        RwLockReadGuard {
            inner: Release::new(&self.contention, inner),
        }
    }

    /// Locks for writing, awaiting while anyone holds the lock.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        let inner = match self.inner.try_write() {
            Ok(g) => g,
            Err(_) => waiting(&self.contention, Waiter::Exclusive, self.inner.write()).await,
        };
        RwLockWriteGuard {
            inner: Release::new(&self.contention, inner),
        }
    }

    /// Locks for reading without waiting.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        self.inner.try_read().map(|inner| RwLockReadGuard {
            inner: Release::new(&self.contention, inner),
        })
    }

    /// Locks for writing without waiting.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        self.inner.try_write().map(|inner| RwLockWriteGuard {
            inner: Release::new(&self.contention, inner),
        })
    }

    /// The data, through a unique reference: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

guard_impls!(RwLockReadGuard);
guard_impls!(RwLockWriteGuard, mut);

/// tokio's `Semaphore`, recording its contention: a task awaiting permits adds
/// its wait to the block profile, and a permit's release adds the waiting time
/// it ended to the mutex profile.
pub struct Semaphore {
    contention: Contention,
    inner: t::Semaphore,
}

/// Permits acquired from a [`Semaphore`]; dropping them releases them.
#[must_use = "dropping the permit releases it at once"]
pub struct SemaphorePermit<'a> {
    permit: Release<'a, t::SemaphorePermit<'a>, false>,
}

impl Semaphore {
    /// A semaphore with `permits` permits (tokio's `Semaphore::new`).
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            contention: Contention::new(),
            inner: t::Semaphore::new(permits),
        }
    }

    fn permit<'a>(&'a self, permit: t::SemaphorePermit<'a>) -> SemaphorePermit<'a> {
        SemaphorePermit {
            permit: Release::new(&self.contention, permit),
        }
    }

    /// Acquires a permit, awaiting one (tokio's `acquire`); an error once the
    /// semaphore is closed.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Acquires `n` permits at once, awaiting them (tokio's `acquire_many`).
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        match self.inner.try_acquire_many(n) {
            Ok(p) => Ok(self.permit(p)),
            // Closed: tokio's acquire says so at once, as its error.
            Err(TryAcquireError::Closed) => self.inner.acquire_many(n).await.map(|p| self.permit(p)),
            Err(TryAcquireError::NoPermits) => waiting(&self.contention, Waiter::Exclusive, self.inner.acquire_many(n))
                .await
                .map(|p| self.permit(p)),
        }
    }

    /// Acquires a permit if one is free, without waiting.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.inner.try_acquire().map(|p| self.permit(p))
    }

    /// The permits free now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Adds `n` permits.
    pub fn add_permits(&self, n: usize) {
        self.inner.add_permits(n);
    }

    /// Closes the semaphore: pending and later acquires fail.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether the semaphore is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permit.inner.num_permits()
    }
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}
