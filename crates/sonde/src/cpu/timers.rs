//! CPU-time timers, the way Go (≥1.18) samples on Linux: each thread gets a
//! POSIX timer on its own CPU clock that sends SIGPROF to that thread every
//! `period` of CPU time it uses, so a thread's samples are proportional to its
//! own CPU time however many threads are busy, and a sleeping thread gets none.
//!
//! Threads alive at the start get their timers from the collector (listed in
//! `/proc/self/task`). Threads that start later are caught from their first
//! instant by a process-wide CPU timer (of a few sampling periods: see
//! `process_periods`): its signal lands on a thread in
//! proportion to the CPU that thread uses, and is kept only on a thread without
//! a timer of its own. Once such a thread has used `OWN_TIMER_AFTER_NS` of
//! CPU, the handler arms its own timer (see `threads.rs` and `signal.rs`). The
//! collector adopts those timers, and deletes the timers of threads that exited.

use std::collections::HashMap;
use std::io;

use super::threads::{Claim, NO_TIMER, TimedThreads};
use crate::os::{TaskDir, thread_name};

/// Linux's clock id for the CPU time of thread `tid` (`MAKE_THREAD_CPUCLOCK(tid,
/// CPUCLOCK_SCHED)`).
fn thread_cpu_clock(tid: u32) -> libc::clockid_t {
    ((!(tid as libc::clockid_t)) << 3) | 6
}

/// The thread id a process timer's signals carry: none (0), so the handler
/// knows to look at which thread it interrupted.
pub(crate) const PROCESS_TIMER_TID: u32 = 0;

/// The timers of a profile: one per thread, and the process-wide one.
pub(crate) struct ThreadTimers {
    table: &'static TimedThreads,
    /// Every thread whose timer the collector knows: tid → timer.
    timers: HashMap<u32, libc::c_int>,
    names: HashMap<u32, String>,
    process: Option<libc::c_int>,
    period_ns: u64,
    cookie: u32,
    seed: u64,
}

impl ThreadTimers {
    /// Timers firing every `period_ns` of CPU time, tagged with `cookie`,
    /// registered in `table` (which the signal handler shares). Thread
    /// `exclude` (the collector itself) is never sampled.
    pub(crate) fn new(table: &'static TimedThreads, period_ns: u64, cookie: u32, exclude: u32) -> ThreadTimers {
        // Present with no timer: the process timer's signals on it are dropped.
        let _ = table.claim(exclude);
        ThreadTimers {
            table,
            timers: HashMap::new(),
            names: HashMap::new(),
            process: None,
            period_ns,
            cookie,
            seed: (cookie as u64) << 32 | period_ns,
        }
    }

    /// Arms a timer for every thread alive now, then the process-wide timer that
    /// catches the threads that start later. Call before the handler is active
    /// for this profile (nothing else claims slots then).
    pub(crate) fn start(&mut self) -> io::Result<()> {
        for tid in TaskDir::open()?.list()? {
            let Claim::Claimed(slot) = self.table.claim(tid) else {
                continue;
            };
            let first = self.first_expiry();
            match arm_thread_timer(tid, self.cookie, self.period_ns, first) {
                Ok(id) => {
                    slot.publish(id, [0; 16]);
                    self.timers.insert(tid, id);
                    self.names.insert(tid, thread_name(tid));
                }
                // The thread exited between the listing and now.
                Err(e) if e == libc::EINVAL || e == libc::ESRCH => self.table.release(slot),
                Err(e) => {
                    self.table.release(slot);
                    return Err(io::Error::from_raw_os_error(e));
                }
            }
        }
        let first = self.first_expiry();
        let id = create_timer(
            libc::CLOCK_PROCESS_CPUTIME_ID,
            libc::SIGEV_SIGNAL,
            0,
            encode_value(self.cookie, PROCESS_TIMER_TID),
        )
        .map_err(io::Error::from_raw_os_error)?;
        if let Err(e) = set_timer(id, self.period_ns * process_periods(self.period_ns), first) {
            delete_timer(id);
            return Err(io::Error::from_raw_os_error(e));
        }
        self.process = Some(id);
        Ok(())
    }

    /// Adopts the timers that handlers armed for new threads, and deletes those
    /// of threads that exited, freeing their slots. Returns (added, removed).
    pub(crate) fn sync(&mut self) -> (usize, usize) {
        let (mut added, mut removed) = (0, 0);
        for (slot, tid, id) in self.table.armed() {
            if self.timers.get(&tid) != Some(&id) {
                self.timers.insert(tid, id);
                let name = slot.name();
                self.names
                    .entry(tid)
                    .or_insert_with(|| if name.is_empty() { thread_name(tid) } else { name });
                added += 1;
            }
            // The kernel disarms a CPU-clock timer whose thread exited.
            if !timer_armed(id) {
                delete_timer(id);
                self.timers.remove(&tid);
                self.table.release(slot);
                removed += 1;
            }
        }
        (added, removed)
    }

    /// How many threads have timers.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.timers.len()
    }

    /// Names the threads among `tids` (the threads sampled since the last
    /// call) by the name their latest process timer's sample carried, which
    /// replaces an earlier one; a thread without such a sample, if not named
    /// before, as /proc has it now (an exited one stays nameless).
    pub(crate) fn name_threads(&mut self, tids: &HashMap<u32, [u8; 16]>) {
        for (&tid, raw) in tids {
            let name = super::threads::decode_name(raw);
            if name.is_empty() {
                self.names.entry(tid).or_insert_with(|| thread_name(tid));
            } else {
                self.names.insert(tid, name);
            }
        }
    }

    /// Deletes every timer (as [`ThreadTimers::delete_all`]) and returns the
    /// names of every thread that had one (when its timer was armed, or as
    /// [`ThreadTimers::name_threads`] last named it).
    pub(crate) fn finish(mut self) -> HashMap<u32, String> {
        self.delete_all();
        std::mem::take(&mut self.names)
    }

    /// Stops the process timer: no new thread gets a timer after this.
    pub(crate) fn stop_process_timer(&mut self) {
        if let Some(id) = self.process.take() {
            delete_timer(id);
        }
    }

    /// Deletes every timer, the ones handlers armed included. Call once no
    /// handler can arm one any more (the profile is deactivated and quiescent).
    pub(crate) fn delete_all(&mut self) {
        self.stop_process_timer();
        let _ = self.sync();
        for (slot, _, id) in self.table.armed() {
            delete_timer(id);
            self.table.release(slot);
        }
        self.timers.clear();
    }

    fn first_expiry(&mut self) -> u64 {
        // splitmix64
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        // The first expiry is random within the period, as in Go, so that threads
        // that run briefly are not systematically missed or over-counted.
        1 + (z ^ (z >> 31)) % self.period_ns
    }
}

impl Drop for ThreadTimers {
    fn drop(&mut self) {
        self.delete_all();
    }
}

/// How many sampling periods one period of the process timer is: at least
/// four, and at least 10 ms of CPU. The process timer only has to reach the
/// threads without a timer of their own, and its signals on every other thread
/// are dropped after they cost a signal delivery: a longer period makes fewer
/// of them (a signal stands for that many periods of a new thread's CPU, with
/// more variance and the same expectation).
pub(crate) fn process_periods(period_ns: u64) -> u64 {
    4u64.max(10_000_000u64.div_ceil(period_ns.max(1)))
}

/// Arms a timer on thread `tid`'s CPU clock that sends it SIGPROF every
/// `period_ns`, first after `first_ns`. Returns the timer id or errno.
/// Signal-safe: two raw system calls.
pub(crate) fn arm_thread_timer(tid: u32, cookie: u32, period_ns: u64, first_ns: u64) -> Result<libc::c_int, i32> {
    let id = create_timer(
        thread_cpu_clock(tid),
        libc::SIGEV_THREAD_ID,
        tid,
        encode_value(cookie, tid),
    )?;
    if let Err(e) = set_timer(id, period_ns, first_ns) {
        delete_timer(id);
        return Err(e);
    }
    Ok(id)
}

/// The first expiry of a timer the handler arms for thread `tid`: spread within
/// the period by the thread id, as [`ThreadTimers`] spreads its own at random.
/// Signal-safe.
pub(crate) fn handler_first_expiry(tid: u32, cookie: u32, period_ns: u64) -> u64 {
    let z = ((tid as u64) << 32 | cookie as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    1 + (z ^ (z >> 29)) % period_ns.max(1)
}

/// The raw errno of the last failed system call (signal-safe).
fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() }
}

fn create_timer(clock: libc::clockid_t, notify: libc::c_int, tid: u32, value: u64) -> Result<libc::c_int, i32> {
    // SAFETY: sigevent is plain data; zero is a valid value for every field.
    let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
    sev.sigev_notify = notify;
    sev.sigev_signo = libc::SIGPROF;
    sev.sigev_notify_thread_id = tid as libc::c_int;
    sev.sigev_value = libc::sigval {
        sival_ptr: value as *mut libc::c_void,
    };
    let mut id: libc::c_int = 0;
    // SAFETY: raw timer_create with valid pointers to `sev` and `id`; the kernel
    // writes the new timer id into `id`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_timer_create,
            clock as libc::c_long,
            &mut sev as *mut libc::sigevent,
            &mut id as *mut libc::c_int,
        )
    };
    if r != 0 { Err(errno()) } else { Ok(id) }
}

fn set_timer(id: libc::c_int, period_ns: u64, first_ns: u64) -> Result<(), i32> {
    let spec = libc::itimerspec {
        it_interval: timespec(period_ns),
        it_value: timespec(first_ns),
    };
    // SAFETY: raw timer_settime on a timer this process created, with a valid spec.
    let r = unsafe {
        libc::syscall(
            libc::SYS_timer_settime,
            id as libc::c_long,
            0 as libc::c_long,
            &spec as *const libc::itimerspec,
            std::ptr::null_mut::<libc::itimerspec>(),
        )
    };
    if r != 0 { Err(errno()) } else { Ok(()) }
}

fn timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

/// Whether a periodic timer is still armed (its thread has not exited).
fn timer_armed(id: libc::c_int) -> bool {
    // SAFETY: itimerspec is plain data; zero is valid.
    let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
    // SAFETY: raw timer_gettime of a timer this process created, into `spec`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_timer_gettime,
            id as libc::c_long,
            &mut spec as *mut libc::itimerspec,
        )
    };
    let zero = |t: libc::timespec| t.tv_sec == 0 && t.tv_nsec == 0;
    r == 0 && !(zero(spec.it_value) && zero(spec.it_interval))
}

/// Deletes a timer. Signal-safe.
pub(crate) fn delete_timer(id: libc::c_int) {
    if id == NO_TIMER {
        return;
    }
    // SAFETY: raw timer_delete of a timer this process created; failure (already
    // deleted) is harmless.
    unsafe {
        libc::syscall(libc::SYS_timer_delete, id as libc::c_long);
    }
}

/// The value a timer carries in `si_value`: the profile's cookie and the thread
/// ([`PROCESS_TIMER_TID`] for the process timer).
pub(crate) fn encode_value(cookie: u32, tid: u32) -> u64 {
    (cookie as u64) << 32 | tid as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::testing::{threads_serialized, waiting_thread};

    #[test]
    fn threads_alive_at_the_start_get_timers_and_lose_them_when_they_exit() {
        let _threads = threads_serialized();
        let (tid, done_tx, h) = waiting_thread("sonde-timers");
        let table: &'static TimedThreads = Box::leak(Box::new(TimedThreads::new(256)));
        // A period no thread reaches in this test: no SIGPROF is ever sent.
        let mut timers = ThreadTimers::new(table, 1_000 * 1_000_000_000, 7, crate::os::current_tid());
        timers.start().expect("start");
        assert!(timers.timers.contains_key(&tid), "the waiting thread has a timer");
        assert_eq!(timers.names[&tid], "sonde-timers");
        assert!(matches!(table.claim(tid), Claim::Present));
        assert!(
            matches!(table.claim(crate::os::current_tid()), Claim::Present),
            "the collector is present, so process signals on it are dropped"
        );
        let id = timers.timers[&tid];
        assert!(timer_armed(id));
        done_tx.send(()).expect("done");
        h.join().expect("join");
        // The exiting thread may wait for a CPU on a busy machine before its
        // timer is disarmed: up to ten seconds here.
        let removed = (0..2000).any(|_| {
            timers.sync();
            let gone = !timers.timers.contains_key(&tid);
            if !gone {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            gone
        });
        assert!(removed, "the exited thread's timer is deleted");
        assert!(matches!(table.claim(tid), Claim::Claimed(_)), "and its slot freed");
        timers.delete_all();
        assert_eq!(timers.len(), 0);
        assert_eq!(table.armed().count(), 0);
    }
}
