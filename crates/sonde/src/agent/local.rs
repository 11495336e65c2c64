//! The local store sink: profiles into a directory with an index, through
//! `sonde_profile::store` (which the CLI reads).

use std::path::PathBuf;
use std::time::Duration;

use sonde_profile::store::{Retention, Store, StoreError};

use super::sink::{Collected, Sink, SinkError};

/// The agent's default sink: a directory of profiles named as the seed's
/// `ContinuousProfiler` names them (`cpu_20061102_150405.pb.gz`, in UTC), with
/// an index that `sonde store ls DIR`, `sonde top --store DIR --kind heap
/// --from -1h` and `sonde growth --store DIR` read. Writes are atomic (a
/// temporary file, synced, renamed); retention is applied after every write.
/// An unwritable directory or a full disk fails the write, which the agent
/// retries with backoff; nothing partial is left behind.
///
/// One agent writes a directory at a time: the sink's open store holds
/// `DIR/.lock` (`flock`, see `sonde_profile::store::Store::open`) from its
/// first write, and a second agent's sink (in this process or another) finds it
/// held, logs that it needs a directory of its own, and drops its profiles.
///
/// Each stored profile carries, besides the agent's labels, `process`
/// (`PID@START`), which tells runs of the program apart: `sonde growth` fits
/// the last run in its window.
#[derive(Debug)]
pub struct LocalStore {
    dir: PathBuf,
    retention: Retention,
    store: Option<Store>,
    /// Whether a store was open before (a reopen after a failure).
    opened: bool,
}

impl LocalStore {
    /// A store in `dir` (created when the first profile is written), keeping
    /// everything until a retention bound is set.
    pub fn new(dir: impl Into<PathBuf>) -> LocalStore {
        LocalStore {
            dir: dir.into(),
            retention: Retention::default(),
            store: None,
            opened: false,
        }
    }

    /// Keeps at most `n` profiles, the oldest going first.
    pub fn max_count(mut self, n: usize) -> LocalStore {
        self.retention = self.retention.with_max_count(n);
        self
    }

    /// Keeps no profile that ended longer ago than `age`.
    pub fn max_age(mut self, age: Duration) -> LocalStore {
        self.retention = self.retention.with_max_age(age);
        self
    }

    /// Keeps at most `bytes` bytes of profiles (gzip-compressed sizes).
    pub fn max_bytes(mut self, bytes: u64) -> LocalStore {
        self.retention = self.retention.with_max_bytes(bytes);
        self
    }
}

impl Sink for LocalStore {
    type Payload = Collected;

    fn name(&self) -> String {
        format!("local store {}", self.dir.display())
    }

    fn check(&self) -> Result<(), String> {
        if self.dir.exists() && !self.dir.is_dir() {
            return Err(format!("{} is a file; give LocalStore a directory", self.dir.display()));
        }
        let r = &self.retention;
        if r.max_count == Some(0)
            || r.max_age.is_some_and(|a| a < Duration::from_secs(1))
            || r.max_bytes.is_some_and(|b| b < 64 * 1024)
        {
            return Err(format!(
                "this retention keeps nothing ({r:?}): keep at least one profile, a second, and 64 KiB"
            ));
        }
        Ok(())
    }

    fn prepare(&mut self, c: &Collected) -> Result<Option<Collected>, SinkError> {
        // In the store only (not a label for a fleet's series): which run of
        // the program wrote it, so that `sonde growth` does not fit across a
        // restart.
        let mut labels = (*c.labels).clone();
        labels.insert("process".into(), process_label().to_string());
        Ok(Some(Collected {
            labels: std::sync::Arc::new(labels),
            ..c.clone()
        }))
    }

    fn send(&mut self, c: &Collected) -> Result<(), SinkError> {
        let store = match &mut self.store {
            Some(s) => s,
            // Opened (and repaired, and locked) at the first write, and again
            // after a failure.
            None => {
                let opened = self.opened;
                let store = Store::open(&self.dir).map_err(|e| match e {
                    // Another writer from the start: no retry makes the
                    // directory ours. At a reopen, the lock may still be held
                    // a moment by a child this process forked (until it
                    // execs): retried.
                    StoreError::Busy { .. } if !opened => SinkError::fatal(e.to_string()),
                    _ => SinkError::retry(e.to_string()),
                })?;
                self.opened = true;
                self.store.insert(store)
            }
        };
        match store.write(c.file_kind(), &c.profile, c.snapshot, &c.labels, &self.retention) {
            Ok(e) => {
                tracing::debug!(file = %e.file, bytes = e.bytes, "sonde agent: profile saved");
                Ok(())
            }
            Err(e) => {
                // Reopen next time: the directory may have been replaced or repaired.
                self.store = None;
                Err(SinkError::retry(e.to_string()))
            }
        }
    }
}

/// `PID@START`: this process, told apart from earlier runs of the program
/// (START is when its first store write was prepared, RFC 3339).
fn process_label() -> &'static str {
    static LABEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LABEL.get_or_init(|| {
        format!(
            "{}@{}",
            std::process::id(),
            sonde_profile::store::rfc3339(sonde_profile::store::now_nanos())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_writer_per_directory() {
        let dir = std::env::temp_dir().join(format!("sonde-local-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut p = sonde_profile::Profile::default();
        p.sample_types
            .push(sonde_profile::ValueType::new("inuse_space", "bytes"));
        p.time_nanos = 1_764_500_000_000_000_000;
        let c = Collected {
            kind: "heap",
            profile: std::sync::Arc::new(p),
            snapshot: true,
            labels: Default::default(),
        };
        let mut first = LocalStore::new(&dir);
        first.send(&c).expect("the first takes the lock");
        let mut second = LocalStore::new(&dir);
        let e = second.send(&c).expect_err("the second finds it held");
        assert!(!e.retryable, "no retry makes the directory its own");
        assert!(e.message.contains("a directory of its own"), "{e}");
        drop(first);
        second.send(&c).expect("free again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
