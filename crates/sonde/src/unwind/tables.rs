//! Unwinding with the binaries' own unwind tables (DWARF CFI in `.eh_frame`), so
//! that stacks are complete in programs built without frame pointers (the default
//! for `cargo build --release`). Uses framehop with `MustNotAllocateDuringUnwind`:
//! the tables are registered and the caches allocated before profiling starts, and
//! the walk itself allocates nothing and reads stack memory only through a
//! bounds-checked callback.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

use framehop::{
    CacheNative, ExplicitModuleSectionInfo, Module, MustNotAllocateDuringUnwind, UnwindRegsNative, Unwinder,
    UnwinderNative,
};

use super::Registers;
use super::modules::LoadedModule;
use super::walkstack::{self, WalkStacks};

/// The unwinder over the loaded modules' tables.
pub(crate) type TableUnwinder = UnwinderNative<&'static [u8], MustNotAllocateDuringUnwind>;
type TableCache = CacheNative<MustNotAllocateDuringUnwind>;

/// Builds an unwinder for `modules` from the unwind tables in their memory.
pub(crate) fn build(modules: &[LoadedModule]) -> TableUnwinder {
    let mut unwinder = TableUnwinder::new();
    for m in modules {
        let (Some(hdr), Some(eh)) = (&m.eh_frame_hdr, &m.eh_frame) else {
            continue;
        };
        // SAFETY: both ranges lie in loaded, read-only segments of a module that
        // stays mapped while it is loaded; the slices are only read, and the
        // unwinder holding them is dropped at the end of the profile (modules
        // unloaded with dlclose while profiling are a documented limitation).
        let (hdr_bytes, eh_bytes): (&'static [u8], &'static [u8]) = unsafe {
            (
                std::slice::from_raw_parts(hdr.start as *const u8, (hdr.end - hdr.start) as usize),
                std::slice::from_raw_parts(eh.start as *const u8, (eh.end - eh.start) as usize),
            )
        };
        let svma = |r: &std::ops::Range<u64>| (r.start - m.bias)..(r.end - m.bias);
        let info = ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: Some(svma(&m.text)),
            eh_frame_svma: Some(svma(eh)),
            eh_frame: Some(eh_bytes),
            eh_frame_hdr_svma: Some(svma(hdr)),
            eh_frame_hdr: Some(hdr_bytes),
            ..Default::default()
        };
        unwinder.add_module(Module::new(m.path.clone(), m.text.clone(), m.bias, info));
    }
    unwinder
}

/// Caches for concurrent walks: one per signal handler running at once (at most
/// one per CPU, since a thread's handler is not re-entered for the same signal),
/// each with a stack of its own for the walk (see `walkstack`).
pub(crate) struct CachePool {
    slots: Box<[CacheSlot]>,
    /// One per slot; `None` when they could not be mapped: walks then run on
    /// the caller's stack.
    stacks: Option<WalkStacks>,
}

struct CacheSlot {
    busy: AtomicBool,
    cache: UnsafeCell<TableCache>,
}

// SAFETY: a slot's cache is only touched by the holder of its `busy` flag, which is
// taken with an acquire compare-exchange and released with a release store.
unsafe impl Sync for CachePool {}

impl CachePool {
    /// Allocates `n` caches (outside any signal handler).
    pub(crate) fn new(n: usize) -> CachePool {
        let n = n.max(1);
        CachePool {
            slots: (0..n)
                .map(|_| CacheSlot {
                    busy: AtomicBool::new(false),
                    cache: UnsafeCell::new(TableCache::new_in()),
                })
                .collect(),
            stacks: WalkStacks::new(n).ok(),
        }
    }

    /// Runs `f` with a free cache on its slot's stack, or returns `None` if all
    /// are in use. `f` must not panic. Signal-safe.
    #[inline]
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut TableCache) -> T) -> Option<T> {
        for (i, slot) in self.slots.iter().enumerate() {
            if slot
                .busy
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: holding `busy` gives exclusive access to this slot's cache.
                let cache = unsafe { &mut *slot.cache.get() };
                let r = match self.stacks.as_ref().filter(|s| i < s.len()) {
                    Some(stacks) => {
                        let (mut f, mut r) = (Some(f), None);
                        let mut call = || r = f.take().map(|f| f(&mut *cache));
                        // SAFETY: holding `busy` gives exclusive use of this
                        // slot's stack; the walk does not panic.
                        unsafe { walkstack::run_on(stacks.top(i), &mut call) };
                        r
                    }
                    None => Some(f(cache)),
                };
                slot.busy.store(false, Ordering::Release);
                return r;
            }
        }
        None
    }

    /// The most any slot's stack has been used so far, in bytes (for tests).
    #[cfg(test)]
    pub(crate) fn stack_used(&self) -> usize {
        self.stacks
            .as_ref()
            .map_or(0, |s| (0..s.len()).map(|i| s.used(i)).max().unwrap_or(0))
    }
}

/// Walks the stack with the unwind tables, writing the pc and then return
/// addresses into `out`. Returns the number of frames. Signal-safe.
#[inline]
pub(crate) fn walk(
    unwinder: &TableUnwinder,
    cache: &mut TableCache,
    regs: &Registers,
    stack_end: u64,
    out: &mut [u64],
) -> usize {
    let low = regs.sp;
    let mut read_stack = |addr: u64| -> Result<u64, ()> {
        if addr < low || addr % 8 != 0 || addr.checked_add(8).is_none_or(|e| e > stack_end) {
            return Err(());
        }
        // SAFETY: `addr` is aligned and lies between the interrupted stack pointer
        // and the end of the current thread's stack mapping, which is mapped and
        // readable while this thread runs.
        Ok(unsafe { std::ptr::read_volatile(addr as *const u64) })
    };
    #[cfg(target_arch = "x86_64")]
    let uregs = UnwindRegsNative::new(regs.pc, regs.sp, regs.fp);
    #[cfg(target_arch = "aarch64")]
    let uregs = UnwindRegsNative::new(regs.lr, regs.sp, regs.fp);
    let mut iter = unwinder.iter_frames(regs.pc, uregs, cache, &mut read_stack);
    let mut n = 0;
    while let Ok(Some(frame)) = iter.next() {
        match out.get_mut(n) {
            Some(slot) => *slot = frame.address(),
            None => break,
        }
        n += 1;
    }
    n
}
