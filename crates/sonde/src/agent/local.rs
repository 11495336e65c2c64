//! The local store sink: profiles into a directory with an index, through
//! `sonde_profile::store` (which the CLI reads).

use std::path::PathBuf;
use std::time::Duration;

use sonde_profile::store::{Retention, Store};

use super::sink::{Collected, Sink, SinkError};

/// The agent's default sink: a directory of profiles named as the seed's
/// `ContinuousProfiler` names them (`cpu_20061102_150405.pb.gz`, in UTC), with
/// an index that `sonde store ls DIR`, `sonde top --store DIR --kind heap
/// --from -1h` and `sonde growth --store DIR` read. Writes are atomic (a
/// temporary file, synced, renamed); retention is applied after every write.
/// An unwritable directory or a full disk fails the write, which the agent
/// retries with backoff; nothing partial is left behind.
#[derive(Debug)]
pub struct LocalStore {
    dir: PathBuf,
    retention: Retention,
    store: Option<Store>,
}

impl LocalStore {
    /// A store in `dir` (created when the first profile is written), keeping
    /// everything until a retention bound is set.
    pub fn new(dir: impl Into<PathBuf>) -> LocalStore {
        LocalStore {
            dir: dir.into(),
            retention: Retention::default(),
            store: None,
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

    fn prepare(&mut self, c: &Collected) -> Result<Option<Collected>, SinkError> {
        Ok(Some(c.clone()))
    }

    fn send(&mut self, c: &Collected) -> Result<(), SinkError> {
        let store = match &mut self.store {
            Some(s) => s,
            // Opened (and repaired) at the first write, and again after a failure.
            None => self
                .store
                .insert(Store::open(&self.dir).map_err(|e| SinkError::retry(e.to_string()))?),
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
