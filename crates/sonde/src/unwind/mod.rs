//! The one stack unwinder every collector shares.
//!
//! Collectors call [`capture`] from a signal handler (or any other context) with
//! the interrupted registers; it writes the pc and the return addresses of the
//! callers into a caller-provided buffer. Everything it needs (memory map snapshot,
//! unwind tables, caches) is prepared beforehand by [`prepare`] and published with
//! an atomic pointer, so the walk itself allocates nothing, takes no lock and only
//! reads stack memory of the current thread.
//!
//! Two walks exist: unwind tables (`.eh_frame`, complete in any build) and frame
//! pointers (fast, complete when the program is built with
//! `-C force-frame-pointers=yes`). [`Unwinding::Auto`] uses frame pointers when this
//! build keeps them (with the tables for the interrupted frame, so a leaf that has
//! not set up its frame still has its caller) and the tables otherwise.

pub(crate) mod fp;
pub(crate) mod maps;
pub(crate) mod modules;
pub(crate) mod tables;
pub(crate) mod walkstack;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use framehop::{FrameAddress, UnwindRegsNative, Unwinder};

use maps::Regions;
use modules::LoadedModule;
use tables::{CachePool, TableUnwinder};

/// How stacks are walked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unwinding {
    /// Frame pointers when this build keeps them, unwind tables otherwise.
    #[default]
    Auto,
    /// Follow frame pointers only (fastest; loses frames of code built without them).
    FramePointers,
    /// Use the binaries' DWARF unwind tables (complete in any build).
    Tables,
}

/// The interrupted registers a walk starts from.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Registers {
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub lr: u64,
}

impl Registers {
    /// Reads the registers saved in a signal handler's `ucontext_t`.
    ///
    /// # Safety
    /// `uc` must point to the `ucontext_t` the kernel passed to an `SA_SIGINFO` handler.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    pub(crate) unsafe fn from_ucontext(uc: *const libc::c_void) -> Registers {
        // SAFETY: the caller guarantees `uc` is a valid ucontext_t.
        let g = unsafe { &(*(uc as *const libc::ucontext_t)).uc_mcontext.gregs };
        Registers {
            pc: g[libc::REG_RIP as usize] as u64,
            sp: g[libc::REG_RSP as usize] as u64,
            fp: g[libc::REG_RBP as usize] as u64,
            lr: 0,
        }
    }

    /// Reads the registers saved in a signal handler's `ucontext_t`.
    ///
    /// # Safety
    /// `uc` must point to the `ucontext_t` the kernel passed to an `SA_SIGINFO` handler.
    #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
    pub(crate) unsafe fn from_ucontext(uc: *const libc::c_void) -> Registers {
        // SAFETY: the caller guarantees `uc` is a valid ucontext_t.
        let m = unsafe { &(*(uc as *const libc::ucontext_t)).uc_mcontext };
        Registers {
            pc: m.pc,
            sp: m.sp,
            fp: m.regs[29],
            lr: m.regs[30],
        }
    }
}

/// Which walk a prepared state uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Walk {
    FramePointers,
    /// Frame pointers after unwinding the interrupted frame with the tables.
    FramePointersTablesLeaf,
    Tables,
}

/// What a walk needs, prepared outside the signal handler.
pub(crate) struct UnwindState {
    /// The memory map snapshot; replaced when threads come and go.
    regions: AtomicPtr<Regions>,
    pub tables: TableUnwinder,
    pub caches: CachePool,
    pub modules: Vec<LoadedModule>,
    pub walk: Walk,
}

static STATE: AtomicPtr<UnwindState> = AtomicPtr::new(std::ptr::null_mut());
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Marks the start of code that may read the published state (a signal handler).
/// Pair with [`leave`]. Signal-safe.
#[inline]
pub(crate) fn enter() {
    ACTIVE.fetch_add(1, Ordering::SeqCst);
}

/// Runs `body` as a signal handler's: the interrupted code's errno saved and
/// restored, between [`enter`] and [`leave`]. Signal-safe.
#[inline(always)]
pub(crate) fn in_handler(body: impl FnOnce()) {
    // SAFETY: __errno_location returns this thread's errno; saving and restoring
    // it keeps the interrupted code's errno intact.
    let errno = unsafe { *libc::__errno_location() };
    enter();
    body();
    leave();
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Marks the end of such code. Signal-safe.
#[inline]
pub(crate) fn leave() {
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
}

/// Builds the state for `mode` from the current process (modules, maps).
pub(crate) fn prepare(mode: Unwinding, concurrency: usize) -> std::io::Result<UnwindState> {
    let modules = modules::loaded_modules();
    let regions = Regions::snapshot()?;
    let tables = tables::build(&modules);
    let walk = match mode {
        Unwinding::FramePointers => Walk::FramePointers,
        Unwinding::Tables => Walk::Tables,
        Unwinding::Auto if build_keeps_frame_pointers(&regions) => Walk::FramePointersTablesLeaf,
        Unwinding::Auto => Walk::Tables,
    };
    Ok(UnwindState {
        regions: AtomicPtr::new(Box::into_raw(Box::new(regions))),
        tables,
        caches: CachePool::new(concurrency),
        modules,
        walk,
    })
}

impl Drop for UnwindState {
    fn drop(&mut self) {
        let p = *self.regions.get_mut();
        if !p.is_null() {
            // SAFETY: the pointer came from Box::into_raw and is owned by this state.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// Whether no code is reading published state right now. Anything unpublished
/// before a `true` answer can be freed.
pub(crate) fn quiescent() -> bool {
    ACTIVE.load(Ordering::SeqCst) == 0
}

/// Takes a new memory map snapshot into the published state and returns the old
/// one, to be freed once [`quiescent`]. Call from one thread at a time.
pub(crate) fn refresh_regions() -> Option<Box<Regions>> {
    with_state(|s| s.and_then(UnwindState::refresh))
}

impl UnwindState {
    /// Takes a new memory map snapshot into this state and returns the old
    /// one, to be freed once [`quiescent`] (handlers may still read it). Call
    /// from one thread at a time.
    pub(crate) fn refresh(&self) -> Option<Box<Regions>> {
        let fresh = Box::into_raw(Box::new(Regions::snapshot().ok()?));
        let old = self.regions.swap(fresh, Ordering::SeqCst);
        // SAFETY: the old pointer came from Box::into_raw and was just unpublished.
        (!old.is_null()).then(|| unsafe { Box::from_raw(old) })
    }
}

/// Publishes `state` for [`capture`] and returns the previous one, which the caller
/// must pass to [`retire`].
pub(crate) fn publish(state: Option<Box<UnwindState>>) -> Option<Box<UnwindState>> {
    let new = state.map_or(std::ptr::null_mut(), Box::into_raw);
    let old = STATE.swap(new, Ordering::SeqCst);
    // SAFETY: every non-null pointer in STATE came from Box::into_raw above and is
    // swapped out exactly once.
    (!old.is_null()).then(|| unsafe { Box::from_raw(old) })
}

/// Waits until no handler can still be reading a state that was unpublished before
/// this call, then drops `old`. Gives up after `timeout` and returns the state
/// back so that the caller can try again later.
pub(crate) fn retire(old: Box<UnwindState>, timeout: Duration) -> Option<Box<UnwindState>> {
    let deadline = Instant::now() + timeout;
    loop {
        if ACTIVE.load(Ordering::SeqCst) == 0 {
            drop(old);
            return None;
        }
        if Instant::now() >= deadline {
            return Some(old);
        }
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Runs `f` with the published state, if any (outside signal handlers).
pub(crate) fn with_state<T>(f: impl FnOnce(Option<&UnwindState>) -> T) -> T {
    enter();
    let p = STATE.load(Ordering::SeqCst);
    // SAFETY: a published state is only freed by `retire` once ACTIVE is zero, and
    // `enter` above keeps it non-zero until `leave`.
    let r = f((!p.is_null()).then(|| unsafe { &*p }));
    leave();
    r
}

/// Writes the pc and the return addresses of the interrupted stack into `out`,
/// returning the number of frames. Must be called between [`enter`] and
/// [`leave`]. Signal-safe: no allocation, no lock, bounded reads.
#[inline]
pub(crate) fn capture(regs: &Registers, out: &mut [u64]) -> usize {
    let p = STATE.load(Ordering::SeqCst);
    if p.is_null() {
        return leaf_only(regs, out);
    }
    // SAFETY: see `with_state`; the caller is between `enter` and `leave`.
    let st = unsafe { &*p };
    capture_with(st, regs, out)
}

/// [`capture`] with an explicit state (benchmarks and tests call it directly).
#[inline]
pub(crate) fn capture_with(st: &UnwindState, regs: &Registers, out: &mut [u64]) -> usize {
    let regions = st.regions.load(Ordering::SeqCst);
    // A signal that interrupted a walk on sonde's own stack: a walk from there
    // would climb off that stack.
    if regions.is_null() || walkstack::contains(regs.sp) {
        return leaf_only(regs, out);
    }
    // SAFETY: regions are freed only after being unpublished and a quiescent
    // moment, and the caller is between `enter` and `leave`.
    let regions = unsafe { &*regions };
    let Some(end) = regions
        .stack_end(regs.sp)
        .or_else(|| regions.new_thread_stack_end(regs.sp))
    else {
        return leaf_only(regs, out);
    };
    match st.walk {
        Walk::FramePointers => fp::walk(regs, end, out),
        Walk::Tables => st
            .caches
            .with(|c| tables::walk(&st.tables, c, regs, end, out))
            .unwrap_or_else(|| fp::walk(regs, end, out)),
        Walk::FramePointersTablesLeaf => {
            let leaf = st.caches.with(|c| unwind_leaf(&st.tables, c, regs, end));
            match (leaf, out.first_mut()) {
                (Some(Some((ret, caller))), Some(first)) => {
                    *first = regs.pc;
                    match out.get_mut(1..) {
                        Some(rest) if !rest.is_empty() => {
                            // The caller's frame starts at its return address.
                            let caller_regs = Registers { pc: ret, ..caller };
                            1 + fp::walk(&caller_regs, end, rest)
                        }
                        _ => 1,
                    }
                }
                _ => fp::walk(regs, end, out),
            }
        }
    }
}

/// The registers of the caller, for walking the current stack synchronously (the
/// heap profiler samples inside the allocator, not in a signal handler).
#[inline(always)]
pub(crate) fn current_registers() -> Registers {
    let (pc, sp, fp): (u64, u64, u64);
    // SAFETY: reads the instruction pointer, stack pointer and frame pointer at the
    // same instruction; no memory is touched.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!(
            "lea {pc}, [rip]",
            "mov {sp}, rsp",
            "mov {fp}, rbp",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            options(nomem, nostack, preserves_flags)
        );
        Registers { pc, sp, fp, lr: 0 }
    }
    // SAFETY: as above; lr is read too.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        let lr: u64;
        std::arch::asm!(
            "adr {pc}, .",
            "mov {sp}, sp",
            "mov {fp}, x29",
            "mov {lr}, x30",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            lr = out(reg) lr,
            options(nomem, nostack, preserves_flags)
        );
        Registers { pc, sp, fp, lr }
    }
}

/// The end (highest address) of the calling thread's stack, from pthread. Not
/// signal-safe (it may read `/proc/self/maps` and allocate for the main thread).
pub(crate) fn current_stack_end() -> Option<u64> {
    // SAFETY: pthread_getattr_np initialises `attr` for the calling thread; it is
    // destroyed after its stack range has been read.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let (mut addr, mut size): (*mut libc::c_void, usize) = (std::ptr::null_mut(), 0);
        let r = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (r == 0).then(|| addr as u64 + size as u64)
    }
}

/// The unwinder for synchronous captures (the heap profiler's allocations, the
/// contention profiles' waits and unlocks), prepared on first use and kept.
/// Preparing allocates: call it quietly. `None` when it cannot be prepared.
pub(crate) fn synchronous() -> Option<&'static UnwindState> {
    static STATE: OnceLock<Option<UnwindState>> = OnceLock::new();
    STATE.get_or_init(|| prepare(Unwinding::Auto, 16).ok()).as_ref()
}

/// The calling thread's stack (its pc, then return addresses) into `out`,
/// with the [`synchronous`] unwinder; returns the number of frames (0 if the
/// stack cannot be walked). `stack_end` caches the thread's stack end (0 until
/// known). Call quietly: the first call prepares the unwinder.
#[inline(always)]
pub(crate) fn capture_here(stack_end: &std::cell::Cell<u64>, out: &mut [u64]) -> usize {
    let mut end = stack_end.get();
    if end == 0 {
        end = current_stack_end().unwrap_or(0);
        stack_end.set(end);
    }
    match synchronous() {
        Some(st) if end != 0 => capture_bounded(st, &current_registers(), end, out),
        _ => 0,
    }
}

/// Walks the stack from `regs` with an explicitly known stack end (for synchronous
/// captures, where the thread's own stack bounds are known). Allocation-free.
#[inline]
pub(crate) fn capture_bounded(st: &UnwindState, regs: &Registers, stack_end: u64, out: &mut [u64]) -> usize {
    match st.walk {
        // The walk starts in sonde's own code, which has frame pointers in a build
        // that keeps them.
        Walk::FramePointers | Walk::FramePointersTablesLeaf => fp::walk(regs, stack_end, out),
        Walk::Tables => st
            .caches
            .with(|c| tables::walk(&st.tables, c, regs, stack_end, out))
            .unwrap_or_else(|| fp::walk(regs, stack_end, out)),
    }
}

/// Unwinds only the interrupted frame with the tables: the return address and the
/// caller's registers.
#[inline]
fn unwind_leaf(
    tables: &TableUnwinder,
    cache: &mut framehop::CacheNative<framehop::MustNotAllocateDuringUnwind>,
    regs: &Registers,
    end: u64,
) -> Option<(u64, Registers)> {
    let low = regs.sp;
    let mut read_stack = |addr: u64| -> Result<u64, ()> {
        if addr < low || addr % 8 != 0 || addr.checked_add(8).is_none_or(|e| e > end) {
            return Err(());
        }
        // SAFETY: aligned and between the interrupted stack pointer and the end of
        // the current thread's stack mapping.
        Ok(unsafe { std::ptr::read_volatile(addr as *const u64) })
    };
    #[cfg(target_arch = "x86_64")]
    let mut uregs = UnwindRegsNative::new(regs.pc, regs.sp, regs.fp);
    #[cfg(target_arch = "aarch64")]
    let mut uregs = UnwindRegsNative::new(regs.lr, regs.sp, regs.fp);
    let ret = tables
        .unwind_frame(
            FrameAddress::from_instruction_pointer(regs.pc),
            &mut uregs,
            cache,
            &mut read_stack,
        )
        .ok()??;
    #[cfg(target_arch = "x86_64")]
    let fp = uregs.bp();
    #[cfg(target_arch = "aarch64")]
    let fp = uregs.fp();
    Some((
        ret,
        Registers {
            pc: ret,
            sp: uregs.sp(),
            fp,
            lr: 0,
        },
    ))
}

fn leaf_only(regs: &Registers, out: &mut [u64]) -> usize {
    match out.first_mut() {
        Some(s) => {
            *s = regs.pc;
            1
        }
        None => 0,
    }
}

/// Whether the code of this build keeps frame pointers, tested on sonde's own
/// functions (compiled with the same flags as the program in a normal build).
fn build_keeps_frame_pointers(regions: &Regions) -> bool {
    probe_outer(regions)
}

#[inline(never)]
fn probe_outer(regions: &Regions) -> bool {
    std::hint::black_box(probe_inner(
        std::hint::black_box(regions),
        probe_outer as *const () as usize as u64,
    ))
}

#[inline(never)]
fn probe_inner(regions: &Regions, outer: u64) -> bool {
    let fp: u64;
    // SAFETY: reads the frame-pointer register; no memory is touched.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    // SAFETY: as above.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    let here = 0u64;
    let sp = std::hint::black_box(&here) as *const u64 as u64;
    let Some(end) = regions.stack_end(sp) else { return false };
    let regs = Registers {
        pc: probe_inner as *const () as usize as u64,
        sp,
        fp,
        lr: 0,
    };
    let mut frames = [0u64; 3];
    let n = fp::walk(&regs, end, &mut frames);
    // With frame pointers, the first return address is inside probe_outer.
    n >= 2 && frames[1] > outer && frames[1] - outer < 256
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn recurse(depth: usize, f: &mut dyn FnMut()) {
        if depth == 0 {
            f();
        } else {
            recurse(std::hint::black_box(depth - 1), f);
        }
        std::hint::black_box(depth);
    }

    fn current_registers() -> Registers {
        // SAFETY: getcontext fills the zeroed ucontext with this thread's registers.
        unsafe {
            let mut uc: libc::ucontext_t = std::mem::zeroed();
            assert_eq!(libc::getcontext(&mut uc), 0);
            Registers::from_ucontext((&uc as *const libc::ucontext_t).cast())
        }
    }

    #[test]
    fn tables_walk_a_deep_stack_to_the_root() {
        let st = prepare(Unwinding::Tables, 2).expect("prepare");
        let mut n = 0;
        recurse(120, &mut || {
            let regs = current_registers();
            let mut out = [0u64; 512];
            n = capture_with(&st, &regs, &mut out);
            let recurse_addr = recurse as *const () as usize as u64;
            let in_recurse = out[..n]
                .iter()
                .filter(|&&a| a > recurse_addr && a - recurse_addr < 512)
                .count();
            assert!(
                in_recurse >= 120,
                "only {in_recurse} of 121 recursive frames in {n} frames"
            );
        });
        assert!(n > 121);
        let used = st.caches.stack_used();
        assert!(
            used > 0 && used < walkstack::WALK_STACK / 2,
            "the walk ran on its own stack and used {used} bytes of it"
        );
    }
}
