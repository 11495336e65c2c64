//! The local profile store: a directory of profiles with Go-style names
//! (`cpu_20061102_150405.pb.gz`, as the seed's `ContinuousProfiler` names
//! them, in UTC) and an index (`index.jsonl`) of each one's kind, time span,
//! labels and sample totals, so that listing a store or choosing a time window
//! decodes no profile.
//!
//! Written by `sonde::agent`'s local sink, read by the CLI (`sonde store ls`,
//! `--store DIR --kind K --from T --to T`, `sonde growth`).
//!
//! Crash safety: a profile is written to a hidden temporary file in the same
//! directory, synced, renamed to its name, the directory synced, and only then
//! its index line appended and synced. A crash at any point leaves either no
//! file, a hidden temporary file (removed when a writer next opens the store),
//! a complete file missing from the index (added back then), or a last index
//! line cut short (which readers skip, and the writer's open rewrites).
//! Retention removes a file before it records the removal, so the index never
//! revives a removed profile.
//!
//! One writer per directory at a time: [`Store::open`] takes `DIR/.lock`
//! (`flock`, released when the [`Store`] is dropped or its process ends) and a
//! second writer is refused with [`StoreError::Busy`], since a writer's open
//! removes temporary files that another's write in progress would own.
//! Readers ([`list`], [`load_window`]) take no lock.
//!
//! ```
//! use std::collections::BTreeMap;
//! use sonde_profile::{Profile, ValueType, store::{Retention, Store}};
//!
//! let dir = std::env::temp_dir().join(format!("sonde-store-doc-{}", std::process::id()));
//! let mut store = Store::open(&dir)?;
//! let mut p = Profile::default();
//! p.sample_types.push(ValueType::new("inuse_space", "bytes"));
//! p.time_nanos = 1_764_500_000_000_000_000;
//! let e = store.write("heap", &p, true, &BTreeMap::new(), &Retention::default())?;
//! assert!(e.file.starts_with("heap_2025"));
//! assert_eq!(sonde_profile::store::list(&dir)?.len(), 1);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), sonde_profile::store::StoreError>(())
//! ```

// index.rs: the index's lines; lock.rs: the one writer's lock; window.rs:
// reading a time window.
mod index;
mod lock;
mod window;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use index::Entry;
pub use window::{Window, load_window, select};

use crate::model::Profile;
use crate::report::civil_from_days;

/// The index file's name inside a store.
pub const INDEX: &str = "index.jsonl";

/// The largest file (bytes, compressed) a repair reads back into the index;
/// it is decompressed to at most 4 times this. Larger files, and files that
/// are not profiles, are left where they are, unindexed.
const MAX_REPAIR_BYTES: u64 = 16 << 20;

/// What can go wrong with a store. Each message names the directory or file
/// and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("{what} {}: {error}", path.display())]
    Io {
        /// What was being done (`writing`, `renaming`, …).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        error: io::Error,
    },
    /// The directory has no index: not a store (or not written yet).
    #[error(
        "{} is not a sonde profile store (it is not a directory with an {INDEX}); pass the directory \
         a sonde agent writes to (its LocalStore sink), or start an agent writing there first",
        dir.display()
    )]
    NotAStore {
        /// The directory.
        dir: PathBuf,
    },
    /// Another writer (a [`Store`] in this process or another, such as a
    /// sonde agent's local sink) has the directory open.
    #[error("{}", lock::busy_message(dir, lock, *holder))]
    Busy {
        /// The store's directory.
        dir: PathBuf,
        /// Its lock file (`DIR/.lock`).
        lock: PathBuf,
        /// The process id the holder wrote into the lock file, if readable.
        holder: Option<u32>,
    },
    /// No profile of the kind in the window.
    #[error("{0}")]
    Empty(String),
    /// A stored profile could not be read.
    #[error("{}: {error}", file.display())]
    Profile {
        /// The file.
        file: PathBuf,
        /// Why.
        error: crate::Error,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |error| StoreError::Io {
        what,
        path: path.to_path_buf(),
        error,
    }
}

/// How much a store keeps, enforced after every write: the oldest profiles
/// go first until every bound holds. The default keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// At most this many profiles.
    pub max_count: Option<usize>,
    /// No profile that ended longer ago than this.
    pub max_age: Option<Duration>,
    /// At most this many bytes of profiles in all (the index not counted).
    pub max_bytes: Option<u64>,
}

impl Retention {
    /// Keeps at most `n` profiles.
    pub fn with_max_count(mut self, n: usize) -> Retention {
        self.max_count = Some(n);
        self
    }

    /// Keeps no profile older than `age`.
    pub fn with_max_age(mut self, age: Duration) -> Retention {
        self.max_age = Some(age);
        self
    }

    /// Keeps at most `bytes` bytes of profiles.
    pub fn with_max_bytes(mut self, bytes: u64) -> Retention {
        self.max_bytes = Some(bytes);
        self
    }
}

/// A store open for writing.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    entries: Vec<Entry>,
    /// Removal lines in the index since it was last rewritten.
    removed_lines: usize,
    /// `DIR/.lock`, held (`flock`) while the store is open.
    _lock: File,
}

impl Store {
    /// Opens (creating it if needed) the store in `dir` for writing, and
    /// repairs what a crash may have left: hidden temporary files are removed,
    /// a damaged index is rewritten, entries whose file is gone are dropped,
    /// and complete profiles missing from the index are added to it.
    ///
    /// The store stays locked for writing (`DIR/.lock`) until it is dropped.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the directory cannot be created, read or
    /// written, is a file, or its `.lock` is not a regular file;
    /// [`StoreError::Busy`] when another writer has it open.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        if dir.exists() && !dir.is_dir() {
            return Err(io_err("opening the store", &dir)(io::Error::other(
                "it is a file; give the store a directory (it is created if missing)",
            )));
        }
        fs::create_dir_all(&dir).map_err(io_err("creating the store directory", &dir))?;
        let lock = lock::lock_for_writing(&dir)?;
        let index_path = dir.join(INDEX);
        let text = match fs::read(&index_path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_err("reading", &index_path)(e)),
        };
        let (mut entries, bad_lines) = index::read(&text);
        let mut damaged = bad_lines > 0;
        let mut on_disk = std::collections::HashSet::new();
        for f in fs::read_dir(&dir).map_err(io_err("listing", &dir))? {
            let f = f.map_err(io_err("listing", &dir))?;
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                // A write that never finished.
                let _ = fs::remove_file(f.path());
            } else if index::is_profile_name(&name) && f.file_type().is_ok_and(|t| t.is_file()) {
                // Regular files only: reading a FIFO would block for ever.
                on_disk.insert(name);
            }
        }
        let before = entries.len();
        entries.retain(|e| on_disk.contains(&e.file));
        damaged |= entries.len() != before;
        let known: std::collections::HashSet<String> = entries.iter().map(|e| e.file.clone()).collect();
        let mut missing: Vec<&String> = on_disk.iter().filter(|f| !known.contains(*f)).collect();
        missing.sort();
        for name in missing {
            // A complete profile (it was renamed into place only once synced)
            // whose index line a crash prevented.
            let path = dir.join(name);
            if fs::metadata(&path).map_or(true, |m| m.len() > MAX_REPAIR_BYTES) {
                continue;
            }
            let Ok(data) = fs::read(&path) else { continue };
            let bounded = crate::ReadOptions {
                max_size: MAX_REPAIR_BYTES * 4,
            };
            let Ok(p) = Profile::parse_with(&data, &bounded) else {
                continue;
            };
            let kind = name.split('_').next().unwrap_or("unknown");
            let snapshot = p.duration_nanos == 0;
            entries.push(Entry::describe(
                name.clone(),
                kind,
                &p,
                snapshot,
                data.len() as u64,
                &BTreeMap::new(),
            ));
            damaged = true;
        }
        entries.sort_by_key(|e| e.end_nanos);
        let mut store = Store {
            dir,
            entries,
            removed_lines: 0,
            _lock: lock,
        };
        if damaged || text.is_empty() {
            store.rewrite_index()?;
        }
        Ok(store)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The profiles in the store, oldest first (by end time).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Writes `p` as a profile of `kind` (file `KIND_YYYYMMDD_HHMMSS.pb.gz`
    /// from its end time in UTC, with `-1`, `-2`, … when that name is taken),
    /// indexes it with `labels`, then applies `retention`. `snapshot` says
    /// whether it shows one moment (see [`Entry::snapshot`]).
    ///
    /// # Errors
    /// [`StoreError::Io`] when a file cannot be written, synced or renamed (a
    /// full disk, a directory made read-only); nothing partial is left behind.
    pub fn write(
        &mut self,
        kind: &str,
        p: &Profile,
        snapshot: bool,
        labels: &BTreeMap<String, String>,
        retention: &Retention,
    ) -> Result<Entry, StoreError> {
        let mut data = Vec::new();
        p.write_to(&mut data).map_err(io_err("encoding", &self.dir))?;
        let end = p.time_nanos.saturating_add(p.duration_nanos.max(0));
        let file = self.free_name(kind, end);
        let path = self.dir.join(&file);
        let tmp = self.dir.join(format!(".{file}.tmp"));
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(io_err("creating", &tmp))?;
            f.write_all(&data).map_err(io_err("writing", &tmp))?;
            f.sync_all().map_err(io_err("syncing", &tmp))?;
            fs::rename(&tmp, &path).map_err(io_err("renaming into place", &path))?;
            sync_dir(&self.dir)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let entry = Entry::describe(file, kind, p, snapshot, data.len() as u64, labels);
        if let Err(e) = self.append(&entry.to_line()) {
            // Without its index line the file would come back at the next open
            // with no labels: take it away and report the failure instead.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        self.entries.push(entry.clone());
        self.entries.sort_by_key(|e| e.end_nanos);
        self.apply(retention, now_nanos())?;
        Ok(entry)
    }

    /// Removes the oldest profiles until `retention` holds at time `now`
    /// (ns since the epoch). Returns how many were removed.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the index cannot be written. A file that cannot
    /// be removed is left, and its entry kept, to be tried again next time.
    pub fn apply(&mut self, retention: &Retention, now: i64) -> Result<usize, StoreError> {
        let mut victims = 0;
        let mut count = self.entries.len();
        let mut bytes: u64 = self.entries.iter().map(|e| e.bytes).sum();
        let oldest_kept = retention
            .max_age
            .map(|age| now.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX)));
        for e in &self.entries {
            let too_many = retention.max_count.is_some_and(|n| count > n);
            let too_big = retention.max_bytes.is_some_and(|b| bytes > b);
            let too_old = oldest_kept.is_some_and(|t| e.end_nanos < t);
            if !(too_many || too_big || too_old) {
                break;
            }
            victims += 1;
            count -= 1;
            bytes -= e.bytes;
        }
        let mut removed = 0;
        let mut lines = String::new();
        let mut kept = Vec::with_capacity(self.entries.len());
        for (i, e) in std::mem::take(&mut self.entries).into_iter().enumerate() {
            if i < victims {
                match fs::remove_file(self.dir.join(&e.file)) {
                    Ok(()) => {}
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(_) => {
                        kept.push(e);
                        continue;
                    }
                }
                lines.push_str(&index::removed_line(&e.file));
                lines.push('\n');
                removed += 1;
            } else {
                kept.push(e);
            }
        }
        self.entries = kept;
        if removed > 0 {
            self.removed_lines += removed;
            if self.removed_lines > 256 && self.removed_lines > self.entries.len() {
                self.rewrite_index()?;
            } else {
                self.append(lines.trim_end_matches('\n'))?;
            }
        }
        Ok(removed)
    }

    /// A name for a profile of `kind` ending at `end` that no file has.
    fn free_name(&self, kind: &str, end: i64) -> String {
        let kind: String = kind
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
            .collect();
        let stem = format!("{kind}_{}", go_time_stamp(end));
        (0..)
            .map(|n| {
                if n == 0 {
                    format!("{stem}.pb.gz")
                } else {
                    format!("{stem}-{n}.pb.gz")
                }
            })
            .find(|name| !self.dir.join(name).exists())
            .expect("some suffix is free")
    }

    /// Appends `line` and a newline to the index, synced.
    fn append(&self, line: &str) -> Result<(), StoreError> {
        let path = self.dir.join(INDEX);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err("opening", &path))?;
        f.write_all(format!("{line}\n").as_bytes())
            .map_err(io_err("appending to", &path))?;
        f.sync_data().map_err(io_err("syncing", &path))
    }

    /// Replaces the index with one line per entry, atomically.
    fn rewrite_index(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join(INDEX);
        let tmp = self.dir.join(format!(".{INDEX}.tmp"));
        let mut text = String::new();
        for e in &self.entries {
            text.push_str(&e.to_line());
            text.push('\n');
        }
        let done = (|| {
            let mut f = File::create(&tmp).map_err(io_err("creating", &tmp))?;
            f.write_all(text.as_bytes()).map_err(io_err("writing", &tmp))?;
            f.sync_all().map_err(io_err("syncing", &tmp))?;
            fs::rename(&tmp, &path).map_err(io_err("renaming into place", &path))?;
            sync_dir(&self.dir)
        })();
        if done.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        self.removed_lines = 0;
        done
    }
}

/// Syncs a directory, so that a rename in it survives a power cut.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing the directory", dir))
}

/// The profiles of the store in `dir`, oldest first, from its index alone:
/// a last line cut short is skipped, as are entries whose file is gone.
///
/// # Errors
/// [`StoreError::NotAStore`] when `dir` has no index (or is a file);
/// [`StoreError::Io`] when it cannot be read.
pub fn list(dir: impl AsRef<Path>) -> Result<Vec<Entry>, StoreError> {
    list_checked(dir).map(|(entries, _)| entries)
}

/// [`list`], and what a reader should be told about the store: index lines
/// that could not be read (beyond a last line cut short by a crash), and
/// profile files the index does not name (a writer adds them back when it
/// next opens the store).
///
/// # Errors
/// As [`list`].
pub fn list_checked(dir: impl AsRef<Path>) -> Result<(Vec<Entry>, Vec<String>), StoreError> {
    let dir = dir.as_ref();
    if dir.exists() && !dir.is_dir() {
        return Err(StoreError::NotAStore { dir: dir.to_path_buf() });
    }
    let path = dir.join(INDEX);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !dir.is_dir() {
                return Err(io_err("reading the store", dir)(e));
            }
            return Err(StoreError::NotAStore { dir: dir.to_path_buf() });
        }
        Err(e) => return Err(io_err("reading", &path)(e)),
    };
    let text = String::from_utf8_lossy(&data);
    let (mut entries, bad) = index::read(&text);
    entries.retain(|e| dir.join(&e.file).is_file());
    entries.sort_by_key(|e| e.end_nanos);
    let mut warnings = Vec::new();
    let torn = usize::from(!text.is_empty() && !text.ends_with('\n'));
    if bad > torn {
        warnings.push(format!(
            "{}: {} line(s) of its index could not be read; the profiles they named are not listed \
             (an agent writing to the store repairs the index when it starts)",
            dir.display(),
            bad - torn
        ));
    }
    let named: std::collections::HashSet<&str> = entries.iter().map(|e| e.file.as_str()).collect();
    let unindexed = fs::read_dir(dir)
        .map_err(io_err("listing", dir))?
        .flatten()
        .filter(|f| {
            let name = f.file_name();
            let name = name.to_string_lossy();
            index::is_profile_name(&name) && !named.contains(&*name)
        })
        .count();
    if unindexed > 0 {
        warnings.push(format!(
            "{}: {unindexed} profile file(s) are not in its index and not listed (an agent writing to the \
             store adds them back when it starts)",
            dir.display()
        ));
    }
    Ok((entries, warnings))
}

/// ns since the Unix epoch, now.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `nanos` (ns since the epoch) in RFC 3339, UTC, to the second
/// (`2026-11-30T14:00:05Z`): how the CLI prints a store's times, so that they
/// can be pasted back into `--from`.
pub fn rfc3339(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Go's `time.Now().Format("20060102_150405")` of `nanos` (ns since the
/// epoch), in UTC.
pub fn go_time_stamp(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}_{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::{Sample, ValueType};

    pub(super) fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sonde-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    pub(super) fn heap(t: i64, bytes: i64) -> Profile {
        let mut p = Profile::default();
        p.sample_types.push(ValueType::new("inuse_space", "bytes"));
        p.samples.push(Sample {
            values: vec![bytes],
            ..Default::default()
        });
        p.time_nanos = t;
        p
    }

    #[test]
    fn go_style_names() {
        // The seed's example time, 2006-01-02 15:04:05 UTC.
        assert_eq!(go_time_stamp(1_136_214_245_000_000_000), "20060102_150405");
        assert_eq!(rfc3339(1_136_214_245_999_000_000), "2006-01-02T15:04:05Z");
    }

    #[test]
    fn writes_index_and_retention() {
        let dir = temp_dir("retention");
        let mut s = Store::open(&dir).expect("open");
        let t0 = 1_136_214_245_000_000_000;
        let none = BTreeMap::new();
        for i in 0..5 {
            s.write(
                "heap",
                &heap(t0 + i * 1_000_000_000, 100 * (i + 1)),
                true,
                &none,
                &Retention::default(),
            )
            .expect("write");
        }
        let names: Vec<String> = list(&dir).expect("list").into_iter().map(|e| e.file).collect();
        assert_eq!(names[0], "heap_20060102_150405.pb.gz");
        assert_eq!(names.len(), 5);
        // Same second: a suffix.
        let e = s
            .write("heap", &heap(t0, 1), true, &none, &Retention::default())
            .expect("write");
        assert_eq!(e.file, "heap_20060102_150405-1.pb.gz");
        // Count, then bytes, then age.
        let by_count = Retention::default().with_max_count(4);
        assert_eq!(s.apply(&by_count, t0).expect("apply"), 2);
        assert_eq!(list(&dir).expect("list").len(), 4);
        let one = s.entries()[0].bytes;
        assert_eq!(
            s.apply(&Retention::default().with_max_bytes(one * 3), t0)
                .expect("apply"),
            1
        );
        let by_age = Retention::default().with_max_age(Duration::from_millis(500));
        assert_eq!(s.apply(&by_age, t0 + 4_000_000_000).expect("apply"), 2);
        let left = list(&dir).expect("list");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].total("inuse_space"), Some(500));
        // A reopen (once the writer is gone) sees the same.
        drop(s);
        assert_eq!(Store::open(&dir).expect("reopen").entries(), left.as_slice());
        fs::remove_dir_all(&dir).ok();
    }

    #[cfg(unix)]
    #[test]
    fn open_repairs_what_a_crash_leaves() {
        let dir = temp_dir("repair");
        let mut s = Store::open(&dir).expect("open");
        let none = BTreeMap::new();
        let e = s
            .write("heap", &heap(1_000_000_000, 7), true, &none, &Retention::default())
            .expect("write");
        // A temporary file, a torn index line, an unindexed complete profile,
        // and an entry whose file is gone.
        fs::write(dir.join(".cpu_x.pb.gz.tmp"), b"half").expect("tmp");
        // A FIFO with a profile's name is not read (it would block for ever).
        // (Made in-process: a child process forked by a test running beside
        // one_writer_at_a_time would hold that test's lock until its exec.)
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("heap_fifo.pb.gz"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
        heap(2_000_000_000, 9)
            .write_file(dir.join("heap_19700101_000002.pb.gz"))
            .expect("orphan");
        let mut idx = OpenOptions::new().append(true).open(dir.join(INDEX)).expect("index");
        let gone = Entry {
            file: "gone.pb.gz".into(),
            ..e.clone()
        }
        .to_line();
        idx.write_all(format!("{gone}\n{{\"file\":\"cut").as_bytes())
            .expect("append");
        drop(idx);
        assert_eq!(list(&dir).expect("readers skip what is broken").len(), 1);
        drop(s);
        let s = Store::open(&dir).expect("repair");
        let files: Vec<&str> = s.entries().iter().map(|e| e.file.as_str()).collect();
        assert_eq!(files, [e.file.as_str(), "heap_19700101_000002.pb.gz"]);
        assert!(!dir.join(".cpu_x.pb.gz.tmp").exists());
        let text = fs::read_to_string(dir.join(INDEX)).expect("index");
        assert_eq!(index::read(&text).0, s.entries(), "{text}");
        assert_eq!(index::read(&text).1, 0, "rewritten whole");
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn not_a_store() {
        let dir = temp_dir("empty");
        fs::create_dir_all(&dir).expect("dir");
        let e = list(&dir).expect_err("no index");
        assert!(e.to_string().contains("is not a sonde profile store"), "{e}");
        let e = list(dir.join("nope")).expect_err("no dir");
        assert!(e.to_string().contains("nope"), "{e}");
        fs::remove_dir_all(&dir).ok();
    }
}
