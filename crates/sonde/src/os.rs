//! The operating system's view of threads, in one place for every collector:
//! the calling thread's id, the process's threads (`/proc/self/task`), their
//! names (`comm`) and their scheduling states (`stat`). Linux only, as the
//! collectors are.

// Counters-only builds (no `profilers`) use the thread id alone.
#![cfg_attr(not(feature = "profilers"), allow(dead_code))]

use std::io;

/// A signal handler with `SA_SIGINFO`'s signature.
#[cfg(feature = "profilers")]
pub(crate) type SignalHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// Installs `handler` for signal `sig` (named `name` in errors) unless another
/// component of the program owns it: [`Error::SignalHandlerInUse`] then,
/// leaving theirs alone. Once installed it stays: a signal still pending after
/// a profile ends must not fall back to the default action, which for SIGPROF
/// and the real-time signals kills the process.
#[cfg(feature = "profilers")]
pub(crate) fn install_handler(
    sig: libc::c_int,
    name: &'static str,
    handler: SignalHandler,
) -> Result<(), crate::Error> {
    use crate::Error;
    // SAFETY: sigaction with a null new action only reads the current one.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0 {
        return Err(Error::Signal(io::Error::last_os_error()));
    }
    let ours = handler as *const () as usize;
    if old.sa_sigaction == ours {
        return Ok(());
    }
    if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
        return Err(Error::SignalHandlerInUse {
            signal: name,
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
    if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
        return Err(Error::Signal(io::Error::last_os_error()));
    }
    Ok(())
}

/// The calling thread's id (Linux's `gettid`, the `TID` of `/proc/self/task/TID`).
/// Signal-safe: one raw system call.
pub(crate) fn current_tid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// `/proc/self/task`, kept open: re-reading an open directory of procfs lists the
/// threads of the moment, without the cost of opening it again at every scan.
pub(crate) struct TaskDir {
    fd: libc::c_int,
    buf: Vec<u8>,
}

impl TaskDir {
    /// Opens `/proc/self/task`.
    pub(crate) fn open() -> io::Result<TaskDir> {
        // SAFETY: opens a directory with a NUL-terminated path.
        let fd = unsafe {
            libc::open(
                c"/proc/self/task".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(TaskDir {
            fd,
            buf: vec![0; 32 * 1024],
        })
    }

    /// The ids of this process's threads now.
    pub(crate) fn list(&mut self) -> io::Result<Vec<u32>> {
        // SAFETY: rewinds our own directory descriptor.
        if unsafe { libc::lseek(self.fd, 0, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut tids = Vec::new();
        loop {
            // SAFETY: getdents64 writes at most buf.len() bytes into buf.
            let n = unsafe { libc::syscall(libc::SYS_getdents64, self.fd, self.buf.as_mut_ptr(), self.buf.len()) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                break;
            }
            parse_dirents(&self.buf[..n as usize], &mut tids);
        }
        Ok(tids)
    }
}

impl Drop for TaskDir {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this struct owns.
        unsafe { libc::close(self.fd) };
    }
}

/// Appends the numeric names in a buffer of `linux_dirent64` records.
fn parse_dirents(mut buf: &[u8], out: &mut Vec<u32>) {
    // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
    while buf.len() >= 19 {
        let reclen = u16::from_ne_bytes([buf[16], buf[17]]) as usize;
        if reclen < 19 || reclen > buf.len() {
            break;
        }
        let name = &buf[19..reclen];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        if let Some(tid) = std::str::from_utf8(name).ok().and_then(|s| s.parse().ok()) {
            out.push(tid);
        }
        buf = &buf[reclen..];
    }
}

/// The machine's host name (`/proc/sys/kernel/hostname`), `unknown` when it
/// cannot be read.
#[cfg(feature = "agent")]
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// A thread's name (its `comm`, at most 15 bytes, as `std::thread::Builder::name`
/// or `prctl(PR_SET_NAME)` set it); empty when the thread is gone.
pub(crate) fn thread_name(tid: u32) -> String {
    // A name is any 15 bytes: not always UTF-8 (std cuts a long one mid-character).
    std::fs::read(format!("/proc/self/task/{tid}/comm"))
        .map(|b| String::from_utf8_lossy(&b).trim_end_matches('\n').to_string())
        .unwrap_or_default()
}

/// What a thread is doing, as the kernel reports it: the state letter of
/// `/proc/self/task/TID/stat` (see proc(5)). A thread profile shows it where Go's
/// goroutine profile shows `[running]` or `[chan receive]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThreadState {
    /// `R`: running on a CPU, or runnable and waiting for one.
    Running,
    /// `S`: interruptible sleep, waiting for an event (a lock, a channel, a
    /// timer, a socket).
    Sleeping,
    /// `D`: uninterruptible sleep, usually disk I/O or a page fault.
    DiskSleep,
    /// `T`: stopped by a signal (SIGSTOP, SIGTSTP).
    Stopped,
    /// `t`: stopped by a debugger.
    TracingStop,
    /// `Z`: exited, not yet reaped.
    Zombie,
    /// `X` or `x`: being removed.
    Dead,
    /// `I`: an idle kernel thread.
    Idle,
    /// `P`: parked.
    Parked,
    /// `W`: waking (Linux 2.6.33 to 3.13) or paging (before 2.6.0).
    Waking,
    /// `K`: killed while in uninterruptible sleep (Linux 2.6.33 to 3.13).
    WakeKill,
    /// A letter this list does not know.
    Other(u8),
}

impl ThreadState {
    fn from_letter(c: u8) -> ThreadState {
        match c {
            b'R' => ThreadState::Running,
            b'S' => ThreadState::Sleeping,
            b'D' => ThreadState::DiskSleep,
            b'T' => ThreadState::Stopped,
            b't' => ThreadState::TracingStop,
            b'Z' => ThreadState::Zombie,
            b'X' | b'x' => ThreadState::Dead,
            b'I' => ThreadState::Idle,
            b'P' => ThreadState::Parked,
            b'W' => ThreadState::Waking,
            b'K' => ThreadState::WakeKill,
            c => ThreadState::Other(c),
        }
    }

    /// The state as a thread profile labels it: `running`, `sleeping`, `disk
    /// sleep`, `stopped`, `tracing stop`, `zombie`, `dead`, `idle`, `parked`,
    /// `waking`, `wakekill` or `unknown`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ThreadState::Running => "running",
            ThreadState::Sleeping => "sleeping",
            ThreadState::DiskSleep => "disk sleep",
            ThreadState::Stopped => "stopped",
            ThreadState::TracingStop => "tracing stop",
            ThreadState::Zombie => "zombie",
            ThreadState::Dead => "dead",
            ThreadState::Idle => "idle",
            ThreadState::Parked => "parked",
            ThreadState::Waking => "waking",
            ThreadState::WakeKill => "wakekill",
            ThreadState::Other(_) => "unknown",
        }
    }
}

/// The state of thread `tid` of this process now; an error when it is gone.
pub(crate) fn state(tid: u32) -> io::Result<ThreadState> {
    let stat = std::fs::read(format!("/proc/self/task/{tid}/stat"))?;
    state_of_stat(&stat).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc stat line"))
}

/// The name and state of thread `tid` from one read of its `stat` (the name is
/// the same `comm` that [`thread_name`] reads); `None` when it is gone.
pub(crate) fn name_and_state(tid: u32) -> Option<(String, Option<ThreadState>)> {
    let stat = std::fs::read(format!("/proc/self/task/{tid}/stat")).ok()?;
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let name = String::from_utf8_lossy(stat.get(open + 1..close)?).into_owned();
    Some((name, state_of_stat(&stat)))
}

/// The state letter of a `stat` line: `TID (COMM) S ...`, where the name may
/// itself hold spaces and parentheses, so the state follows the last `)`.
fn state_of_stat(stat: &[u8]) -> Option<ThreadState> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let letter = *stat.get(close + 1..)?.iter().find(|b| !b.is_ascii_whitespace())?;
    Some(ThreadState::from_letter(letter))
}

/// Test helpers for code that follows threads.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Mutex, MutexGuard, mpsc};
    use std::thread::JoinHandle;

    /// Held by every unit test that starts threads or counts them, so that the
    /// threads of one do not show up in another's counts.
    pub(crate) fn threads_serialized() -> MutexGuard<'static, ()> {
        static THREADS: Mutex<()> = Mutex::new(());
        THREADS.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A thread named `name` that waits until told: its id, the sender that
    /// ends it, its handle.
    pub(crate) fn waiting_thread(name: &str) -> (u32, mpsc::Sender<()>, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let h = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                tx.send(super::current_tid()).expect("send");
                let _ = done_rx.recv();
            })
            .expect("spawn");
        (rx.recv().expect("tid"), done_tx, h)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{threads_serialized, waiting_thread};
    use super::*;

    #[test]
    fn lists_threads_through_the_open_directory() {
        let _threads = threads_serialized();
        let mut dir = TaskDir::open().expect("open");
        // A listing can miss a thread when another one exits during it (other
        // tests run in parallel), so each check allows a few listings.
        let listed = |dir: &mut TaskDir, tid: u32| (0..20).any(|_| dir.list().expect("list").contains(&tid));
        assert!(listed(&mut dir, current_tid()));
        let (tid, done_tx, h) = waiting_thread("sonde-os-list");
        assert!(listed(&mut dir, tid), "a new thread is seen on the next scan");
        done_tx.send(()).expect("done");
        h.join().expect("join");
        // The kernel may list the task for a moment after join returns (up to
        // ten seconds here: on a busy machine the exiting thread waits for a CPU).
        let gone = (0..2000).any(|_| {
            let listed = dir.list().expect("list").contains(&tid);
            if listed {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            !listed
        });
        assert!(gone, "an exited thread is gone");
    }

    #[test]
    fn names_a_named_thread() {
        let _threads = threads_serialized();
        let (tid, done_tx, h) = waiting_thread("sonde-os-name");
        assert_eq!(thread_name(tid), "sonde-os-name");
        done_tx.send(()).expect("done");
        h.join().expect("join");
        assert_eq!(thread_name(u32::MAX), "", "no such thread");
    }

    #[test]
    fn states_of_running_and_waiting_threads() {
        let _threads = threads_serialized();
        assert_eq!(state(current_tid()).expect("state"), ThreadState::Running);
        assert_eq!(ThreadState::Running.as_str(), "running");
        let (tid, done_tx, h) = waiting_thread("sonde-os-state");
        // The thread blocks in recv; it may still be on its way there (waiting
        // for a CPU on a busy machine: up to ten seconds here).
        let asleep = (0..2000).any(|_| {
            let s = state(tid).expect("state");
            if s != ThreadState::Sleeping {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            s == ThreadState::Sleeping
        });
        assert!(asleep, "a thread waiting on a channel sleeps");
        done_tx.send(()).expect("done");
        h.join().expect("join");
        assert!(state(u32::MAX).is_err(), "no such thread");
    }

    #[test]
    fn reads_the_state_after_a_name_with_parentheses() {
        assert_eq!(state_of_stat(b"42 (a) b (c) ) D 1 2 3"), Some(ThreadState::DiskSleep));
        assert_eq!(state_of_stat(b"42 (x) t 1"), Some(ThreadState::TracingStop));
        assert_eq!(state_of_stat(b"42 (x) ? 1"), Some(ThreadState::Other(b'?')));
        assert_eq!(state_of_stat(b"42 (x)"), None);
        assert_eq!(state_of_stat(b""), None);
    }
}

/// Sleeps for `duration`, or until `cancel` is set (checked every 20 ms):
/// the wait of a collection a sink may call off.
#[cfg(feature = "profilers")]
pub(crate) fn sleep_unless(duration: std::time::Duration, cancel: &std::sync::atomic::AtomicBool) {
    let end = std::time::Instant::now() + duration;
    while !cancel.load(std::sync::atomic::Ordering::Relaxed) {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(20)));
    }
}
