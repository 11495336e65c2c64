//! The allocator wrapper: counts every request, lets the sampler pick the few it
//! records, and passes everything else straight to the wrapped allocator.
//!
//! The common paths are inlined into `__rust_alloc` and `__rust_dealloc`: an
//! allocation that is not sampled is a thread-local countdown and two counter
//! increments before the wrapped allocator's call; a
//! free is the counter increments and two comparisons (arena range, smallest
//! exactly recorded size). Everything else is out of line.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::Ordering::Relaxed;

use super::arena;
use super::sampler::{self, Decision, HOT};
use crate::alloc;

/// A global allocator that counts every allocation and samples some of them
/// with their stacks, wrapping any other allocator (`System`, mimalloc,
/// jemalloc, ...).
///
/// ```
/// use std::alloc::System;
///
/// #[global_allocator]
/// static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);
/// ```
pub struct Sampled<A> {
    inner: A,
}

impl<A> Sampled<A> {
    /// Wraps `inner`.
    pub const fn new(inner: A) -> Self {
        Sampled { inner }
    }
}

impl<A: GlobalAlloc> Sampled<A> {
    /// # Safety
    /// As [`GlobalAlloc::alloc`].
    #[inline(always)]
    unsafe fn inner_alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe {
            if zeroed {
                self.inner.alloc_zeroed(layout)
            } else {
                self.inner.alloc(layout)
            }
        }
    }

    /// The common case inline, the rest out of line.
    #[inline(always)]
    unsafe fn allocate(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        let size = layout.size();
        // SAFETY: this thread's block, used only during this call (see `local`).
        let l = unsafe { &*alloc::local() };
        if sampler::unsampled(l, size) {
            // Counted first, so that the wrapped allocator's call is nearly the
            // last thing done; taken back in the (out of memory) case it fails.
            l.count_alloc_own(size);
            // SAFETY: the caller's guarantees are passed on.
            let p = unsafe { self.inner_alloc(layout, zeroed) };
            if p.is_null() {
                l.uncount_alloc(size);
            }
            return p;
        }
        // SAFETY: the caller's guarantees are passed on.
        unsafe { self.allocate_slow(layout, zeroed) }
    }

    /// An allocation at a sample point, or large enough to be recorded exactly.
    #[inline(never)]
    unsafe fn allocate_slow(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: as in `allocate`.
        let l = unsafe { &*alloc::local() };
        let decision = sampler::decide(l, layout.size());
        // SAFETY: the caller's guarantees are passed on.
        unsafe { self.serve(l, decision, layout, zeroed) }
    }

    /// Serves and counts an allocation as `decision` says.
    unsafe fn serve(&self, l: &alloc::Local, decision: Decision, layout: Layout, zeroed: bool) -> *mut u8 {
        let size = layout.size();
        let p = match decision {
            // SAFETY (all three): the caller's guarantees are passed on.
            Decision::Plain => unsafe { self.inner_alloc(layout, zeroed) },
            Decision::Sampled(rate) => {
                let p = arena::alloc(size, layout.align(), zeroed);
                if p.is_null() {
                    unsafe { self.inner_alloc(layout, zeroed) }
                } else {
                    sampler::record(p, size as u64, rate);
                    p
                }
            }
            Decision::Exact => {
                let p = unsafe { self.inner_alloc(layout, zeroed) };
                if !p.is_null() {
                    sampler::record(p, size as u64, 0);
                }
                p
            }
        };
        if !p.is_null() {
            l.count_alloc(size);
        }
        p
    }

    /// The free of a block that may be recorded, or by a thread that does not
    /// count into its own block.
    #[inline(never)]
    unsafe fn dealloc_slow(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `allocate`.
        let l = unsafe { &*alloc::local() };
        l.count_free(layout.size());
        if !Self::maybe_recorded(ptr, layout.size()) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { self.inner.dealloc(ptr, layout) };
        }
        // Before the block goes back, so that its address cannot be recorded
        // again first.
        sampler::recorded_free(l, ptr);
        if arena::contains(ptr) {
            // SAFETY: the arena served this block with this layout.
            unsafe { arena::free(ptr, layout.size(), layout.align()) };
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { self.inner.dealloc(ptr, layout) }
        }
    }

    /// Whether a block may be recorded: served by the arena, or as large as the
    /// smallest exactly recorded one.
    #[inline(always)]
    fn maybe_recorded(ptr: *mut u8, size: usize) -> bool {
        arena::contains(ptr) || size >= HOT.large_min.load(Relaxed)
    }
}

// SAFETY: requests are served by the inner allocator, except the rare sampled
// small blocks, which the arena serves with the requested size and alignment; a
// block is always returned to whichever served it (the arena's blocks are told
// apart by address). The bookkeeping never recurses into sampling (it marks the
// thread as busy first).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Sampled<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees are passed on.
        unsafe { self.allocate(layout, false) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees are passed on.
        unsafe { self.allocate(layout, true) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `allocate`.
        let l = unsafe { &*alloc::local() };
        if !l.own() || Self::maybe_recorded(ptr, layout.size()) {
            // SAFETY: the caller's guarantees are passed on.
            return unsafe { self.dealloc_slow(ptr, layout) };
        }
        l.count_free_own(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `allocate`.
        let l = unsafe { &*alloc::local() };
        if !Self::maybe_recorded(ptr, layout.size()) && sampler::unsampled(l, new_size) {
            // SAFETY: forwarded with the caller's guarantees.
            let q = unsafe { self.inner.realloc(ptr, layout, new_size) };
            if !q.is_null() {
                l.count_free_own(layout.size());
                l.count_alloc_own(new_size);
            }
            return q;
        }
        // SAFETY: the caller's guarantees are passed on.
        unsafe { self.realloc_slow(ptr, layout, new_size) }
    }
}

impl<A: GlobalAlloc> Sampled<A> {
    /// A reallocation of a block that may be recorded, or to a size that reaches
    /// a sample point or the exact size.
    #[inline(never)]
    unsafe fn realloc_slow(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `allocate`.
        let l = unsafe { &*alloc::local() };
        let decision = sampler::decide(l, new_size);
        if arena::contains(ptr) || matches!(decision, Decision::Sampled(_)) {
            // The arena serves one side: allocate, copy and free.
            // SAFETY: same alignment; the caller guarantees `new_size` is valid for it.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: the caller's guarantees are passed on.
            let q = unsafe { self.serve(l, decision, new_layout, false) };
            if !q.is_null() {
                // SAFETY: both blocks are valid for the copied length and distinct.
                unsafe {
                    std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            return q;
        }
        // The wrapped allocator serves both sides, in place where it can. The old
        // block's record goes first (once it is released, its address may be
        // recorded again by another thread); if the reallocation fails (out of
        // memory), the old block stays, unrecorded.
        if layout.size() >= HOT.large_min.load(Relaxed) {
            sampler::recorded_free(l, ptr);
        }
        // SAFETY: forwarded with the caller's guarantees.
        let q = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !q.is_null() {
            if matches!(decision, Decision::Exact) {
                sampler::record(q, new_size as u64, 0);
            }
            l.count_free(layout.size());
            l.count_alloc(new_size);
        }
        q
    }
}
