//! Where the agent's profiles go: the [`Sink`] trait, and the bounded queue
//! with retries that stands between the agent's collections and each sink.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sonde_profile::Profile;

/// A profile the agent collected, as sinks receive it.
#[derive(Clone, Debug)]
pub struct Collected {
    /// The registry's name of its kind (`profile`, `heap`, `allocs`,
    /// `goroutine`, `tasks`, `mutex`, `block`, `wall`).
    pub kind: &'static str,
    /// The profile. For cumulative kinds (`allocs`, `mutex`, `block`) a
    /// **delta profile**: what happened since the previous collection (the
    /// first since the agent started); otherwise as the registry gives it.
    pub profile: Arc<Profile>,
    /// Whether it shows one moment (`heap`, `goroutine`, `tasks`) rather than
    /// a period (a CPU window, a delta).
    pub snapshot: bool,
    /// The agent's labels: `service_name`, `version`, `hostname` and user tags.
    pub labels: Arc<BTreeMap<String, String>>,
}

impl Collected {
    /// The name files and stores give the kind: `cpu` for the registry's
    /// `profile` (as the seed's `cpu_*.prof`), the registry's name otherwise.
    pub fn file_kind(&self) -> &'static str {
        if self.kind == "profile" { "cpu" } else { self.kind }
    }
}

/// Why a sink could not take a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkError {
    /// What went wrong, for the log.
    pub message: String,
    /// Whether trying again later may succeed (a timeout, a 5xx, a full
    /// disk), rather than never (a 4xx: the request itself is wrong).
    pub retryable: bool,
}

impl SinkError {
    /// A failure that may pass: the agent retries with backoff.
    pub fn retry(message: impl Into<String>) -> SinkError {
        SinkError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that will not pass: the agent drops the profile (and logs it).
    pub fn fatal(message: impl Into<String>) -> SinkError {
        SinkError {
            message: message.into(),
            retryable: false,
        }
    }
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A destination for the agent's profiles: [`LocalStore`](super::LocalStore),
/// `Pyroscope` (feature `pyroscope`), or one of the
/// user's (an OTLP exporter, a bucket). The agent calls it from its own
/// thread only. A panic in either method is caught and counts as a failure
/// that is not retried.
///
/// Delivery is in two steps so that a retry resends the same thing:
/// [`prepare`](Sink::prepare) turns each collected profile into the sink's
/// payload once, when it is collected (in collection order, so a sink that
/// keeps state between profiles, such as a delta, sees them in order);
/// [`send`](Sink::send) delivers a payload, and is called again for the same
/// payload after a retryable failure.
pub trait Sink: Send + 'static {
    /// What [`send`](Sink::send) delivers (encoded bytes, a request).
    type Payload: Send;

    /// The sink's name in logs and [`SinkStats`] (`local store ./profiles`).
    fn name(&self) -> String;

    /// The payload for `c`, or `None` when this sink takes no such profile.
    ///
    /// # Errors
    /// A profile the sink cannot take (logged; it is dropped).
    fn prepare(&mut self, c: &Collected) -> Result<Option<Self::Payload>, SinkError>;

    /// Delivers `payload`. Must return within the sink's own timeout, and
    /// by the deadline of [`set_deadline`](Sink::set_deadline) when one is set.
    ///
    /// # Errors
    /// A [`SinkError`]: retried with backoff when retryable, else dropped.
    fn send(&mut self, payload: &Self::Payload) -> Result<(), SinkError>;

    /// Checks the sink's settings when the agent starts: a message saying
    /// what to change makes [`Builder::start`](super::Builder::start) fail.
    /// The default accepts everything.
    ///
    /// # Errors
    /// The problem, in a sentence that says what to do.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// Sets the moment by which sends must end (the agent's stop, with its
    /// flush timeout), or none. A sink with a network timeout shortens it to
    /// fit. The default ignores it.
    fn set_deadline(&mut self, _deadline: Option<Instant>) {}
}

/// How the agent retries and queues for each sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Profiles waiting per sink; when full, the oldest is dropped (and counted).
    pub queue: usize,
    /// Attempts per profile, the first included.
    pub attempts: u32,
    /// The wait before the first retry; it doubles with each retry, up to
    /// `max_backoff`, and each wait is jittered down by up to half (so that a
    /// fleet of agents does not retry in step).
    pub backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Delivery {
    /// What is wrong with these settings, if anything.
    pub(super) fn problem(&self) -> Option<String> {
        let day = Duration::from_secs(24 * 3600);
        if self.queue == 0 || self.attempts == 0 {
            return Some("Delivery needs a queue of at least 1 and at least 1 attempt".into());
        }
        if self.backoff.is_zero() || self.backoff > day || self.max_backoff < self.backoff || self.max_backoff > day {
            return Some(format!(
                "Delivery's backoff ({:?}) and max_backoff ({:?}) must be above zero, in order, and at most a day",
                self.backoff, self.max_backoff
            ));
        }
        None
    }
}

impl Default for Delivery {
    /// 16 profiles, 5 attempts, 1 s doubling to 60 s.
    fn default() -> Delivery {
        Delivery {
            queue: 16,
            attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// What happened to one sink's profiles since the agent started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// Delivered.
    pub delivered: u64,
    /// Failed attempts (each retry counts).
    pub failures: u64,
    /// Dropped: the queue was full (the oldest went), the attempts ran out,
    /// or the failure was not retryable.
    pub dropped: u64,
    /// Waiting in the queue now.
    pub queued: usize,
    /// The last failure's message.
    pub last_error: Option<String>,
}

/// One sink with its queue, as the agent's loop drives it.
pub(super) trait Outlet: Send {
    fn enqueue(&mut self, c: &Collected, now: Instant);
    /// Passes the stop's deadline to the sink.
    fn set_deadline(&mut self, deadline: Instant);
    /// Sends what is due at `now`, oldest first, until one fails or `deadline`.
    fn deliver(&mut self, now: Instant, deadline: Instant);
    /// When the next queued profile is due, if any.
    fn next_due(&self) -> Option<Instant>;
    fn stats(&self) -> SinkStats;
}

struct Pending<P> {
    payload: P,
    attempts: u32,
    due: Instant,
}

pub(super) struct Queue<S: Sink> {
    sink: S,
    policy: Delivery,
    pending: VecDeque<Pending<S::Payload>>,
    stats: SinkStats,
    jitter: u64,
}

impl<S: Sink> Queue<S> {
    pub(super) fn new(sink: S, policy: Delivery) -> Queue<S> {
        let name = sink.name();
        let jitter = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), &name);
        Queue {
            sink,
            policy,
            pending: VecDeque::new(),
            stats: SinkStats {
                name,
                ..Default::default()
            },
            jitter,
        }
    }

    /// The wait after `attempts` failed attempts: backoff · 2^(attempts−1),
    /// capped, less a random part of up to half.
    fn backoff(&mut self, attempts: u32) -> Duration {
        let full = self
            .policy
            .backoff
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
            .min(self.policy.max_backoff);
        // xorshift: spreads retries, needs no randomness of quality.
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        let cut = (self.jitter % 1000) as f64 / 1000.0;
        full.mul_f64(1.0 - cut / 2.0)
    }
}

impl<S: Sink> Outlet for Queue<S> {
    fn set_deadline(&mut self, deadline: Instant) {
        self.sink.set_deadline(Some(deadline));
    }

    fn enqueue(&mut self, c: &Collected, now: Instant) {
        let sink = &mut self.sink;
        let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.prepare(c)))
            .unwrap_or_else(|_| Err(SinkError::fatal("the sink panicked preparing a profile")));
        match prepared {
            Ok(Some(payload)) => {
                if self.pending.len() >= self.policy.queue.max(1) {
                    self.pending.pop_front();
                    self.stats.dropped += 1;
                    tracing::warn!(
                        sink = %self.stats.name,
                        dropped = self.stats.dropped,
                        "sonde agent: the sink's queue is full; dropped its oldest profile"
                    );
                }
                self.pending.push_back(Pending {
                    payload,
                    attempts: 0,
                    due: now,
                });
            }
            Ok(None) => {}
            Err(e) => {
                self.stats.dropped += 1;
                self.stats.last_error = Some(e.message.clone());
                tracing::warn!(sink = %self.stats.name, error = %e, kind = c.kind, "sonde agent: the sink cannot take this profile; dropped");
            }
        }
    }

    fn deliver(&mut self, now: Instant, deadline: Instant) {
        while let Some(first) = self.pending.front_mut() {
            if first.due > now || Instant::now() >= deadline {
                return;
            }
            first.attempts += 1;
            let attempts = first.attempts;
            let sink = &mut self.sink;
            let payload = &first.payload;
            let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.send(payload)))
                .unwrap_or_else(|_| Err(SinkError::fatal("the sink panicked sending a profile")));
            match sent {
                Ok(()) => {
                    self.pending.pop_front();
                    self.stats.delivered += 1;
                }
                Err(e) => {
                    self.stats.failures += 1;
                    self.stats.last_error = Some(e.message.clone());
                    if !e.retryable || attempts >= self.policy.attempts {
                        self.pending.pop_front();
                        self.stats.dropped += 1;
                        tracing::warn!(
                            sink = %self.stats.name, error = %e, attempts,
                            "sonde agent: could not deliver a profile; dropped it"
                        );
                    } else {
                        let wait = self.backoff(attempts);
                        if let Some(first) = self.pending.front_mut() {
                            first.due = Instant::now() + wait;
                        }
                        tracing::warn!(
                            sink = %self.stats.name, error = %e, attempts, retry_in = ?wait,
                            "sonde agent: delivery failed; will retry"
                        );
                        // Keep order: the rest wait behind the first.
                        return;
                    }
                }
            }
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.pending.front().map(|p| p.due)
    }

    fn stats(&self) -> SinkStats {
        SinkStats {
            queued: self.pending.len(),
            ..self.stats.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails the first `fail` sends, retryably.
    struct Flaky {
        fail: u32,
        sent: Vec<u32>,
    }

    impl Sink for Flaky {
        type Payload = u32;
        fn name(&self) -> String {
            "flaky".into()
        }
        fn prepare(&mut self, c: &Collected) -> Result<Option<u32>, SinkError> {
            Ok(Some(c.profile.samples.len() as u32))
        }
        fn send(&mut self, p: &u32) -> Result<(), SinkError> {
            if self.fail > 0 {
                self.fail -= 1;
                return Err(SinkError::retry("down"));
            }
            self.sent.push(*p);
            Ok(())
        }
    }

    fn collected(n: usize) -> Collected {
        let mut p = Profile::default();
        p.samples.resize(n, Default::default());
        Collected {
            kind: "heap",
            profile: Arc::new(p),
            snapshot: true,
            labels: Default::default(),
        }
    }

    #[test]
    fn retries_with_growing_jittered_backoff_then_delivers_in_order() {
        let policy = Delivery {
            queue: 2,
            attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(150),
        };
        let mut q = Queue::new(Flaky { fail: 2, sent: vec![] }, policy);
        let t = Instant::now();
        let far = t + Duration::from_secs(60);
        q.enqueue(&collected(1), t);
        q.enqueue(&collected(2), t);
        q.deliver(t, far);
        let wait = q.next_due().expect("queued") - t;
        assert!(
            wait >= Duration::from_millis(50) && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        // Not yet due: nothing is sent.
        q.deliver(t, far);
        assert_eq!(q.stats().failures, 1);
        let later = t + Duration::from_secs(1);
        q.deliver(later, far);
        q.deliver(later + Duration::from_secs(1), far);
        assert_eq!(q.sink.sent, [1, 2]);
        let s = q.stats();
        assert_eq!((s.delivered, s.failures, s.dropped, s.queued), (2, 2, 0, 0));
        // A full queue drops its oldest, counted.
        q.sink.fail = 100;
        for n in 3..6 {
            q.enqueue(&collected(n), later);
        }
        assert_eq!(q.stats().dropped, 1);
        // Attempts run out: dropped.
        for i in 0..10 {
            q.deliver(later + Duration::from_secs(10 * i), far);
        }
        assert_eq!(q.stats().queued, 0);
        assert_eq!(q.stats().dropped, 3);
        assert_eq!(q.stats().last_error.as_deref(), Some("down"));
    }

    struct Panics;

    impl Sink for Panics {
        type Payload = ();
        fn name(&self) -> String {
            "panics".into()
        }
        fn prepare(&mut self, c: &Collected) -> Result<Option<()>, SinkError> {
            if c.profile.samples.len() == 7 {
                panic!("prepare");
            }
            Ok(Some(()))
        }
        fn send(&mut self, _: &()) -> Result<(), SinkError> {
            panic!("send")
        }
    }

    #[test]
    fn a_panicking_sink_is_a_dropped_profile_not_a_dead_agent() {
        let mut q = Queue::new(Panics, Delivery::default());
        let t = Instant::now();
        q.enqueue(&collected(7), t);
        q.enqueue(&collected(1), t);
        q.deliver(t, t + Duration::from_secs(1));
        let s = q.stats();
        assert_eq!((s.delivered, s.failures, s.dropped, s.queued), (0, 1, 2, 0));
        assert_eq!(s.last_error.as_deref(), Some("the sink panicked sending a profile"));
    }
}
