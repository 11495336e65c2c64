//! Which threads have a CPU timer of their own, shared by the SIGPROF handler
//! and the collector: a fixed-size open-addressing table of thread ids that
//! either side claims with a compare-and-swap, so a thread never gets two timers.
//!
//! A thread that starts while a profile runs has no timer of its own yet. The
//! process-wide CPU timer's signals reach it (the kernel sends a process timer's
//! signal to the thread whose tick found it expired, so a thread receives them
//! in proportion to the CPU it uses) and the handler counts them for it. Once it
//! has used enough CPU to be a long-lived thread, the handler claims its slot
//! here and arms its own timer then and there. From then on the process timer's
//! signals on that thread find it [`TimedThreads::contains`] and are dropped:
//! its own timer counts it. The collector adopts what handlers armed, deletes
//! the timers of threads that exited and frees their slots.
//!
//! Everything a handler calls here is allocation-free and lock-free: a bounded
//! probe of at most [`MAX_PROBE`] slots and at most a few compare-and-swaps.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// `Slot::timer` of a slot being armed, or of a thread sampled by no timer of
/// its own (the collector).
pub(crate) const NO_TIMER: i32 = -1;
/// `Slot::tid` of a slot never used.
const EMPTY: u32 = 0;
/// `Slot::tid` of a slot whose thread exited; probes go past it.
const TOMBSTONE: u32 = u32::MAX;
/// The longest probe: a table crowded past it treats a thread as absent (it is
/// then sampled by the process timer only, which counts it all the same).
pub(crate) const MAX_PROBE: usize = 64;
/// How many times a claim retries after losing a race for a slot.
const RETRIES: usize = 4;

/// One thread's entry.
pub(crate) struct Slot {
    /// The thread id, [`EMPTY`] or [`TOMBSTONE`].
    tid: AtomicU32,
    /// Its timer id once armed (release-stored after `name`), else [`NO_TIMER`].
    timer: AtomicI32,
    /// Its name (`PR_GET_NAME`, NUL-padded), written by the claimer before `timer`.
    name: UnsafeCell<[u8; 16]>,
}

/// What [`TimedThreads::claim`] found.
pub(crate) enum Claim<'a> {
    /// The thread has a slot already (a timer of its own, or being armed).
    Present,
    /// The caller now owns this slot and must arm the thread's timer and
    /// [`Slot::publish`] it, or [`TimedThreads::release`] the slot.
    Claimed(&'a Slot),
    /// No room within the probe: the thread stays without a timer of its own.
    Full,
}

/// The table (see the module's documentation).
pub(crate) struct TimedThreads {
    slots: Box<[Slot]>,
    mask: usize,
}

// SAFETY: `tid` and `timer` are atomics; `name` is written only by the owner of a
// claimed slot before it release-stores `timer`, and read only after an acquire
// load of `timer` finds it armed.
unsafe impl Sync for TimedThreads {}

impl Slot {
    /// The name its claimer published with an armed timer (empty if none).
    pub(crate) fn name(&self) -> String {
        if self.timer.load(Ordering::Acquire) < 0 {
            return String::new();
        }
        // SAFETY: an armed `timer` was published after `name` (see `publish`),
        // and the acquire load above orders this read after it.
        decode_name(&unsafe { *self.name.get() })
    }

    /// Records the armed timer and the thread's name (signal-safe).
    pub(crate) fn publish(&self, timer: i32, name: [u8; 16]) {
        // SAFETY: the caller owns this claimed slot; nobody reads `name` before
        // the release store below.
        unsafe { *self.name.get() = name };
        self.timer.store(timer, Ordering::Release);
    }
}

/// A thread name as `PR_GET_NAME` gives it (NUL-padded), as a string (empty
/// for zeros).
pub(crate) fn decode_name(raw: &[u8; 16]) -> String {
    let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..len]).into_owned()
}

impl TimedThreads {
    /// A table for `capacity` threads at once (rounded up to a power of two).
    /// Allocates: call outside signal handlers.
    pub(crate) fn new(capacity: usize) -> TimedThreads {
        let n = capacity.next_power_of_two().max(MAX_PROBE);
        TimedThreads {
            slots: (0..n)
                .map(|_| Slot {
                    tid: AtomicU32::new(EMPTY),
                    timer: AtomicI32::new(NO_TIMER),
                    name: UnsafeCell::new([0; 16]),
                })
                .collect(),
            mask: n - 1,
        }
    }

    fn home(&self, tid: u32) -> usize {
        ((tid as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & self.mask
    }

    /// Whether `tid` has a slot (a timer of its own, one being armed, or none
    /// because it is the collector). Signal-safe: at most [`MAX_PROBE`] loads.
    pub(crate) fn contains(&self, tid: u32) -> bool {
        let home = self.home(tid);
        for k in 0..MAX_PROBE.min(self.slots.len()) {
            match self
                .slots
                .get((home + k) & self.mask)
                .map(|s| s.tid.load(Ordering::Acquire))
            {
                Some(t) if t == tid => return true,
                Some(EMPTY) | None => return false,
                _ => {}
            }
        }
        false
    }

    /// Finds `tid` or claims a slot for it. Signal-safe: no allocation, no lock,
    /// at most [`MAX_PROBE`] loads per try and [`RETRIES`] tries.
    pub(crate) fn claim(&self, tid: u32) -> Claim<'_> {
        if tid == EMPTY || tid == TOMBSTONE {
            return Claim::Full;
        }
        let home = self.home(tid);
        for _ in 0..RETRIES {
            // The first reusable slot of the probe, and what it held.
            let mut free = None;
            for k in 0..MAX_PROBE.min(self.slots.len()) {
                let Some(slot) = self.slots.get((home + k) & self.mask) else {
                    break;
                };
                match slot.tid.load(Ordering::Acquire) {
                    t if t == tid => return Claim::Present,
                    EMPTY => {
                        free = free.or(Some((slot, EMPTY)));
                        break;
                    }
                    TOMBSTONE => free = free.or(Some((slot, TOMBSTONE))),
                    _ => {}
                }
            }
            let Some((slot, was)) = free else {
                return Claim::Full;
            };
            // Two claimers of one thread probe the same slots and race for the
            // same first free one; the loser looks again and finds the winner.
            if slot
                .tid
                .compare_exchange(was, tid, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Claim::Claimed(slot);
            }
        }
        Claim::Full
    }

    /// Frees a slot: its thread exited, or arming its timer failed. The timer
    /// (if any) must be deleted by the caller first. Signal-safe.
    pub(crate) fn release(&self, slot: &Slot) {
        slot.timer.store(NO_TIMER, Ordering::Relaxed);
        slot.tid.store(TOMBSTONE, Ordering::Release);
    }

    /// Every thread with an armed timer: (slot, tid, timer).
    pub(crate) fn armed(&self) -> impl Iterator<Item = (&Slot, u32, i32)> + '_ {
        self.slots.iter().filter_map(|slot| {
            let tid = slot.tid.load(Ordering::Acquire);
            if tid == EMPTY || tid == TOMBSTONE {
                return None;
            }
            let timer = slot.timer.load(Ordering::Acquire);
            if timer < 0 {
                return None;
            }
            Some((slot, tid, timer))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_claimed_once_and_found_after() {
        let t = TimedThreads::new(64);
        let Claim::Claimed(slot) = t.claim(42) else {
            panic!("first claim")
        };
        assert!(matches!(t.claim(42), Claim::Present), "being armed counts as present");
        assert!(t.contains(42) && !t.contains(43));
        slot.publish(7, *b"worker\0\0\0\0\0\0\0\0\0\0");
        let armed: Vec<_> = t.armed().map(|(slot, tid, timer)| (tid, timer, slot.name())).collect();
        assert_eq!(armed, [(42, 7, "worker".to_string())]);
        t.release(slot);
        assert_eq!(t.armed().count(), 0);
        assert!(matches!(t.claim(42), Claim::Claimed(_)), "a freed slot is reused");
    }

    #[test]
    fn a_crowded_probe_is_full_and_tombstones_are_passed_over() {
        let t = TimedThreads::new(64);
        // Every slot taken: a new thread finds no room.
        let mut slots = Vec::new();
        let mut tid = 1;
        while slots.len() < 64 {
            if let Claim::Claimed(s) = t.claim(tid) {
                slots.push((tid, s));
            }
            tid += 1;
        }
        assert!(matches!(t.claim(100_000), Claim::Full));
        // A thread behind a freed slot is still found, not claimed twice.
        let (freed, slot) = slots[0];
        t.release(slot);
        for &(tid, _) in &slots[1..] {
            assert!(t.contains(tid), "tid {tid}");
            assert!(matches!(t.claim(tid), Claim::Present), "tid {tid}");
        }
        assert!(!t.contains(freed));
        assert!(matches!(t.claim(freed), Claim::Claimed(_)));
    }

    #[test]
    fn racing_claimers_of_one_thread_get_one_slot() {
        let _threads = crate::os::testing::threads_serialized();
        for round in 0..200u32 {
            let t = std::sync::Arc::new(TimedThreads::new(64));
            let wins: Vec<_> = (0..2)
                .map(|_| {
                    let t = t.clone();
                    std::thread::spawn(move || matches!(t.claim(1000 + round), Claim::Claimed(_)))
                })
                .collect();
            let won = wins.into_iter().filter_map(|h| h.join().ok()).filter(|&w| w).count();
            assert_eq!(won, 1, "round {round}");
        }
    }
}
