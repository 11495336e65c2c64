//! Where sampled small blocks live: one reserved range of address space, so that
//! a free is recognized as a sampled block's by comparing its address with the
//! range (no lookup, no memory access), and everything else goes straight to the
//! wrapped allocator.
//!
//! Sampled blocks are rare (one per 512 KiB allocated by default), so the arena is
//! simple: power-of-two size classes from 16 bytes to 512 KiB, carved from a bump
//! pointer, recycled through per-class free lists, behind a spin lock.

use std::sync::atomic::{AtomicBool, Ordering};

use super::sampler::HOT;

/// Reserved address space (not memory: pages are committed as they are used).
const LEN: usize = 16 << 30;
const MIN_SHIFT: u32 = 4;
const MAX_SHIFT: u32 = 19;
const CLASSES: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;
/// Until the arena exists, no address is in range (the start is at the top of the
/// address space, where user memory never is).
pub(crate) const UNSET: usize = usize::MAX - LEN;
// The range's start is `HOT.arena`, with the other values every free reads.
static LOCK: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicBool = AtomicBool::new(false);

struct State {
    next: usize,
    free: [usize; CLASSES],
}

static mut STATE: State = State {
    next: 0,
    free: [0; CLASSES],
};

/// Whether `addr` is a block of the arena. One load and a comparison.
#[inline(always)]
pub(crate) fn contains(addr: *mut u8) -> bool {
    (addr as usize).wrapping_sub(HOT.arena.load(Ordering::Relaxed)) < LEN
}

/// The largest block the arena serves.
pub(crate) const MAX_BLOCK: usize = 1 << MAX_SHIFT;

fn class_of(size: usize, align: usize) -> Option<usize> {
    let need = size.max(align).max(1 << MIN_SHIFT).next_power_of_two();
    let shift = need.trailing_zeros();
    (shift <= MAX_SHIFT).then(|| (shift - MIN_SHIFT) as usize)
}

fn with_lock<T>(f: impl FnOnce(&mut State) -> T) -> T {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    // SAFETY: STATE is only accessed while LOCK is held.
    let r = f(unsafe { &mut *std::ptr::addr_of_mut!(STATE) });
    LOCK.store(false, Ordering::Release);
    r
}

/// Takes the lock before `fork()` (see `crate::fork`).
pub(crate) fn fork_prepare() {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
}

/// Gives the lock back after `fork()`, in parent and child.
pub(crate) fn fork_release() {
    LOCK.store(false, Ordering::Release);
}

fn start() -> Option<usize> {
    let s = HOT.arena.load(Ordering::Acquire);
    if s != UNSET {
        return Some(s);
    }
    if FAILED.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: reserves fresh anonymous memory; nothing else refers to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        FAILED.store(true, Ordering::Relaxed);
        return None;
    }
    HOT.arena.store(p as usize, Ordering::Release);
    Some(p as usize)
}

/// A block of at least `size` bytes aligned to `align`, or null if the arena
/// cannot serve it (the caller then uses the wrapped allocator, unsampled).
pub(crate) fn alloc(size: usize, align: usize, zeroed: bool) -> *mut u8 {
    let Some(class) = class_of(size, align) else {
        return std::ptr::null_mut();
    };
    let block = 1usize << (class as u32 + MIN_SHIFT);
    let p = with_lock(|st| {
        let Some(base) = start() else { return 0 };
        if st.next == 0 {
            st.next = base;
        }
        let head = st.free[class];
        if head != 0 {
            // SAFETY: a free block's first word holds the next free block.
            st.free[class] = unsafe { *(head as *const usize) };
            return head;
        }
        // Blocks are aligned to their size (a power of two).
        let p = (st.next + block - 1) & !(block - 1);
        if p + block > base + LEN {
            return 0;
        }
        st.next = p + block;
        p
    });
    if p != 0 && zeroed {
        // SAFETY: the block is ours and `block` bytes long.
        unsafe { std::ptr::write_bytes(p as *mut u8, 0, block) };
    }
    p as *mut u8
}

/// Returns a block of the arena.
///
/// # Safety
/// `p` must come from [`alloc`] with the same `size` and `align` and not be
/// returned yet.
pub(crate) unsafe fn free(p: *mut u8, size: usize, align: usize) {
    let Some(class) = class_of(size, align) else { return };
    with_lock(|st| {
        // SAFETY: the block is free and at least 16 bytes; its first word links it.
        unsafe { *(p as *mut usize) = st.free[class] };
        st.free[class] = p as usize;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_recycled_and_recognized() {
        assert!(!contains(0x1000 as *mut u8));
        let a = alloc(100, 8, false);
        assert!(!a.is_null() && contains(a));
        assert_eq!(a as usize % 128, 0);
        let b = alloc(5000, 4096, true);
        assert_eq!(b as usize % 8192, 0);
        // SAFETY: b is a zeroed 8 KiB block of ours.
        assert!(unsafe { std::slice::from_raw_parts(b, 5000) }.iter().all(|&x| x == 0));
        // SAFETY: both came from alloc with these arguments.
        unsafe {
            free(a, 100, 8);
            free(b, 5000, 4096);
        }
        assert_eq!(alloc(120, 16, false), a, "a freed block of the class is reused");
        assert!(alloc(MAX_BLOCK + 1, 8, false).is_null(), "too large for the arena");
        let stack_var = 0u8;
        assert!(!contains(&stack_var as *const u8 as *mut u8));
    }
}
