//! The hand-off between signal handlers and the collector: a fixed set of sample
//! slots, filled by any number of handlers at once and emptied by one collector
//! thread. A handler that finds no free slot drops its sample and counts it; it
//! never waits.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

/// The deepest stack a sample keeps (leaf side); deeper stacks are truncated and
/// counted.
pub(crate) const MAX_DEPTH: usize = 256;

const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const FULL: u8 = 2;

/// What a handler records for one sample.
pub(crate) struct SampleData {
    /// Thread id of the interrupted thread.
    pub tid: u32,
    /// How many sampling periods the sample stands for (1 + timer overruns).
    pub weight: u32,
    /// Number of valid entries in `frames`.
    pub len: u16,
    /// Whether the stack was deeper than `MAX_DEPTH`.
    pub truncated: bool,
    /// Whether the process-wide timer sent the signal (its weight counts the
    /// whole process's CPU time since its last expiry, not one thread's).
    pub process: bool,
    /// For a process timer's sample, the thread's name (`PR_GET_NAME`,
    /// NUL-padded): such a thread has no timer of its own yet and may exit
    /// before the collector could read its name. Zeros otherwise.
    pub name: [u8; 16],
    /// The pc, then return addresses.
    pub frames: [u64; MAX_DEPTH],
}

/// The sample slots. The states are kept apart from the (large) sample data so
/// that the consumer's scan touches a few cache lines, not every slot.
pub(crate) struct Ring {
    states: Box<[AtomicU8]>,
    data: Box<[UnsafeCell<SampleData>]>,
    next: AtomicUsize,
    dropped: AtomicU64,
}

// SAFETY: a slot's data is written only by the handler that moved its state from
// EMPTY to WRITING, and read only by the single consumer after observing FULL
// (acquire), which then releases it back to EMPTY.
unsafe impl Sync for Ring {}

impl Ring {
    /// Allocates `capacity` slots (outside any signal handler).
    pub(crate) fn new(capacity: usize) -> Ring {
        let n = capacity.max(1);
        Ring {
            states: (0..n).map(|_| AtomicU8::new(EMPTY)).collect(),
            data: (0..n)
                .map(|_| {
                    UnsafeCell::new(SampleData {
                        tid: 0,
                        weight: 0,
                        len: 0,
                        truncated: false,
                        process: false,
                        name: [0; 16],
                        frames: [0; MAX_DEPTH],
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Claims a free slot and lets `fill` write the sample into it. If no slot is
    /// free the sample is dropped and counted. Signal-safe.
    #[inline]
    pub(crate) fn produce(&self, fill: impl FnOnce(&mut SampleData)) {
        let n = self.states.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        // Look at a few slots before giving up, so that one slow slot does not drop samples.
        for k in 0..n.min(8) {
            let i = (start + k) % n;
            let (Some(state), Some(data)) = (self.states.get(i), self.data.get(i)) else {
                break;
            };
            if state
                .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: the WRITING state gives this handler exclusive access.
                fill(unsafe { &mut *data.get() });
                state.store(FULL, Ordering::Release);
                return;
            }
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Hands every filled slot to `take` and frees it. Only one thread may consume.
    pub(crate) fn consume(&self, mut take: impl FnMut(&SampleData)) {
        for (state, data) in self.states.iter().zip(self.data.iter()) {
            if state.load(Ordering::Acquire) == FULL {
                // SAFETY: FULL means the producer is done; only this consumer reads.
                take(unsafe { &*data.get() });
                state.store(EMPTY, Ordering::Release);
            }
        }
    }

    /// Number of slots.
    pub(crate) fn capacity(&self) -> usize {
        self.states.len()
    }

    /// Samples dropped because every slot was busy.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_drains_and_counts_drops() {
        let ring = Ring::new(4);
        for i in 0..6 {
            ring.produce(|s| {
                s.tid = i;
                s.len = 1;
                s.frames[0] = 100 + i as u64;
            });
        }
        assert_eq!(ring.dropped(), 2);
        let mut seen = Vec::new();
        ring.consume(|s| seen.push(s.frames[0]));
        seen.sort();
        assert_eq!(seen, vec![100, 101, 102, 103]);
        let mut again = 0;
        ring.consume(|_| again += 1);
        assert_eq!(again, 0, "slots are freed after consumption");
    }

    #[test]
    fn many_producers_one_consumer() {
        let _threads = crate::os::testing::threads_serialized();
        let ring = std::sync::Arc::new(Ring::new(64));
        let producers: Vec<_> = (0..4)
            .map(|t| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        ring.produce(|s| {
                            s.tid = t;
                            s.weight = 1;
                            s.len = 2;
                            s.frames[0] = i;
                            s.frames[1] = i ^ 0xffff;
                        });
                    }
                })
            })
            .collect();
        let mut got = 0u64;
        let mut check = |s: &SampleData| {
            assert_eq!(s.frames[1], s.frames[0] ^ 0xffff, "a sample is never torn");
            got += 1;
        };
        while producers.iter().any(|p| !p.is_finished()) {
            ring.consume(&mut check);
        }
        ring.consume(&mut check);
        for p in producers {
            p.join().expect("producer");
        }
        assert_eq!(got + ring.dropped(), 40_000);
    }
}
