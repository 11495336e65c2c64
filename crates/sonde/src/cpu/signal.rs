//! The SIGPROF handler. It is the only code that runs in signal context, so it is
//! kept small: it checks that the signal comes from one of this profile's timers,
//! reads the interrupted registers, walks the stack into a free slot of the sample
//! ring, and returns. It allocates nothing, takes no lock, calls no libc function
//! (errno is saved and restored), and cannot panic: every index is checked and
//! every read of stack memory is bounded by the current thread's stack.

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use super::ring::{MAX_DEPTH, Ring};
use crate::Error;
use crate::unwind::{self, Registers};

/// The cookie of the running profile (carried by its timers); 0 when none runs.
static COOKIE: AtomicU32 = AtomicU32::new(0);
/// Where samples go while a profile runs.
static RING: AtomicPtr<Ring> = AtomicPtr::new(std::ptr::null_mut());

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
    // SAFETY: sigaction with a null new action only reads the current one.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    if unsafe { libc::sigaction(libc::SIGPROF, std::ptr::null(), &mut old) } != 0 {
        return Err(Error::Signal(std::io::Error::last_os_error()));
    }
    let ours = on_sigprof as *const () as usize;
    if old.sa_sigaction == ours {
        return Ok(());
    }
    if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
        return Err(Error::SignalHandlerInUse {
            handler: old.sa_sigaction,
        });
    }
    // SAFETY: a zeroed sigaction is valid; we set the handler, flags and an empty mask.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = ours;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    // SAFETY: sa_mask is a valid sigset_t inside `sa`.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: installs a handler with the signature SA_SIGINFO requires.
    if unsafe { libc::sigaction(libc::SIGPROF, &sa, std::ptr::null_mut()) } != 0 {
        return Err(Error::Signal(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Starts accepting signals from timers tagged `cookie`, storing samples in `ring`.
pub(crate) fn activate(cookie: u32, ring: &'static Ring) {
    RING.store(ring as *const Ring as *mut Ring, Ordering::SeqCst);
    COOKIE.store(cookie, Ordering::SeqCst);
}

/// Stops accepting signals. Handlers already running may still finish their
/// sample; wait for quiescence (`unwind::retire`) before dropping the ring.
pub(crate) fn deactivate() {
    COOKIE.store(0, Ordering::SeqCst);
    RING.store(std::ptr::null_mut(), Ordering::SeqCst);
}

/// Forgets a profile that was running in the parent of a forked child: the
/// child has none of the parent's timers or threads. Signal-safe.
pub(crate) fn reset_after_fork() {
    COOKIE.store(0, Ordering::SeqCst);
    RING.store(std::ptr::null_mut(), Ordering::SeqCst);
}

extern "C" fn on_sigprof(_sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: __errno_location returns this thread's errno; saving and restoring it
    // keeps the interrupted code's errno intact.
    let errno = unsafe { *libc::__errno_location() };
    unwind::enter();
    record(info, uc);
    unwind::leave();
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
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
    let tid = si.si_value as u32;
    let weight = 1u32.saturating_add(si.si_overrun.max(0) as u32);
    let ring = RING.load(Ordering::SeqCst);
    if ring.is_null() {
        return;
    }
    // SAFETY: the ring is freed only after deactivate() and quiescence, and this
    // handler is between unwind::enter() and unwind::leave().
    let ring = unsafe { &*ring };
    // SAFETY: `uc` is the ucontext_t of this SA_SIGINFO handler.
    let regs = unsafe { Registers::from_ucontext(uc) };
    ring.produce(|s| {
        let n = unwind::capture(&regs, &mut s.frames);
        s.tid = tid;
        s.weight = weight;
        s.len = n as u16;
        s.truncated = n >= MAX_DEPTH;
    });
}
