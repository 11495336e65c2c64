//! The record of sampled allocations: which live blocks were sampled (so that
//! their frees are counted), and per (stack, size, rate) bucket how many were
//! allocated and freed.
//!
//! Recognising a sampled block at free time must cost nothing for the other
//! blocks: a 64 KiB bitmap, indexed by a hash of the address, says whether a
//! sampled block *may* live at an address; only then is the locked table looked
//! up. The table is behind a spin lock (sampled events are rare), which a forked
//! child resets.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

type Map<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

const BITS: usize = 1 << 19;
static BITMAP: [AtomicU64; BITS / 64] = [const { AtomicU64::new(0) }; BITS / 64];
/// Whether anything was ever sampled; frees skip even the bitmap until then.
static ANY: AtomicBool = AtomicBool::new(false);

#[inline(always)]
fn bit_of(addr: usize) -> usize {
    ((addr as u64 >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - 19)) as usize
}

/// Whether a sampled block may live at `addr`. One load, no lock.
#[inline(always)]
pub(crate) fn maybe_sampled(addr: usize) -> bool {
    if !ANY.load(Ordering::Relaxed) {
        return false;
    }
    let b = bit_of(addr);
    BITMAP[b / 64].load(Ordering::Relaxed) & (1 << (b % 64)) != 0
}

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
    /// How many live sampled blocks set each bitmap bit.
    bit_users: Map<u32, u32>,
    stack_ids: Map<Box<[u64]>, u32>,
    pub stacks: Vec<Box<[u64]>>,
    bucket_ids: Map<(u32, u64, u64), u32>,
    pub buckets: Vec<Bucket>,
}

pub(crate) struct Table {
    lock: AtomicBool,
    inner: UnsafeCell<Option<Inner>>,
}

// SAFETY: `inner` is only accessed while holding `lock` (acquire on taking,
// release on giving back).
unsafe impl Sync for Table {}

pub(crate) static TABLE: Table = Table {
    lock: AtomicBool::new(false),
    inner: UnsafeCell::new(None),
};

impl Table {
    /// Runs `f` with the table locked. The caller must have marked the thread as
    /// inside the profiler, so that `f`'s allocations are not sampled.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut spins = 0u32;
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // SAFETY: the lock is held.
        let inner = unsafe { &mut *self.inner.get() }.get_or_insert_with(Inner::default);
        let r = f(inner);
        self.lock.store(false, Ordering::Release);
        r
    }

    /// Releases the lock in a forked child, where the thread that held it is gone.
    pub(crate) fn reset_after_fork(&self) {
        self.lock.store(false, Ordering::Release);
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
        } else {
            let bit = bit_of(addr);
            *self.bit_users.entry(bit as u32).or_insert(0) += 1;
            BITMAP[bit / 64].fetch_or(1 << (bit % 64), Ordering::Relaxed);
        }
        ANY.store(true, Ordering::Relaxed);
    }

    /// Takes the record of the block at `addr`, if it was sampled, without
    /// counting the free yet (see [`Inner::finish_free`] and [`Inner::restore`]).
    pub(crate) fn take(&mut self, addr: usize) -> Option<u32> {
        let b = self.live.remove(&addr)?;
        let bit = bit_of(addr);
        let users = self.bit_users.entry(bit as u32).or_insert(1);
        *users -= 1;
        if *users == 0 {
            self.bit_users.remove(&(bit as u32));
            BITMAP[bit / 64].fetch_and(!(1 << (bit % 64)), Ordering::Relaxed);
        }
        Some(b)
    }

    /// Counts the free of a block taken with [`Inner::take`].
    pub(crate) fn finish_free(&mut self, bucket: u32) {
        self.buckets[bucket as usize].frees += 1;
    }

    /// Puts back a block taken with [`Inner::take`] whose reallocation failed.
    pub(crate) fn restore(&mut self, addr: usize, bucket: u32) {
        self.live.insert(addr, bucket);
        let bit = bit_of(addr);
        *self.bit_users.entry(bit as u32).or_insert(0) += 1;
        BITMAP[bit / 64].fetch_or(1 << (bit % 64), Ordering::Relaxed);
    }
}
