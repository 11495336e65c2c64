//! Continuous profiling (feature `agent`): the seed's `ContinuousProfiler`,
//! done properly. An agent takes the profiles you choose on a schedule, on one
//! background thread of its own, and hands them to sinks: a local store (the
//! default, `./profiles`), Grafana Pyroscope (feature `pyroscope`), or your own.
//!
//! ```no_run
//! use std::time::Duration;
//! use sonde::agent::{self, LocalStore};
//!
//! // The heap profile needs sonde's allocator (start() refuses "heap" without it).
//! #[global_allocator]
//! static ALLOC: sonde::heap::Sampled<std::alloc::System> = sonde::heap::Sampled::new(std::alloc::System);
//!
//! # fn main() -> Result<(), sonde::Error> {
//! let min = Duration::from_secs(60);
//! let agent = agent::builder("checkout")           // service_name
//!     .version(env!("CARGO_PKG_VERSION"))
//!     .cpu(Duration::from_secs(30), 5 * min)      // a 30 s CPU profile every 5 min
//!     .every("heap", 10 * min)                    // the heap every 10 min
//!     .every("goroutine", 5 * min)                // every thread's stack
//!     .sink(LocalStore::new("./profiles").max_age(7 * 24 * 60 * min))
//!     .start()?;
//! // ... serve ...
//! agent.stop();                                    // flushes and joins
//! # Ok(()) }
//! ```
//!
//! What it does, and how it differs from the seed's goroutines:
//!
//! * **Kinds** are the registry's ([`crate::profiles`]): `profile` (the CPU,
//!   collected over a window: [`Builder::cpu`]), `wall` (over a window too),
//!   `heap`, `allocs`, `goroutine`, `tasks` (feature `tokio`), `mutex`,
//!   `block`. The first collection of each comes one interval after
//!   [`Builder::start`], as the first tick of Go's `time.Ticker`.
//! * **Deltas**: cumulative kinds (`allocs`, `mutex`, `block`) are handed to
//!   sinks as delta profiles, what happened during the interval (the first:
//!   since the agent started), so that a window of them sums to what happened
//!   in the window.
//! * **One thread**: collections run one after another; a snapshot that falls
//!   due during a CPU window is taken when the window ends. The thread's own
//!   memory is sonde's and stays out of the program's heap profiles.
//! * **Failure**: the agent never panics the application and never blocks
//!   it. A collection that fails is logged (through `tracing`) and skipped; a
//!   sink that fails is retried with exponential backoff and jitter
//!   ([`Delivery`]); each sink has a bounded queue that drops its oldest
//!   profile, counted in [`SinkStats::dropped`], when full.
//! * **Stop**: [`AgentHandle::stop`] (or dropping the handle) cuts a running
//!   CPU window short and delivers it (unless it holds no sample: the stop
//!   came as it began, or the program was idle since), tries once more to deliver what is
//!   queued (for at most [`Builder::flush_timeout`]), and joins the thread.
//! * **fork()**: the agent stays in the parent. In a child the handle does
//!   nothing (dropping it neither waits nor touches a lock); start an agent of
//!   its own there, with a store directory of its own.
//!
//! The map of the module: `sink.rs` ([`Sink`], the queue and its retries),
//! `local.rs` ([`LocalStore`], over `sonde_profile::store`), `pyroscope.rs`
//! (`Pyroscope`, feature `pyroscope`), `run.rs` (the thread's loop).

mod local;
#[cfg(feature = "pyroscope")]
mod pyroscope;
mod run;
mod sink;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub use local::LocalStore;
#[cfg(feature = "pyroscope")]
pub use pyroscope::Pyroscope;
pub use sink::{Collected, Delivery, Sink, SinkError, SinkStats};

use crate::Error;
use crate::profiles::{self, Kind};

/// One kind on the agent's schedule.
#[derive(Clone, Debug)]
struct Job {
    kind: &'static Kind,
    every: Duration,
    /// For kinds collected over a duration: how long.
    window: Option<Duration>,
}

/// The shortest interval between two collections of a kind: below it an
/// agent would do little but profile.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The longest interval: a year.
const MAX_INTERVAL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The shortest window of a kind collected over a duration.
pub const MIN_WINDOW: Duration = Duration::from_millis(10);

/// Starts describing an agent for the service named `service_name` (the
/// `service_name` label every profile carries, as Pyroscope requires).
pub fn builder(service_name: &str) -> Builder {
    Builder {
        service_name: service_name.to_string(),
        labels: BTreeMap::new(),
        jobs: Vec::new(),
        sinks: Vec::new(),
        delivery: Delivery::default(),
        flush_timeout: Duration::from_secs(10),
        problems: Vec::new(),
    }
}

/// Makes a sink's outlet (its queue) once the delivery policy is known.
type MakeOutlet = Box<dyn FnOnce(Delivery) -> Box<dyn sink::Outlet> + Send>;

/// Describes an agent: what to collect, how often, with which labels, into
/// which sinks. Made by [`builder`]; [`Builder::start`] checks it all.
pub struct Builder {
    service_name: String,
    labels: BTreeMap<String, String>,
    jobs: Vec<(String, Duration, Option<Duration>)>,
    sinks: Vec<MakeOutlet>,
    delivery: Delivery,
    flush_timeout: Duration,
    problems: Vec<String>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("service_name", &self.service_name)
            .field("labels", &self.labels)
            .field("jobs", &self.jobs)
            .field("sinks", &self.sinks.len())
            .finish_non_exhaustive()
    }
}

/// Whether `name` is a valid label name (Prometheus's and Pyroscope's rule:
/// `[a-zA-Z_][a-zA-Z0-9_]*`, and not one of the reserved `__…__` names).
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

impl Builder {
    /// The `version` label (the program's version, to compare releases).
    pub fn version(self, version: &str) -> Builder {
        self.tag("version", version)
    }

    /// The `hostname` label; by default the machine's host name.
    pub fn hostname(self, host: &str) -> Builder {
        self.tag("hostname", host)
    }

    /// One more label on every profile (`region`, `env`). Names follow
    /// Prometheus's rule (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`);
    /// [`start`](Builder::start) refuses others.
    pub fn tag(mut self, name: &str, value: &str) -> Builder {
        if name == "service_name" {
            self.problems
                .push("service_name is the builder's argument: agent::builder(\"name\")".into());
        } else if !valid_label_name(name) {
            self.problems.push(format!(
                "label name {name:?} is not valid: use letters, digits and '_', not starting with a digit or \"__\""
            ));
        }
        self.labels.insert(name.to_string(), value.to_string());
        self
    }

    /// A CPU profile (the registry's `profile`) of `window` every `every`
    /// (the seed's: 30 s every 5 min).
    pub fn cpu(self, window: Duration, every: Duration) -> Builder {
        self.window("profile", window, every)
    }

    /// A profile of a kind collected over a duration (`profile`, `wall`):
    /// `window` long, every `every`.
    pub fn window(mut self, kind: &str, window: Duration, every: Duration) -> Builder {
        self.jobs.push((kind.to_string(), every, Some(window)));
        self
    }

    /// A profile of a kind taken at once (`heap`, `allocs`, `goroutine`,
    /// `tasks`, `mutex`, `block`) every `every`.
    pub fn every(mut self, kind: &str, every: Duration) -> Builder {
        self.jobs.push((kind.to_string(), every, None));
        self
    }

    /// One more sink. Without any, the agent writes to `LocalStore::new("profiles")`.
    pub fn sink<S: Sink>(mut self, sink: S) -> Builder {
        if let Err(problem) = sink.check() {
            self.problems.push(format!("{}: {problem}", sink.name()));
        }
        self.sinks.push(Box::new(move |d| {
            Box::new(sink::Queue::new(sink, d)) as Box<dyn sink::Outlet>
        }));
        self
    }

    /// How each sink's queue and retries behave (default [`Delivery::default`]).
    pub fn delivery(mut self, delivery: Delivery) -> Builder {
        self.delivery = delivery;
        self
    }

    /// How long [`AgentHandle::stop`] spends delivering what is queued
    /// (default 10 s, at most an hour). A delivery already under way when
    /// the stop comes ends first (within its sink's own timeout).
    pub fn flush_timeout(mut self, timeout: Duration) -> Builder {
        self.flush_timeout = timeout;
        self
    }

    /// Checks the description and starts the agent's thread.
    ///
    /// # Errors
    /// [`Error::UnknownKind`] for a kind this build lacks;
    /// [`Error::InvalidOption`] for an empty service name, an invalid label
    /// name, no kinds to collect, an interval outside [`MIN_INTERVAL`] to a year, a window on a kind
    /// taken at once (or none on a kind collected over a duration), a window
    /// under [`MIN_WINDOW`] or not shorter than its interval, a kind scheduled twice; [`Error::Io`]
    /// when the thread cannot be started.
    pub fn start(mut self) -> Result<AgentHandle, Error> {
        if let Some(p) = self.problems.first() {
            return Err(Error::InvalidOption(p.clone()));
        }
        if let Some(p) = self.delivery.problem() {
            return Err(Error::InvalidOption(p));
        }
        if self.flush_timeout > Duration::from_secs(3600) {
            return Err(Error::InvalidOption(format!(
                "the flush timeout ({:?}) is at most an hour: stop() waits that long",
                self.flush_timeout
            )));
        }
        if self.service_name.trim().is_empty() {
            return Err(Error::InvalidOption(
                "the service name is empty; name the program (Pyroscope rejects profiles without service_name)".into(),
            ));
        }
        if self.jobs.is_empty() {
            return Err(Error::InvalidOption(
                "the agent has nothing to collect; add kinds with .cpu(window, every) or .every(\"heap\", interval)"
                    .into(),
            ));
        }
        let mut jobs = Vec::new();
        for (name, every, window) in std::mem::take(&mut self.jobs) {
            let kind = profiles::lookup(&name).ok_or_else(|| Error::UnknownKind {
                name: name.clone(),
                known: profiles::kinds().map(Kind::name).collect::<Vec<_>>().join(", "),
            })?;
            if every < MIN_INTERVAL || every > MAX_INTERVAL {
                return Err(Error::InvalidOption(format!(
                    "the {name} interval ({every:?}) must be between {MIN_INTERVAL:?} and a year; the seed's are minutes"
                )));
            }
            match (kind.supports_delta(), window) {
                (true, Some(_)) => {
                    return Err(Error::InvalidOption(format!(
                        "{name} is taken at once, not over a window; use .every(\"{name}\", interval)"
                    )));
                }
                (false, None) => {
                    return Err(Error::InvalidOption(format!(
                        "{name} is collected over a duration; use .window(\"{name}\", length, interval) (or .cpu)"
                    )));
                }
                (false, Some(w)) if w < MIN_WINDOW || w >= every => {
                    return Err(Error::InvalidOption(format!(
                        "the {name} window ({w:?}) must be at least {MIN_WINDOW:?} and shorter than its interval ({every:?})"
                    )));
                }
                _ => {}
            }
            if jobs.iter().any(|j: &Job| j.kind.name() == name) {
                return Err(Error::InvalidOption(format!("{name} is scheduled twice; keep one")));
            }
            jobs.push(Job { kind, every, window });
        }
        if jobs.iter().any(|j| matches!(j.kind.name(), "heap" | "allocs")) && crate::heap::process_stats().allocs == 0 {
            return Err(Error::InvalidOption(
                "the heap and allocs profiles need sonde's allocator, which this program does not use (its \
                 profiles would be empty): add `#[global_allocator] static ALLOC: sonde::heap::Sampled<std::alloc::System> \
                 = sonde::heap::Sampled::new(std::alloc::System);`"
                    .into(),
            ));
        }
        let mut labels = std::mem::take(&mut self.labels);
        labels.insert("service_name".into(), self.service_name.clone());
        labels.entry("hostname".into()).or_insert_with(crate::os::hostname);
        if self.sinks.is_empty() {
            self = self.sink(LocalStore::new("profiles"));
        }
        let delivery = self.delivery.clone();
        let outlets: Vec<Box<dyn sink::Outlet>> = self.sinks.drain(..).map(|make| make(delivery.clone())).collect();
        let shared = Arc::new(Shared::default());
        let state = run::State::new(jobs, outlets, Arc::new(labels), Arc::clone(&shared), self.flush_timeout);
        let thread = std::thread::Builder::new()
            .name("sonde-agent".into())
            .spawn(move || run::run(state))
            .map_err(Error::Io)?;
        Ok(AgentHandle {
            shared,
            thread: Some(thread),
            pid: std::process::id(),
        })
    }
}

/// What the agent's thread and its handle share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    wake: Mutex<bool>,
    woken: Condvar,
    stats: Mutex<AgentStats>,
}

impl Shared {
    fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        *self.wake.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.woken.notify_all();
    }
}

/// What the agent did since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Profiles collected, per kind (registry names).
    pub collected: BTreeMap<&'static str, u64>,
    /// Collections that failed (logged and skipped).
    pub collect_errors: u64,
    /// Each sink's deliveries, failures, drops and queue.
    pub sinks: Vec<SinkStats>,
}

/// A running agent. [`stop`](AgentHandle::stop) (or dropping it) flushes and
/// joins its thread.
#[derive(Debug)]
pub struct AgentHandle {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The process that started the agent: a child of `fork()` has the
    /// handle but not the thread.
    pid: u32,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl AgentHandle {
    /// What the agent did so far (in a child of `fork()`, what it had done
    /// when the process forked, if that can be read without waiting).
    pub fn stats(&self) -> AgentStats {
        if self.forked() {
            return match self.shared.stats.try_lock() {
                Ok(s) => s.clone(),
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner().clone(),
                Err(std::sync::TryLockError::WouldBlock) => AgentStats::default(),
            };
        }
        self.shared.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether this is a child of `fork()`, where the agent's thread does not exist.
    fn forked(&self) -> bool {
        std::process::id() != self.pid
    }

    /// Stops the agent: a CPU window in progress ends now and is delivered
    /// (if it holds a sample),
    /// queued profiles get one more attempt (within the flush timeout), and
    /// the thread is joined. Returns the final [`AgentStats`]. Takes at most
    /// the flush timeout, plus the sink's timeout when a delivery is under way
    /// as the stop comes.
    pub fn stop(mut self) -> AgentStats {
        self.stop_and_join();
        self.stats()
    }

    fn stop_and_join(&mut self) {
        if self.forked() {
            // The thread stayed in the parent: nothing to stop, and joining a
            // thread this process does not have would wait forever. Its locks
            // may have been held at the fork: not touched.
            std::mem::forget(self.thread.take());
            return;
        }
        self.shared.request_stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(b: Builder) -> String {
        b.start().expect_err("refused").to_string()
    }

    #[test]
    fn bad_descriptions_are_refused_saying_what_to_do() {
        let s = Duration::from_secs(1);
        assert!(err(builder("svc")).contains("nothing to collect"));
        assert!(err(builder(" ").every("heap", s)).contains("service name is empty"));
        assert!(err(builder("svc").every("heapz", s)).contains("no profile kind named \"heapz\""));
        assert!(err(builder("svc").every("profile", s)).contains(".window(\"profile\""));
        assert!(err(builder("svc").window("heap", s, s * 2)).contains(".every(\"heap\""));
        assert!(err(builder("svc").cpu(s, s)).contains("shorter than its interval"));
        assert!(err(builder("svc").every("heap", Duration::ZERO)).contains("must be between 100ms and a year"));
        assert!(err(builder("svc").every("heap", Duration::from_nanos(1))).contains("between"));
        assert!(err(builder("svc").every("heap", Duration::MAX)).contains("between"));
        assert!(err(builder("svc").cpu(Duration::from_nanos(1), s)).contains("at least 10ms"));
        assert!(err(builder("svc").every("heap", s).every("heap", s)).contains("twice"));
        assert!(err(builder("svc").tag("1x", "v").every("heap", s)).contains("label name \"1x\""));
        assert!(err(builder("svc").tag("__name__", "v").every("heap", s)).contains("not valid"));
        assert!(err(builder("svc").tag("service_name", "v").every("heap", s)).contains("builder's argument"));
        let huge = Delivery {
            backoff: Duration::MAX,
            max_backoff: Duration::MAX,
            ..Delivery::default()
        };
        assert!(err(builder("svc").every("heap", s).delivery(huge)).contains("at most a day"));
        let none = Delivery {
            queue: 0,
            ..Delivery::default()
        };
        assert!(err(builder("svc").every("heap", s).delivery(none)).contains("queue of at least 1"));
        assert!(err(builder("svc").every("heap", s).flush_timeout(Duration::MAX)).contains("at most an hour"));
        assert!(err(builder("svc").every("heap", s).sink(LocalStore::new("x").max_count(0))).contains("keeps nothing"));
        // This test binary does not use sonde's allocator.
        assert_eq!(crate::heap::process_stats().allocs, 0);
        assert!(err(builder("svc").every("heap", s)).contains("#[global_allocator]"));
    }
}
