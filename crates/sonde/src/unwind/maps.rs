//! Which memory a stack walk may read: a snapshot of the process's readable and
//! writable mappings, taken from `/proc/self/maps` outside the signal handler.
//!
//! A thread's stack is one mapping; everything between the interrupted stack
//! pointer and the end of the mapping that contains it is the live stack of the
//! running thread and is safe to read. Unwinders read nothing else on the stack.
//!
//! A thread that started after the last snapshot has a stack no snapshot knows.
//! Its thread pointer tells where it ends: glibc and musl put a thread's control
//! block (and its static TLS) at the top of the mapping they allocate for its
//! stack, so everything between the stack pointer and the thread pointer is that
//! thread's own stack ([`Regions::new_thread_stack_end`]).

use std::io;

/// A sorted set of address ranges, searchable without allocating.
#[derive(Debug, Default)]
pub(crate) struct Regions {
    /// `[start, end)` pairs, sorted by start, not overlapping.
    ranges: Box<[(u64, u64)]>,
    /// The main thread's stack (`[stack]`), which grows below its recorded start.
    main_stack: Option<(u64, u64)>,
}

/// How far below its recorded start the main thread's stack may have grown.
const MAIN_STACK_GROWTH: u64 = 256 << 20;
/// The largest stack a thread that is new since the snapshot is trusted to have.
const NEW_THREAD_STACK: u64 = 256 << 20;

impl Regions {
    /// Reads the current mappings of this process.
    pub(crate) fn snapshot() -> io::Result<Regions> {
        let text = std::fs::read_to_string("/proc/self/maps")?;
        Ok(Self::parse(&text))
    }

    /// Parses `/proc/<pid>/maps` text, keeping writable mappings (stacks are).
    pub(crate) fn parse(text: &str) -> Regions {
        let mut ranges = Vec::new();
        let mut main_stack = None;
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((s, e)) = range.split_once('-') else { continue };
            let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else {
                continue;
            };
            if !perms.starts_with("rw") {
                continue;
            }
            if line.ends_with("[stack]") {
                main_stack = Some((s, e));
            }
            ranges.push((s, e));
        }
        ranges.sort_unstable();
        Regions {
            ranges: ranges.into_boxed_slice(),
            main_stack,
        }
    }

    /// The end (highest address, exclusive) of the stack that contains `sp`.
    /// Signal-safe: no allocation, no locks.
    pub(crate) fn stack_end(&self, sp: u64) -> Option<u64> {
        // Binary search for the last range starting at or below `sp`.
        let (mut lo, mut hi) = (0usize, self.ranges.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.ranges.get(mid) {
                Some(&(start, _)) if start <= sp => lo = mid + 1,
                _ => hi = mid,
            }
        }
        if lo > 0 {
            if let Some(&(start, end)) = self.ranges.get(lo - 1) {
                if start <= sp && sp < end {
                    return Some(end);
                }
            }
        }
        match self.main_stack {
            Some((start, end)) if sp < end && sp >= start.saturating_sub(MAIN_STACK_GROWTH) => Some(end),
            _ => None,
        }
    }

    /// The end of the running thread's stack when no snapshot knows it (the
    /// thread started after the snapshot): its thread pointer, when that lies
    /// above `sp` within [`NEW_THREAD_STACK`], in no mapping the snapshot knows
    /// either (a thread sharing another's thread pointer is refused), and `sp` is
    /// not on an alternate signal stack. Must be called on the interrupted
    /// thread. Signal-safe: a register read and one raw system call.
    pub(crate) fn new_thread_stack_end(&self, sp: u64) -> Option<u64> {
        let tp = thread_pointer();
        if tp <= sp || tp - sp > NEW_THREAD_STACK || self.stack_end(tp).is_some() {
            return None;
        }
        if on_alternate_stack(sp) {
            return None;
        }
        Some(tp)
    }
}

/// The calling thread's thread pointer: `fs:0` on x86_64 (glibc and musl keep
/// the control block's own address there), `tpidr_el0` on aarch64.
#[inline(always)]
fn thread_pointer() -> u64 {
    let tp: u64;
    // SAFETY: reads the thread control block's self-pointer at fs:0, which every
    // thread of a glibc or musl process has; nothing is written.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly, preserves_flags));
    }
    // SAFETY: reads the thread pointer register; no memory is touched.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        tp = 0;
    }
    tp
}

/// Whether `sp` is on the calling thread's alternate signal stack, whose
/// mapping ends nowhere near its thread pointer. Signal-safe.
fn on_alternate_stack(sp: u64) -> bool {
    // SAFETY: stack_t is plain data; zero is valid.
    let mut ss: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: raw sigaltstack that only reads the current setting into `ss`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sigaltstack,
            std::ptr::null::<libc::stack_t>(),
            &mut ss as *mut libc::stack_t,
        )
    };
    if r != 0 {
        // Unknown: do not trust the thread pointer.
        return true;
    }
    let start = ss.ss_sp as u64;
    ss.ss_flags & libc::SS_DISABLE == 0 && sp >= start && sp < start + ss.ss_size as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_stack_of_the_current_thread() {
        let regions = Regions::snapshot().expect("maps");
        let local = 0u64;
        let sp = &local as *const u64 as u64;
        let end = regions.stack_end(sp).expect("the current stack is mapped");
        assert!(end > sp && end - sp < 64 << 20, "{sp:#x}..{end:#x}");
    }

    #[test]
    fn a_thread_newer_than_the_snapshot_is_bounded_by_its_thread_pointer() {
        let _threads = crate::os::testing::threads_serialized();
        let regions = Regions::snapshot().expect("maps");
        let (end, known) = std::thread::spawn(move || {
            let local = 0u64;
            let sp = std::hint::black_box(&local) as *const u64 as u64;
            (
                regions.new_thread_stack_end(sp).map(|e| (sp, e)),
                regions.stack_end(sp).is_some(),
            )
        })
        .join()
        .expect("thread");
        // A cached stack of an earlier thread may be in the snapshot already.
        if !known {
            let (sp, end) = end.expect("a new thread's stack ends at its thread pointer");
            assert!(end > sp && end - sp < 1 << 20, "{sp:#x}..{end:#x}");
        }
        // A thread the snapshot knows is bounded by its mapping, never by this.
        let fresh = Regions::snapshot().expect("maps");
        let local = 0u64;
        let sp = std::hint::black_box(&local) as *const u64 as u64;
        assert!(fresh.stack_end(sp).is_some());
        assert_eq!(fresh.new_thread_stack_end(sp), None);
    }

    #[test]
    fn parses_maps_text() {
        let r = Regions::parse(
            "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus-daemon\n\
             7ffd4e000000-7ffd4e021000 rw-p 00000000 00:00 0 [stack]\n\
             7f0000000000-7f0000100000 rw-p 00000000 00:00 0\n",
        );
        assert_eq!(r.stack_end(0x7f0000000010), Some(0x7f0000100000));
        assert_eq!(r.stack_end(0x00400010), None, "code is not a stack");
        assert_eq!(
            r.stack_end(0x7ffd4d000000),
            Some(0x7ffd4e021000),
            "main stack grew down"
        );
        assert_eq!(r.stack_end(0x10), None);
    }
}
