//! Stacks of sonde's own for the table walk. Evaluating DWARF unwind rules
//! keeps gimli's register-rule tables on the stack: measured on x86_64, a
//! signal handler that walks with the tables used 15.7 KB of the interrupted
//! thread's stack in a release build and 41 KB in a debug build, so a thread
//! with a small stack (`std::thread::Builder::stack_size(16 * 1024)`) that was
//! sampled in the wrong place overflowed it and the program died. The walk
//! runs instead on a stack of its own, one per walk that may run at once
//! (each unwind cache has one), mapped before profiling starts with a guard
//! page below; only the signal frame and a few small frames stay on the
//! thread's stack. A signal that interrupts a walk on such a stack is not
//! walked from there ([`contains`]; the walk would climb off the stack): its
//! sample is its leaf.
//!
//! [`run_on`] switches the stack pointer with a few instructions of inline
//! assembly (x86_64 and aarch64), calls the closure and switches back; it
//! allocates nothing and is signal-safe. No library is used for it: `psm`
//! (stacker's) does the same with assembly that needs a C compiler to build.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Stacks of sonde's own: one anonymous mapping of `n` stacks, each with a
/// guard page below it.
pub(crate) struct WalkStacks {
    base: *mut libc::c_void,
    /// The mapping's size in bytes.
    bytes: usize,
    n: usize,
    /// Where its range is in [`RANGES`].
    entry: usize,
}

// SAFETY: the mapping is plain memory; each stack is only used by the holder
// of the cache slot it belongs to (see `tables::CachePool`).
unsafe impl Send for WalkStacks {}
// SAFETY: as above.
unsafe impl Sync for WalkStacks {}

/// The size of a walk stack, guard page excluded: the most a walk was seen to
/// use (41 KB, debug build, handler included) three times over.
pub(crate) const WALK_STACK: usize = 128 << 10;

/// The address ranges of every mapping of walk stacks, `[start, end)` (0 when
/// free), so that a signal handler can tell that it interrupted a walk
/// ([`contains`]): another walk from there would climb off the walk stack.
static RANGES: [(AtomicUsize, AtomicUsize); 32] = [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; 32];

impl WalkStacks {
    /// Maps `n` stacks of [`WALK_STACK`] bytes (reserved, not committed: pages
    /// are touched only as walks use them). Fails if the mapping fails, or if
    /// more than 32 sets of stacks are in use at once.
    pub(crate) fn new(n: usize) -> io::Result<WalkStacks> {
        let page = page_size();
        let len = n * (page + WALK_STACK);
        // SAFETY: an anonymous private mapping at an address the kernel picks;
        // it is checked for failure and unmapped in Drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let Some(entry) = RANGES.iter().position(|(start, _)| {
            start
                .compare_exchange(0, base as usize, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        }) else {
            // SAFETY: the mapping just made, used by nothing.
            unsafe { libc::munmap(base, len) };
            return Err(io::Error::other("more than 32 sets of walk stacks"));
        };
        RANGES[entry].1.store(base as usize + len, Ordering::SeqCst);
        let stacks = WalkStacks {
            base,
            bytes: len,
            n,
            entry,
        };
        for i in 0..n {
            // SAFETY: the lowest page of stack `i`, inside the mapping just made.
            if unsafe {
                libc::mprotect(
                    base.cast::<u8>().add(i * (page + WALK_STACK)).cast(),
                    page,
                    libc::PROT_NONE,
                )
            } != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(stacks)
    }

    /// How many stacks there are.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// The highest address (exclusive, 16-byte aligned) of stack `i`, which
    /// must be below [`len`](Self::len).
    pub(crate) fn top(&self, i: usize) -> *mut u8 {
        self.base
            .cast::<u8>()
            .wrapping_add((i + 1) * (page_size() + WALK_STACK))
    }

    /// How many bytes of stack `i` walks have touched so far (for tests: the
    /// mapping starts zeroed, and every frame writes at least its return
    /// address).
    #[cfg(test)]
    pub(crate) fn used(&self, i: usize) -> usize {
        let top = self.top(i) as usize;
        let mut a = top - WALK_STACK;
        while a < top {
            // SAFETY: an aligned address inside stack `i`, above its guard.
            if unsafe { std::ptr::read_volatile(a as *const u64) } != 0 {
                return top - a;
            }
            a += 8;
        }
        0
    }
}

impl Drop for WalkStacks {
    fn drop(&mut self) {
        let (start, end) = &RANGES[self.entry];
        end.store(0, Ordering::SeqCst);
        start.store(0, Ordering::SeqCst);
        // SAFETY: the mapping made in `new`, no longer in use (its cache pool
        // is dropped with it, after the walks that used it).
        unsafe { libc::munmap(self.base, self.bytes) };
    }
}

/// Whether `addr` lies in a mapping of walk stacks. Signal-safe.
pub(crate) fn contains(addr: u64) -> bool {
    let addr = addr as usize;
    RANGES.iter().any(|(start, end)| {
        let s = start.load(Ordering::SeqCst);
        s != 0 && addr >= s && addr < end.load(Ordering::SeqCst)
    })
}

fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the system.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

/// Calls `f` with the stack pointer at `top` (16-byte aligned, the top of a
/// stack nothing else uses), and returns on the original stack. Signal-safe.
///
/// # Safety
/// `top` must be the top of a mapped, writable stack large enough for `f`,
/// used by nothing else while `f` runs. `f` must not unwind (a panic aborts:
/// the trampoline is `extern "C"`).
#[inline(never)]
pub(crate) unsafe fn run_on(top: *mut u8, f: &mut dyn FnMut()) {
    let mut f = f;
    let data = &mut f as *mut &mut dyn FnMut() as *mut u8;
    // SAFETY: the original stack pointer is kept in a callee-saved register
    // (r12 / x20) that the trampoline, an `extern "C"` function, preserves;
    // the call is made with the new stack 16-byte aligned, as the C ABI
    // wants; every register the C ABI lets a call clobber is declared
    // clobbered. The trampoline only reads `data`, which outlives the call.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!(
            "mov r12, rsp",
            "mov rsp, {top}",
            "call {tramp}",
            "mov rsp, r12",
            top = in(reg) top,
            tramp = sym trampoline,
            in("rdi") data,
            out("r12") _,
            clobber_abi("C"),
        );
    }
    // SAFETY: as above.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!(
            "mov x20, sp",
            "mov sp, {top}",
            "blr {tramp}",
            "mov sp, x20",
            top = in(reg) top,
            tramp = in(reg) trampoline as usize,
            in("x0") data,
            out("x20") _,
            clobber_abi("C"),
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = (top, data);
        f();
    }
}

/// Called on the new stack with a pointer to the closure reference.
extern "C" fn trampoline(data: *mut u8) {
    // SAFETY: `data` points to the `&mut dyn FnMut()` on `run_on`'s frame,
    // which waits for this call to return.
    let f = unsafe { &mut *(data as *mut &mut dyn FnMut()) };
    f();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_on_its_own_stack_and_comes_back() {
        let stacks = WalkStacks::new(2).expect("map walk stacks");
        let mut seen = 0usize;
        let mut f = || {
            let local = 0u8;
            seen = std::hint::black_box(&local) as *const u8 as usize;
        };
        // SAFETY: a fresh stack used by nothing else; the closure cannot panic.
        unsafe { run_on(stacks.top(1), &mut f) };
        let top = stacks.top(1) as usize;
        assert!(
            seen < top && seen > top - WALK_STACK,
            "the closure ran on the walk stack"
        );
        assert!(stacks.used(1) > 0 && stacks.used(1) < 4096, "{} bytes", stacks.used(1));
        assert_eq!(stacks.used(0), 0);
        assert!(contains(seen as u64));
        let local = 0u8;
        assert!(!contains(&local as *const u8 as u64));
        drop(stacks);
        assert!(!contains(seen as u64), "a dropped set leaves the table");
    }
}
