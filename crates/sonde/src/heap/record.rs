//! Recording sampled blocks: the allocation's stack, captured with the shared
//! unwinder, into the table of samples; and their frees.

use std::sync::OnceLock;
use std::sync::atomic::Ordering::Relaxed;

use super::arena;
use super::sampler::HOT;
use super::table::TABLE;
use crate::alloc::{self, Local, busy};
use crate::unwind::{self, UnwindState, Unwinding};

/// How deep a heap sample's stack may be.
const MAX_DEPTH: usize = 64;

/// The unwinder the heap profiler uses, prepared on first use and kept.
fn unwinder() -> Option<&'static UnwindState> {
    static STATE: OnceLock<Option<UnwindState>> = OnceLock::new();
    STATE.get_or_init(|| unwind::prepare(Unwinding::Auto, 16).ok()).as_ref()
}

/// Records a block with the stack of the allocation. The profiler's own memory
/// (the table's growth) is neither sampled nor counted.
#[cold]
#[inline(never)]
pub(crate) fn record(addr: *mut u8, size: u64, rate: u64) {
    busy(true, || alloc::with_local(|l| record_stack(l, addr, size, rate)));
}

fn record_stack(l: &Local, addr: *mut u8, size: u64, rate: u64) {
    let mut frames = [0u64; MAX_DEPTH];
    let mut end = l.stack_end.get();
    if end == 0 {
        end = unwind::current_stack_end().unwrap_or(0);
        l.stack_end.set(end);
    }
    let n = match unwinder() {
        Some(st) if end != 0 => {
            let regs = unwind::current_registers();
            unwind::capture_bounded(st, &regs, end, &mut frames)
        }
        _ => 0,
    };
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

/// Before `fork()`, before any lock is taken (see `crate::fork`): while heap
/// sampling is on, the unwinder is prepared now, or its preparation by another
/// thread is waited for, so that a child never inherits it half-prepared (its
/// `OnceLock` would wait forever for a thread that does not exist there).
/// Quiet, as in `record`: its memory is the profiler's.
pub(crate) fn fork_settle() {
    if super::sampler::rate() > 0 {
        busy(true, || {
            let _ = unwinder();
        });
    }
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
