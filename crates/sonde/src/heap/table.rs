//! The record of sampled allocations: which live blocks were recorded (so that
//! their frees are counted), and per (stack, size, rate) bucket how many were
//! allocated and freed. Only frees of blocks that may be recorded (in the
//! sampling arena, or at least as large as the smallest exact record) come here.
//! The table is behind a spin lock (recorded events are rare), which a forked
//! child resets.

use crate::fork::Gate;
use std::cell::UnsafeCell;

use sonde_profile::hash::FastMap as Map;

/// One bucket of sampled allocations.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    /// Index of the stack in [`Inner::stacks`].
    pub stack: u32,
    /// Requested size of each block.
    pub size: u64,
    /// The sampling rate the blocks were sampled at; 0 for blocks recorded exactly.
    pub rate: u64,
    pub allocs: u64,
    pub frees: u64,
}

#[derive(Default)]
pub(crate) struct Inner {
    /// Live sampled blocks: address to bucket.
    live: Map<usize, u32>,
    stack_ids: Map<Box<[u64]>, u32>,
    pub stacks: Vec<Box<[u64]>>,
    bucket_ids: Map<(u32, u64, u64), u32>,
    pub buckets: Vec<Bucket>,
}

pub(crate) struct Table {
    lock: Gate,
    inner: UnsafeCell<Option<Inner>>,
}

// SAFETY: `inner` is only accessed while holding `lock` (acquire on taking,
// release on giving back).
unsafe impl Sync for Table {}

pub(crate) static TABLE: Table = Table {
    lock: Gate::new(),
    inner: UnsafeCell::new(None),
};

impl Table {
    /// Runs `f` with the table locked. The caller must have marked the thread as
    /// inside the profiler, so that `f`'s allocations are not sampled.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        crate::fork::register();
        self.lock();
        // SAFETY: the lock is held.
        let inner = unsafe { &mut *self.inner.get() }.get_or_insert_with(Inner::default);
        let r = f(inner);
        self.unlock();
        r
    }

    /// Takes the lock (also before `fork()`, see `crate::fork`).
    pub(crate) fn lock(&self) {
        self.lock.lock();
    }

    /// Gives the lock back (also after `fork()`, in parent and child).
    pub(crate) fn unlock(&self) {
        self.lock.unlock();
    }
}

impl Inner {
    /// Records a sampled block at `addr`.
    pub(crate) fn insert(&mut self, addr: usize, stack: &[u64], size: u64, rate: u64) {
        let next = self.stacks.len() as u32;
        let stack_id = match self.stack_ids.get(stack) {
            Some(&id) => id,
            None => {
                self.stacks.push(stack.into());
                self.stack_ids.insert(stack.into(), next);
                next
            }
        };
        let next = self.buckets.len() as u32;
        let b = *self.bucket_ids.entry((stack_id, size, rate)).or_insert(next);
        if b == next {
            self.buckets.push(Bucket {
                stack: stack_id,
                size,
                rate,
                allocs: 0,
                frees: 0,
            });
        }
        self.buckets[b as usize].allocs += 1;
        if let Some(old) = self.live.insert(addr, b) {
            // A block we never saw freed (freed while the profiler was busy).
            self.buckets[old as usize].frees += 1;
        }
    }

    /// Counts the free of the block at `addr`, if it was recorded.
    pub(crate) fn free(&mut self, addr: usize) {
        if let Some(b) = self.live.remove(&addr) {
            self.buckets[b as usize].frees += 1;
        }
    }
}
