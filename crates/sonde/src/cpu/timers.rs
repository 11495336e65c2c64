//! Per-thread CPU-time timers, the way Go (≥1.18) samples on Linux: each thread
//! gets a POSIX timer on its own CPU clock that sends SIGPROF to that thread every
//! `period` of CPU time it uses. A thread's samples are therefore proportional to
//! its own CPU time, however many threads are busy, and a sleeping thread gets
//! none. Threads are found by scanning `/proc/self/task`; timers of threads that
//! exited are deleted at the next scan.

use std::collections::HashMap;
use std::io;

use crate::os::{TaskDir, thread_name};

/// Linux's clock id for the CPU time of thread `tid` (`MAKE_THREAD_CPUCLOCK(tid,
/// CPUCLOCK_SCHED)`).
fn thread_cpu_clock(tid: u32) -> libc::clockid_t {
    ((!(tid as libc::clockid_t)) << 3) | 6
}

/// The timers of the sampled threads.
pub(crate) struct ThreadTimers {
    tasks: TaskDir,
    timers: HashMap<u32, libc::c_int>,
    names: HashMap<u32, String>,
    period_ns: u64,
    cookie: u32,
    exclude: u32,
    seed: u64,
}

impl ThreadTimers {
    /// Timers firing every `period_ns` of thread CPU time, tagged with `cookie`;
    /// thread `exclude` (the collector itself) is not sampled.
    pub(crate) fn new(period_ns: u64, cookie: u32, exclude: u32) -> io::Result<ThreadTimers> {
        Ok(ThreadTimers {
            tasks: TaskDir::open()?,
            timers: HashMap::new(),
            names: HashMap::new(),
            period_ns,
            cookie,
            exclude,
            seed: (cookie as u64) << 32 | period_ns,
        })
    }

    /// Creates timers for threads that appeared and deletes those of threads that
    /// exited. Returns (added, removed).
    pub(crate) fn sync(&mut self) -> io::Result<(usize, usize)> {
        let tids = self.tasks.list()?;
        let mut added = 0;
        for &tid in &tids {
            if tid == self.exclude || self.timers.contains_key(&tid) {
                continue;
            }
            match self.arm(tid) {
                Ok(id) => {
                    self.timers.insert(tid, id);
                    self.names.insert(tid, thread_name(tid));
                    added += 1;
                }
                // The thread exited between the scan and now.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(e),
            }
        }
        // A thread is gone when its timer is: the kernel disarms a CPU-clock timer
        // whose thread exited. Absence from one listing is not proof (procfs
        // cuts a listing short when a thread exits during it), and a listed
        // thread may be a new one that reuses the id of one that exited.
        let dead: Vec<u32> = self
            .timers
            .iter()
            .filter(|&(_, &id)| !timer_armed(id))
            .map(|(&tid, _)| tid)
            .collect();
        for tid in &dead {
            if let Some(id) = self.timers.remove(tid) {
                delete_timer(id);
            }
            if tids.contains(tid) {
                if let Ok(id) = self.arm(*tid) {
                    self.timers.insert(*tid, id);
                    self.names.insert(*tid, thread_name(*tid));
                    added += 1;
                }
            }
        }
        Ok((added, dead.len()))
    }

    /// How many threads have timers.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.timers.len()
    }

    /// The names of every thread seen, as they were when first seen.
    pub(crate) fn names(&self) -> &HashMap<u32, String> {
        &self.names
    }

    /// Deletes every timer.
    pub(crate) fn delete_all(&mut self) {
        for (_, id) in self.timers.drain() {
            delete_timer(id);
        }
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn arm(&mut self, tid: u32) -> io::Result<libc::c_int> {
        // SAFETY: sigevent is plain data; zero is a valid value for every field.
        let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = libc::SIGPROF;
        sev.sigev_notify_thread_id = tid as libc::c_int;
        sev.sigev_value = libc::sigval {
            sival_ptr: encode_value(self.cookie, tid) as *mut libc::c_void,
        };
        let mut id: libc::c_int = 0;
        // SAFETY: raw timer_create with valid pointers to `sev` and `id`; the kernel
        // writes the new timer id into `id`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_timer_create,
                thread_cpu_clock(tid) as libc::c_long,
                &mut sev as *mut libc::sigevent,
                &mut id as *mut libc::c_int,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // The first expiry is random within the period, as in Go, so that threads
        // that run briefly are not systematically missed or over-counted.
        let first = 1 + self.next_random() % self.period_ns;
        let spec = libc::itimerspec {
            it_interval: timespec(self.period_ns),
            it_value: timespec(first),
        };
        // SAFETY: raw timer_settime on the timer created above with a valid spec.
        let r = unsafe {
            libc::syscall(
                libc::SYS_timer_settime,
                id as libc::c_long,
                0 as libc::c_long,
                &spec as *const libc::itimerspec,
                std::ptr::null_mut::<libc::itimerspec>(),
            )
        };
        if r != 0 {
            let e = io::Error::last_os_error();
            delete_timer(id);
            return Err(e);
        }
        Ok(id)
    }
}

impl Drop for ThreadTimers {
    fn drop(&mut self) {
        self.delete_all();
    }
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

fn delete_timer(id: libc::c_int) {
    // SAFETY: raw timer_delete of a timer this process created; failure (already
    // deleted) is harmless.
    unsafe {
        libc::syscall(libc::SYS_timer_delete, id as libc::c_long);
    }
}

/// The value a timer carries in `si_value`: the profile's cookie and the thread.
pub(crate) fn encode_value(cookie: u32, tid: u32) -> u64 {
    (cookie as u64) << 32 | tid as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::testing::{threads_serialized, waiting_thread};

    #[test]
    fn timers_follow_threads_that_come_and_go() {
        let _threads = threads_serialized();
        // A period no thread reaches in this test: no SIGPROF is ever sent.
        let mut timers = ThreadTimers::new(1_000 * 1_000_000_000, 7, 0).expect("timers");
        timers.sync().expect("sync");
        let before = timers.len();
        let (tid, done_tx, h) = waiting_thread("sonde-timers");
        let seen = (0..20).any(|_| {
            timers.sync().expect("sync");
            timers.timers.contains_key(&tid)
        });
        assert!(seen, "the new thread gets a timer");
        let id = timers.timers[&tid];
        assert!(timer_armed(id));
        done_tx.send(()).expect("done");
        h.join().expect("join");
        // The exiting thread may wait for a CPU on a busy machine before its
        // timer is disarmed: up to ten seconds here.
        let removed = (0..2000).any(|_| {
            timers.sync().expect("sync");
            let gone = !timers.timers.contains_key(&tid);
            if !gone {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            gone
        });
        assert!(removed, "the exited thread's timer is deleted");
        assert!(timers.len() <= before + 1);
        timers.delete_all();
    }
}
