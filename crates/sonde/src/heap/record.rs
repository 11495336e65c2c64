//! Recording sampled blocks: the allocation's stack, captured with the shared
//! unwinder, into the table of samples; and their frees.

use std::sync::atomic::Ordering::Relaxed;

use super::arena;
use super::sampler::HOT;
use super::table::TABLE;
use crate::alloc::{self, Local, busy};
use crate::unwind;

/// How deep a heap sample's stack may be.
const MAX_DEPTH: usize = 64;

/// Records a block with the stack of the allocation. The profiler's own memory
/// (the table's growth) is neither sampled nor counted.
#[cold]
#[inline(never)]
pub(crate) fn record(addr: *mut u8, size: u64, rate: u64) {
    busy(true, || alloc::with_local(|l| record_stack(l, addr, size, rate)));
}

fn record_stack(l: &Local, addr: *mut u8, size: u64, rate: u64) {
    let mut frames = [0u64; MAX_DEPTH];
    let n = unwind::capture_here(&l.stack_end, &mut frames);
    TABLE.with(|t| t.insert(addr as usize, &frames[..n], size, rate));
    if rate == 0 {
        HOT.large_min.fetch_min(size as usize, Relaxed);
    }
}

/// Counts the free of a recorded block (if it is one) before it is released.
#[cold]
#[inline(never)]
pub(crate) fn recorded_free(l: &Local, addr: *mut u8) {
    // Inside the profiler, only its own blocks are freed: none is recorded.
    if !l.busy.get() {
        busy(true, || TABLE.with(|t| t.free(addr as usize)));
    }
}

/// Whether heap sampling is on (so `fork()` settles the synchronous unwinder
/// first, see `crate::fork`).
pub(crate) fn sampling() -> bool {
    super::sampler::rate() > 0
}

/// Before `fork()` (see `crate::fork`): the sample table, then the arena.
pub(crate) fn fork_prepare() {
    TABLE.lock();
    arena::fork_prepare();
}

/// After `fork()`, in parent and child.
pub(crate) fn fork_release() {
    arena::fork_release();
    TABLE.unlock();
}
