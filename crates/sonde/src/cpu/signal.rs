//! The SIGPROF handler. It is the only code that runs in signal context, so it is
//! kept small: it checks that the signal comes from one of this profile's timers,
//! reads the interrupted registers, walks the stack into a free slot of the sample
//! ring, and returns. A signal of the process-wide timer is kept only on a thread
//! without a timer of its own; once such a thread has used [`OWN_TIMER_AFTER_NS`]
//! of CPU the handler arms its own timer (a few raw system calls: gettid,
//! clock_gettime, timer_create, timer_settime). A process timer's sample also
//! carries the thread's name (prctl), since a short-lived thread may be gone
//! before the collector could read it. It allocates
//! nothing, takes no lock, calls no libc function but `syscall` (errno is saved
//! and restored), and cannot panic: every index is checked and every read of
//! stack memory is bounded by the current thread's stack.

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use super::ring::{MAX_DEPTH, Ring};
use super::threads::{Claim, TimedThreads};
use super::timers;
use crate::Error;
use crate::unwind::{self, Registers};

/// The cookie of the running profile (carried by its timers); 0 when none runs.
static COOKIE: AtomicU32 = AtomicU32::new(0);
/// Where samples go while a profile runs.
static RING: AtomicPtr<Ring> = AtomicPtr::new(std::ptr::null_mut());
/// The threads with timers of their own, while a profile runs.
static THREADS: AtomicPtr<TimedThreads> = AtomicPtr::new(std::ptr::null_mut());
/// The running profile's sampling period, for the timers the handler arms.
static PERIOD_NS: AtomicU64 = AtomicU64::new(0);

/// How much CPU a thread that started during the profile uses before it gets a
/// timer of its own; until then the process timer samples it.
///
/// A thread's own timer loses the CPU the thread used after the last scheduler
/// tick that checked it (the thread exits before the next): up to a tick, 1 to
/// 10 ms, per thread, which is most of a 5 ms thread. The process timer loses
/// nothing at a thread's exit: the next tick that finds it expired counts those
/// periods, on whichever thread it lands, so a program of many short threads
/// has its total, and each kind of thread its share, right. Threads that live
/// long get their own timer, whose samples are exactly proportional to the
/// thread's own CPU time.
pub(crate) const OWN_TIMER_AFTER_NS: u64 = 200_000_000;

/// The kernel's `siginfo_t` for POSIX timer signals on 64-bit Linux.
#[repr(C)]
struct TimerSigInfo {
    si_signo: libc::c_int,
    si_errno: libc::c_int,
    si_code: libc::c_int,
    _pad: libc::c_int,
    si_timerid: libc::c_int,
    si_overrun: libc::c_int,
    si_value: u64,
}

/// Installs the handler unless another program component owns SIGPROF. Once
/// installed it stays (a pending SIGPROF after a profile ends must not fall back
/// to the default action, which kills the process); between profiles it ignores
/// every signal.
pub(crate) fn install() -> Result<(), Error> {
    crate::os::install_handler(libc::SIGPROF, "SIGPROF", on_sigprof)
}

/// Starts accepting signals from timers tagged `cookie`, storing samples in
/// `ring`; new threads are registered in `threads` with timers of `period_ns`.
pub(crate) fn activate(cookie: u32, ring: &'static Ring, threads: &'static TimedThreads, period_ns: u64) {
    RING.store(ring as *const Ring as *mut Ring, Ordering::SeqCst);
    THREADS.store(threads as *const TimedThreads as *mut TimedThreads, Ordering::SeqCst);
    PERIOD_NS.store(period_ns, Ordering::SeqCst);
    COOKIE.store(cookie, Ordering::SeqCst);
}

/// Stops accepting signals. Handlers already running may still finish their
/// sample (and arm a timer); wait for quiescence (`unwind::quiescent`) before
/// deleting the timers and dropping the ring and the table.
pub(crate) fn deactivate() {
    COOKIE.store(0, Ordering::SeqCst);
    RING.store(std::ptr::null_mut(), Ordering::SeqCst);
    THREADS.store(std::ptr::null_mut(), Ordering::SeqCst);
}

/// Forgets a profile that was running in the parent of a forked child: the
/// child has none of the parent's timers or threads. Signal-safe.
pub(crate) fn reset_after_fork() {
    deactivate();
}

extern "C" fn on_sigprof(_sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    unwind::in_handler(|| record(info, uc));
}

#[inline(always)]
fn record(info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    let cookie = COOKIE.load(Ordering::SeqCst);
    if cookie == 0 || info.is_null() || uc.is_null() {
        return;
    }
    // SAFETY: the kernel passes a valid siginfo; for SI_TIMER signals on 64-bit
    // Linux its layout is `TimerSigInfo`. Other codes are rejected before the
    // timer fields are used.
    let si = unsafe { &*(info as *const TimerSigInfo) };
    if si.si_code != libc::SI_TIMER || (si.si_value >> 32) as u32 != cookie {
        return;
    }
    let weight = 1u32.saturating_add(si.si_overrun.max(0) as u32);
    let ring = RING.load(Ordering::SeqCst);
    if ring.is_null() {
        return;
    }
    // SAFETY: the ring is freed only after deactivate() and quiescence, and this
    // handler is between unwind::enter() and unwind::leave().
    let ring = unsafe { &*ring };
    let mut tid = si.si_value as u32;
    let process = tid == timers::PROCESS_TIMER_TID;
    let mut claimed = None;
    if process {
        let threads = THREADS.load(Ordering::SeqCst);
        if threads.is_null() {
            return;
        }
        // SAFETY: as the ring: freed only after deactivate() and quiescence.
        let threads = unsafe { &*threads };
        tid = crate::os::current_tid();
        if threads.contains(tid) {
            // Its own timer counts this thread (or it is the collector).
            return;
        }
        if thread_cpu_ns() >= OWN_TIMER_AFTER_NS {
            if let Claim::Claimed(slot) = threads.claim(tid) {
                claimed = Some((threads, slot));
            }
        }
    }
    let name = if process { current_thread_name() } else { [0; 16] };
    // SAFETY: `uc` is the ucontext_t of this SA_SIGINFO handler.
    let regs = unsafe { Registers::from_ucontext(uc) };
    ring.produce(|s| {
        let n = unwind::capture(&regs, &mut s.frames);
        s.tid = tid;
        s.weight = weight;
        s.len = n as u16;
        s.truncated = n >= MAX_DEPTH;
        s.process = process;
        s.name = name;
    });
    // A thread that has lived long enough: from now on its own timer counts it
    // (this signal counted the process's periods up to now).
    if let Some((threads, slot)) = claimed {
        let period = PERIOD_NS.load(Ordering::SeqCst);
        let first = timers::handler_first_expiry(tid, cookie, period);
        match timers::arm_thread_timer(tid, cookie, period, first) {
            Ok(id) => slot.publish(id, name),
            Err(_) => threads.release(slot),
        }
    }
}

/// The calling thread's CPU time in nanoseconds. Signal-safe: one raw system call.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clock_gettime,
            libc::CLOCK_THREAD_CPUTIME_ID as libc::c_long,
            &mut ts as *mut libc::timespec,
        )
    };
    if r != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// The calling thread's name (`PR_GET_NAME`), NUL-padded. Signal-safe: one raw
/// system call into a stack buffer.
fn current_thread_name() -> [u8; 16] {
    let mut name = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes into the buffer it is given.
    unsafe {
        libc::syscall(libc::SYS_prctl, libc::PR_GET_NAME as libc::c_long, name.as_mut_ptr());
    }
    name
}
