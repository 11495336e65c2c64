//! The CPU of threads without a timer of their own ("young": they started
//! during the profile and have not yet used [`super::signal::OWN_TIMER_AFTER_NS`]).
//! The process timer's signals that land on them say where they ran; their
//! total is what the CPU clocks leave: the process's CPU time, less what the
//! thread timers counted and what the collector used.

use std::collections::HashMap;

use super::profile::{StackCount, StackKey};

/// The process's CPU clock and the collector thread's, in ns.
pub(crate) struct Clocks {
    process_ns: u64,
    collector_ns: u64,
}

impl Clocks {
    pub(crate) fn now() -> Clocks {
        Clocks {
            process_ns: crate::os::clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID),
            collector_ns: crate::os::clock_ns(libc::CLOCK_THREAD_CPUTIME_ID),
        }
    }

    pub(crate) fn since(&self, start: &Clocks) -> Clocks {
        Clocks {
            process_ns: self.process_ns.saturating_sub(start.process_ns),
            collector_ns: self.collector_ns.saturating_sub(start.collector_ns),
        }
    }
}

/// How many periods of CPU the threads without a timer of their own used
/// while the profile ran: the process's CPU clock, less what the thread
/// timers counted (exact, but for the last tick of each thread) and the
/// collector's own CPU (never sampled). `None` when nothing is left.
///
/// The process timer's signals alone fall short beside busy threads with
/// timers of their own (60–87% of this figure in `tests/cpu_short_threads.rs`):
/// they count the whole process's CPU, those that land on a timed thread are
/// dropped, and each that lands on a young thread carries every thread's
/// periods since the last one.
pub(crate) fn young_target(clocks: &Clocks, timed: &HashMap<StackKey, StackCount>, period_ns: u64) -> Option<u64> {
    let timed_ns: u64 = timed
        .values()
        .map(|c| (c.periods + c.held).saturating_mul(period_ns))
        .sum();
    let left = clocks
        .process_ns
        .checked_sub(clocks.collector_ns)?
        .checked_sub(timed_ns)?;
    Some(left / period_ns.max(1)).filter(|&p| p > 0)
}

/// Scales the young threads' samples so that their periods (credited and
/// held) add up to `target`, each in proportion to what its signals counted;
/// rounding carries from one stack to the next, so the total is exact.
/// Returns (periods the signals counted, target), or `None` when there were
/// no such samples.
pub(crate) fn rescale(young: &mut HashMap<StackKey, StackCount>, target: u64) -> Option<(u64, u64)> {
    let counted: u64 = young.values().map(|c| c.periods + c.held).sum();
    if counted == 0 {
        return None;
    }
    let (mut acc, mut given) = (0u128, 0u64);
    let mut scale = |n: u64| {
        acc += u128::from(n) * u128::from(target);
        let upto = (acc + u128::from(counted) / 2) / u128::from(counted);
        let now = upto as u64 - given;
        given = upto as u64;
        now
    };
    for c in young.values_mut() {
        c.periods = scale(c.periods);
        c.held = scale(c.held);
    }
    Some((counted, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stacks(counts: &[(u64, u64)]) -> HashMap<StackKey, StackCount> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &(periods, held))| {
                let key: StackKey = (i as u32, vec![i as u64].into());
                (
                    key,
                    StackCount {
                        periods,
                        held,
                        signals: 1,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_target_is_what_the_clocks_leave() {
        let clocks = Clocks {
            process_ns: 1_000_000_000,
            collector_ns: 50_000_000,
        };
        // 700 periods of 1 ms counted by thread timers, 10 of them held.
        let timed = stacks(&[(690, 10)]);
        assert_eq!(young_target(&clocks, &timed, 1_000_000), Some(250));
        // Timers that counted more than the clock: nothing is left.
        let timed = stacks(&[(960, 0)]);
        assert_eq!(young_target(&clocks, &timed, 1_000_000), None);
        let timed = stacks(&[(950, 0)]);
        assert_eq!(young_target(&clocks, &timed, 1_000_000), None);
    }

    #[test]
    fn rescaling_keeps_proportions_and_hits_the_target() {
        let mut young = stacks(&[(30, 0), (10, 0), (50, 10)]);
        assert_eq!(rescale(&mut young, 50), Some((100, 50)));
        let total: u64 = young.values().map(|c| c.periods + c.held).sum();
        assert_eq!(total, 50);
        let by_tid = |tid: u32| young.iter().find(|(k, _)| k.0 == tid).map(|(_, c)| *c).expect("stack");
        assert_eq!(by_tid(0).periods, 15);
        assert_eq!(by_tid(1).periods, 5);
        assert_eq!((by_tid(2).periods, by_tid(2).held), (25, 5));
        // Rounding carries: three equal stacks scaled to 10 give 3, 4, 3 in
        // some order, 10 in all.
        let mut young = stacks(&[(1, 0), (1, 0), (1, 0)]);
        rescale(&mut young, 10);
        let mut got: Vec<u64> = young.values().map(|c| c.periods).collect();
        got.sort_unstable();
        assert_eq!(got, vec![3, 3, 4]);
        // No samples: nothing to scale.
        let mut empty = HashMap::new();
        assert_eq!(rescale(&mut empty, 10), None);
    }
}
