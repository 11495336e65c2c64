//! The agent's thread: the schedule, the collections, the deliveries.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sonde_profile::Profile;

use super::sink::{Collected, Outlet};
use super::{Job, Shared};
use crate::profiles::{self, Params};

/// A job with its next due time and, for cumulative kinds, the profile its
/// next delta is taken against.
struct Scheduled {
    job: Job,
    due: Instant,
    before: Option<Profile>,
}

/// Everything the thread owns.
pub(super) struct State {
    jobs: Vec<Scheduled>,
    outlets: Vec<Box<dyn Outlet>>,
    labels: Arc<BTreeMap<String, String>>,
    shared: Arc<Shared>,
    flush_timeout: Duration,
    /// Collections that failed.
    errors: u64,
}

impl State {
    pub(super) fn new(
        jobs: Vec<Job>,
        outlets: Vec<Box<dyn Outlet>>,
        labels: Arc<BTreeMap<String, String>>,
        shared: Arc<Shared>,
        flush_timeout: Duration,
    ) -> State {
        let start = Instant::now();
        let jobs = jobs
            .into_iter()
            .map(|job| Scheduled {
                due: start + job.every,
                job,
                before: None,
            })
            .collect();
        State {
            jobs,
            outlets,
            labels,
            shared,
            flush_timeout,
            errors: 0,
        }
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Collects job `i`'s kind, or logs (and counts) why it could not.
    /// `None` also for a cumulative kind's first collection when its baseline
    /// could not be taken: it becomes the baseline.
    fn collect(&mut self, i: usize) -> Option<Collected> {
        let s = &mut self.jobs[i];
        let kind = s.job.kind;
        let params = s
            .job
            .window
            .map_or_else(Params::default, |w| Params::default().with_seconds(w));
        let stop = &self.shared.stop;
        let taken = catch_unwind(AssertUnwindSafe(|| kind.take_until(&params, stop)));
        let profile = match taken {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                tracing::warn!(kind = kind.name(), error = %e, "sonde agent: collection failed; skipped");
                self.errors += 1;
                return None;
            }
            Err(_) => {
                tracing::error!(kind = kind.name(), "sonde agent: collection panicked; skipped");
                self.errors += 1;
                return None;
            }
        };
        let cut = s
            .job
            .window
            .is_some_and(|w| profile.duration_nanos < w.as_nanos() as i64);
        if cut && stop.load(Ordering::SeqCst) && profile.samples.is_empty() {
            // Cut short with no sample (the stop came as it began, or the
            // program was idle since): nothing to deliver.
            tracing::debug!(
                kind = kind.name(),
                duration_ns = profile.duration_nanos,
                "sonde agent: the window the stop cut holds no samples; not delivered"
            );
            return None;
        }
        let profile = if kind.cumulative() {
            let before = s.before.replace(profile.clone())?;
            match profiles::delta(before, profile) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(kind = kind.name(), error = %e, "sonde agent: delta failed; skipped");
                    self.errors += 1;
                    return None;
                }
            }
        } else {
            profile
        };
        Some(Collected {
            kind: kind.name(),
            profile: Arc::new(profile),
            snapshot: kind.supports_delta() && !kind.cumulative(),
            labels: Arc::clone(&self.labels),
        })
    }

    /// Takes the baselines the cumulative kinds' first deltas are taken against.
    fn baselines(&mut self) {
        for s in self.jobs.iter_mut().filter(|s| s.job.kind.cumulative()) {
            let kind = s.job.kind;
            match catch_unwind(AssertUnwindSafe(|| kind.take(&Params::default()))) {
                Ok(Ok(p)) => s.before = Some(p),
                _ => tracing::warn!(
                    kind = kind.name(),
                    "sonde agent: no baseline; the first delta is skipped"
                ),
            }
        }
    }

    fn publish(&self, collected: &BTreeMap<&'static str, u64>) {
        let mut stats = self.shared.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.collected.clone_from(collected);
        stats.collect_errors = self.errors;
        stats.sinks = self.outlets.iter().map(|o| o.stats()).collect();
    }

    /// Sleeps until `until` or a stop request.
    fn wait(&self, until: Instant) {
        let mut woken = self.shared.wake.lock().unwrap_or_else(|e| e.into_inner());
        while !*woken {
            let now = Instant::now();
            if now >= until {
                return;
            }
            woken = match self.shared.woken.wait_timeout(woken, until - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// The thread's body.
pub(super) fn run(mut st: State) {
    // Everything this thread allocates is sonde's, not the program's.
    crate::alloc::quiet_thread();
    st.baselines();
    let mut collected: BTreeMap<&'static str, u64> = BTreeMap::new();
    st.publish(&collected);
    while !st.stopping() {
        let now = Instant::now();
        // Snapshots first: they take milliseconds, a window takes its length.
        let mut due: Vec<usize> = (0..st.jobs.len()).filter(|&i| st.jobs[i].due <= now).collect();
        due.sort_by_key(|&i| (st.jobs[i].job.window.is_some(), st.jobs[i].due));
        for i in due {
            if st.stopping() && st.jobs[i].job.window.is_some() {
                break;
            }
            if let Some(c) = st.collect(i) {
                *collected.entry(c.kind).or_default() += 1;
                let at = Instant::now();
                for o in &mut st.outlets {
                    o.enqueue(&c, at);
                }
            }
            let s = &mut st.jobs[i];
            s.due += s.job.every;
            let after = Instant::now();
            if s.due <= after {
                // Fell behind (a long window, a stopped process): skip the
                // missed ticks, as Go's ticker drops them.
                let behind = after - s.due;
                let every = s.job.every.as_nanos().max(1);
                let skip = behind.as_nanos() / every + 1;
                s.due += Duration::from_nanos((skip * every).min(u128::from(u64::MAX)) as u64);
            }
        }
        let next_job = st.jobs.iter().map(|s| s.due).min().unwrap_or_else(Instant::now);
        // Deliveries may take until the next collection is due.
        let deadline = next_job.max(Instant::now() + Duration::from_millis(100));
        for o in &mut st.outlets {
            o.deliver(Instant::now(), deadline);
        }
        st.publish(&collected);
        let next_retry = st.outlets.iter().filter_map(|o| o.next_due()).min();
        let until = next_retry.map_or(next_job, |r| r.min(next_job));
        st.wait(until);
    }
    // One more attempt for what is queued, within the flush timeout.
    let deadline = Instant::now() + st.flush_timeout;
    let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
    for o in &mut st.outlets {
        o.set_deadline(deadline);
        o.deliver(far, deadline);
    }
    st.publish(&collected);
}
