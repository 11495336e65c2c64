//! Capturing the stack of every thread of the process at one moment: each
//! thread is sent a signal of its own ([`signal`], a real-time signal, not
//! SIGPROF, so this works while a CPU profile runs) carrying its slot in the
//! request; its handler walks the interrupted stack into that slot with the
//! shared unwinder and marks it done. The caller waits a bounded time: a thread
//! that exits, blocks the signal or is not scheduled in time is reported
//! without a stack, never waited on forever.
//!
//! The handler allocates nothing, takes no lock, calls no libc function but
//! `syscall` (errno is saved and restored) and cannot panic. A signal that
//! arrives after its request ended (a thread scheduled late) finds another
//! generation, or none, and does nothing.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Error;
use crate::unwind::{self, Registers, UnwindState};

/// The deepest stack a thread's capture keeps (leaf side).
pub(crate) const MAX_DEPTH: usize = 128;

/// The signal that asks a thread for its stack: `SIGRTMIN+6` (glibc keeps the
/// first real-time signals for itself and shifts `SIGRTMIN` past them).
pub(crate) fn signal() -> libc::c_int {
    libc::SIGRTMIN() + 6
}

/// One thread's part of a request.
struct Slot {
    tid: AtomicU32,
    done: AtomicBool,
    len: AtomicUsize,
    frames: UnsafeCell<[u64; MAX_DEPTH]>,
}

/// A capture under way.
struct Request {
    generation: u32,
    pid: i32,
    state: &'static UnwindState,
    slots: Box<[Slot]>,
}

// SAFETY: a slot's frames are written only by the handler on the thread the
// slot names (one signal per slot and generation), before `done` is stored with
// release; the requester reads them only after an acquire load finds `done`.
unsafe impl Sync for Request {}

static REQUEST: AtomicPtr<Request> = AtomicPtr::new(std::ptr::null_mut());
static GENERATION: AtomicU32 = AtomicU32::new(1);
/// Held by the one capture that may run at a time.
static BUSY: AtomicBool = AtomicBool::new(false);

/// The kernel's `siginfo_t` for `rt_tgsigqueueinfo` signals (`SI_QUEUE`) on
/// 64-bit Linux: 128 bytes.
#[repr(C)]
struct QueueSigInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _pad: libc::c_int,
    pid: libc::pid_t,
    uid: libc::uid_t,
    value: u64,
    _rest: [u64; 12],
}

/// What a capture found of one thread.
pub(crate) struct Captured {
    pub tid: u32,
    /// The stack (pc first, then return addresses), or `None` when the thread
    /// did not answer in time (exited, blocks the signal, not scheduled).
    pub frames: Option<Vec<u64>>,
}

/// Captures every thread's stack, waiting at most `deadline` for answers; the
/// calling thread's own stack is captured directly when `include_self`. One
/// capture runs at a time: another waits for it up to `deadline`, then fails
/// with [`Error::CaptureBusy`]. Call quietly: the request is sonde's memory.
pub(crate) fn capture_all(deadline: Duration, include_self: bool) -> Result<Vec<Captured>, Error> {
    let start = Instant::now();
    while BUSY
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        if start.elapsed() > deadline {
            return Err(Error::CaptureBusy { waited: deadline });
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let r = capture_locked(start + deadline, include_self);
    BUSY.store(false, Ordering::Release);
    r
}

fn capture_locked(deadline: Instant, include_self: bool) -> Result<Vec<Captured>, Error> {
    crate::os::install_handler(signal(), "SIGRTMIN+6", on_signal)?;
    let state = unwind::synchronous().ok_or(Error::Collector)?;
    // Stacks of threads that started since the last capture are in a fresh map.
    let old_regions = state.refresh();
    let me = crate::os::current_tid();
    let tids: Vec<u32> = crate::os::TaskDir::open()
        .and_then(|mut d| d.list())
        .map_err(Error::Io)?
        .into_iter()
        .filter(|&t| t != me)
        .collect();
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed).max(1);
    let request = Box::into_raw(Box::new(Request {
        generation,
        // SAFETY: getpid has no preconditions.
        pid: unsafe { libc::getpid() },
        state,
        slots: tids
            .iter()
            .map(|&tid| Slot {
                tid: AtomicU32::new(tid),
                done: AtomicBool::new(false),
                len: AtomicUsize::new(0),
                frames: UnsafeCell::new([0; MAX_DEPTH]),
            })
            .collect(),
    }));
    REQUEST.store(request, Ordering::SeqCst);
    // SAFETY: freed below, only after it is unpublished and no handler runs.
    let req = unsafe { &*request };
    let mut asked = vec![false; tids.len()];
    for (i, &tid) in tids.iter().enumerate() {
        asked[i] = ask(req.pid, tid, generation, i as u32);
    }
    // Wait for the answers, at most until the deadline.
    loop {
        let answered = req
            .slots
            .iter()
            .zip(&asked)
            .all(|(s, &a)| !a || s.done.load(Ordering::Acquire));
        if answered || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    REQUEST.store(std::ptr::null_mut(), Ordering::SeqCst);
    let quiet_by = Instant::now() + Duration::from_secs(1);
    while !unwind::quiescent() && Instant::now() < quiet_by {
        std::thread::sleep(Duration::from_micros(50));
    }
    let mut out: Vec<Captured> = req
        .slots
        .iter()
        .map(|s| {
            let done = s.done.load(Ordering::Acquire);
            Captured {
                tid: s.tid.load(Ordering::Relaxed),
                // SAFETY: `done` (acquire) orders this read after the handler's
                // writes; no handler writes any more (see above).
                frames: done
                    .then(|| unsafe { &*s.frames.get() }[..s.len.load(Ordering::Relaxed).min(MAX_DEPTH)].to_vec()),
            }
        })
        .collect();
    if include_self {
        let mut own = [0u64; MAX_DEPTH];
        let n = crate::alloc::with_local(|l| unwind::capture_here(&l.stack_end, &mut own));
        out.push(Captured {
            tid: me,
            frames: Some(own[..n].to_vec()),
        });
    }
    if unwind::quiescent() {
        // SAFETY: unpublished above, and no handler runs: nothing can reach it.
        drop(unsafe { Box::from_raw(request) });
        drop(old_regions);
    } else {
        // A handler still runs after a second (impossible in practice):
        // leaking is the safe choice.
        std::mem::forget(old_regions);
    }
    Ok(out)
}

/// After `fork()`, in the child (see `crate::fork`): a capture the parent had
/// under way does not exist here (its threads do not), so none is running.
/// Signal-safe.
pub(crate) fn fork_child() {
    REQUEST.store(std::ptr::null_mut(), Ordering::SeqCst);
    BUSY.store(false, Ordering::SeqCst);
}

/// Sends thread `tid` the capture signal for slot `slot`; false when it is gone.
fn ask(pid: i32, tid: u32, generation: u32, slot: u32) -> bool {
    // SAFETY: a zeroed siginfo is valid; the fields below are what the kernel
    // checks for a signal a process queues to one of its own threads.
    let mut info: QueueSigInfo = unsafe { std::mem::zeroed() };
    info.signo = signal();
    info.code = libc::SI_QUEUE;
    info.pid = pid;
    // SAFETY: getuid has no preconditions.
    info.uid = unsafe { libc::getuid() };
    info.value = (generation as u64) << 32 | slot as u64;
    // SAFETY: rt_tgsigqueueinfo reads one siginfo (128 bytes) from `info`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            pid as libc::c_long,
            tid as libc::c_long,
            signal() as libc::c_long,
            &info as *const QueueSigInfo,
        )
    };
    r == 0
}

extern "C" fn on_signal(_sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    unwind::in_handler(|| answer(info, uc));
}

#[inline(always)]
fn answer(info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    if info.is_null() || uc.is_null() {
        return;
    }
    let request = REQUEST.load(Ordering::SeqCst);
    if request.is_null() {
        return;
    }
    // SAFETY: the request is freed only after it is unpublished and no handler
    // runs, and this handler is between unwind::enter() and unwind::leave().
    let req = unsafe { &*request };
    // SAFETY: the kernel passes a valid siginfo of 128 bytes; for SI_QUEUE its
    // layout is `QueueSigInfo`, and other codes are rejected first.
    let si = unsafe { &*(info as *const QueueSigInfo) };
    if si.code != libc::SI_QUEUE || si.pid != req.pid || (si.value >> 32) as u32 != req.generation {
        return;
    }
    let Some(slot) = req.slots.get(si.value as u32 as usize) else {
        return;
    };
    if slot.tid.load(Ordering::Relaxed) != crate::os::current_tid() || slot.done.load(Ordering::Relaxed) {
        return;
    }
    // SAFETY: `uc` is the ucontext_t of this SA_SIGINFO handler.
    let regs = unsafe { Registers::from_ucontext(uc) };
    // SAFETY: only this handler, on the slot's own thread, writes the slot's
    // frames, and the requester reads them after `done`.
    let frames = unsafe { &mut *slot.frames.get() };
    let n = unwind::capture_with(req.state, &regs, frames);
    slot.len.store(n, Ordering::Relaxed);
    slot.done.store(true, Ordering::Release);
}
