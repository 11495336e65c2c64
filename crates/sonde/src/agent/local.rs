//! The local store sink: profiles into a directory with an index, through
//! `sonde_profile::store` (which the CLI reads).

use std::path::{Path, PathBuf};
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
///
/// One agent writes a directory at a time: the sink holds a lock on
/// `DIR/.lock` (`flock`) from its first write, and a second agent's sink (in
/// this process or another) finds it held, logs that it needs a directory of
/// its own, and drops its profiles.
///
/// Each stored profile carries, besides the agent's labels, `process`
/// (`PID@START`), which tells runs of the program apart: `sonde growth` fits
/// the last run in its window.
#[derive(Debug)]
pub struct LocalStore {
    dir: PathBuf,
    retention: Retention,
    store: Option<Store>,
    lock: Option<std::fs::File>,
}

impl LocalStore {
    /// A store in `dir` (created when the first profile is written), keeping
    /// everything until a retention bound is set.
    pub fn new(dir: impl Into<PathBuf>) -> LocalStore {
        LocalStore {
            dir: dir.into(),
            retention: Retention::default(),
            store: None,
            lock: None,
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
        if self.lock.is_none() {
            self.lock = Some(lock_dir(&self.dir)?);
        }
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

/// Takes the directory's writer lock (`DIR/.lock`, created if needed).
fn lock_dir(dir: &Path) -> Result<std::fs::File, SinkError> {
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(dir)
        .map_err(|e| SinkError::retry(format!("creating the store directory {}: {e}", dir.display())))?;
    let path = dir.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| SinkError::retry(format!("opening {}: {e}", path.display())))?;
    // SAFETY: flock on a descriptor this function owns; no memory is involved.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(SinkError::fatal(format!(
                "another writer (an agent in this process or another) writes to the store {} (it holds {}); \
                 give each agent a directory of its own, such as profiles/<service>-<pid>",
                dir.display(),
                path.display()
            )));
        }
        return Err(SinkError::retry(format!("locking {}: {e}", path.display())));
    }
    Ok(f)
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
        let first = lock_dir(&dir).expect("the first takes the lock");
        let e = lock_dir(&dir).expect_err("the second finds it held");
        assert!(!e.retryable);
        assert!(e.message.contains("give each agent a directory of its own"), "{e}");
        drop(first);
        lock_dir(&dir).expect("free again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
