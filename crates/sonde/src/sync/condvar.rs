//! [`Condvar`]: `std::sync::Condvar` for [`Mutex`], recording its waits.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{self, LockResult, PoisonError, WaitTimeoutResult};
use std::time::Duration;

use super::contention::{BLOCK_RATE, block_event, mutex_event, now_ns};
use super::mutex::{Mutex, MutexGuard};

/// A condition variable with `std::sync::Condvar`'s API, for
/// [`sonde::sync::Mutex`](Mutex) guards. A wait is a block event (Go's
/// `sync.Cond.Wait` in the block profile): the waiter's stack and how long it
/// waited. Releasing the mutex to wait counts as its unlock for the mutex
/// profile.
///
/// ```
/// use sonde::sync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = pair.clone();
/// std::thread::spawn(move || {
///     *p.0.lock().unwrap() = true;
///     p.1.notify_one();
/// });
/// let ready = pair.1.wait_while(pair.0.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*ready);
/// ```
#[derive(Default)]
pub struct Condvar {
    inner: sync::Condvar,
}

/// When a wait starts, if the block profile is on (0 otherwise).
fn wait_start() -> u64 {
    if BLOCK_RATE.load(Relaxed) > 0 { now_ns() } else { 0 }
}

fn wait_end(start: u64) {
    if start != 0 {
        block_event(now_ns().saturating_sub(start));
    }
}

impl Condvar {
    /// A new condition variable (std's `Condvar::new`).
    pub const fn new() -> Condvar {
        Condvar {
            inner: sync::Condvar::new(),
        }
    }

    /// Runs a std wait on `guard`'s inner guard, recording the unlock and the
    /// wait, and gives back a guard of `guard`'s mutex.
    fn waiting<'a, T, R>(
        &self,
        guard: MutexGuard<'a, T>,
        wait: impl FnOnce(&sync::Condvar, sync::MutexGuard<'a, T>) -> LockResult<(sync::MutexGuard<'a, T>, R)>,
    ) -> LockResult<(MutexGuard<'a, T>, R)> {
        let (contention, inner) = Mutex::parts(guard);
        // The wait releases the mutex: a release, for the waiters it ends.
        let owed = contention.owed(false);
        let start = wait_start();
        let r = wait(&self.inner, inner);
        wait_end(start);
        if owed.any() {
            mutex_event(owed);
        }
        match r {
            Ok((g, x)) => Ok((Mutex::from_parts(contention, g), x)),
            Err(e) => {
                let (g, x) = e.into_inner();
                Err(PoisonError::new((Mutex::from_parts(contention, g), x)))
            }
        }
    }

    /// Waits for a notification, releasing the lock meanwhile (std's `wait`).
    /// Spurious wake-ups happen, as with std's: wait in a loop, or use
    /// [`Condvar::wait_while`].
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let r = self.waiting(guard, |cv, g| {
            cv.wait(g)
                .map(|g| (g, ()))
                .map_err(|e| PoisonError::new((e.into_inner(), ())))
        });
        unit(r)
    }

    /// Waits while `condition` holds (std's `wait_while`): one block event for
    /// the whole wait.
    pub fn wait_while<'a, T, F>(&self, guard: MutexGuard<'a, T>, condition: F) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        let r = self.waiting(guard, |cv, g| {
            cv.wait_while(g, condition)
                .map(|g| (g, ()))
                .map_err(|e| PoisonError::new((e.into_inner(), ())))
        });
        unit(r)
    }

    /// Waits for a notification or until `dur` has passed (std's
    /// `wait_timeout`).
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        self.waiting(guard, |cv, g| cv.wait_timeout(g, dur))
    }

    /// Waits while `condition` holds, at most `dur` (std's
    /// `wait_timeout_while`).
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
        condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        self.waiting(guard, |cv, g| cv.wait_timeout_while(g, dur, condition))
    }

    /// Wakes one waiting thread (std's `notify_one`).
    pub fn notify_one(&self) {
        self.inner.notify_one();
    }

    /// Wakes every waiting thread (std's `notify_all`).
    pub fn notify_all(&self) {
        self.inner.notify_all();
    }
}

/// A `(guard, ())` result as a guard result.
fn unit<G>(r: LockResult<(G, ())>) -> LockResult<G> {
    r.map(|(g, ())| g).map_err(|e| PoisonError::new(e.into_inner().0))
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
