//! Time windows of a store: the profiles of one kind that ended within a
//! window, read as one profile.

use std::path::Path;

use super::{Entry, StoreError, rfc3339};
use crate::decode::ReadOptions;
use crate::model::Profile;

/// The profiles of one kind that ended between two moments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// The kind (`heap`, `cpu`, …).
    pub kind: String,
    /// From this moment on (ns since the epoch, inclusive); `None`: from the first.
    pub from: Option<i64>,
    /// Up to this moment (ns since the epoch, inclusive); `None`: to the last.
    pub to: Option<i64>,
}

impl Window {
    /// Whether `e` belongs to the window.
    pub fn holds(&self, e: &Entry) -> bool {
        e.kind == self.kind && self.from.is_none_or(|f| e.end_nanos >= f) && self.to.is_none_or(|t| e.end_nanos <= t)
    }

    fn describe(&self) -> String {
        let t = |n: Option<i64>, open: &str| n.map_or(open.to_string(), rfc3339);
        format!("from {} to {}", t(self.from, "the first"), t(self.to, "the last"))
    }
}

/// The entries of `entries` in `window`, oldest first.
pub fn select<'a>(entries: &'a [Entry], window: &Window) -> Vec<&'a Entry> {
    let mut v: Vec<&Entry> = entries.iter().filter(|e| window.holds(e)).collect();
    v.sort_by_key(|e| e.end_nanos);
    v
}

/// Reads the window as one profile: a window of snapshots (`heap`,
/// `goroutine`, `tasks`) as its **last** snapshot, the state at its end (so
/// that two windows compare the heap at two moments, and the difference of
/// their `alloc_space` is what was allocated between); a window of periods
/// (CPU windows, deltas of `allocs`, `mutex`, `block`) as the **sum** of its
/// profiles. Returns the profile and one line saying what was read.
///
/// # Errors
/// [`StoreError::Empty`] when the window holds no profile of the kind
/// (naming the kinds and time range the store has); [`StoreError::Profile`]
/// when a file cannot be read or the profiles cannot be merged.
pub fn load_window(
    dir: &Path,
    entries: &[Entry],
    window: &Window,
    opts: &ReadOptions,
) -> Result<(Profile, String), StoreError> {
    let chosen = select(entries, window);
    let Some(last) = chosen.last() else {
        return Err(StoreError::Empty(empty_window_message(dir, entries, window)));
    };
    let read = |e: &Entry| -> Result<Profile, StoreError> {
        let path = dir.join(&e.file);
        let data = std::fs::read(&path).map_err(super::io_err("reading", &path))?;
        Profile::parse_with(&data, opts).map_err(|error| StoreError::Profile { file: path, error })
    };
    if last.snapshot {
        let note = format!(
            "{}: the last of {} {} snapshot(s) {}: {}",
            dir.display(),
            chosen.len(),
            window.kind,
            window.describe(),
            last.file
        );
        return Ok((read(last)?, note));
    }
    let profiles = chosen.iter().map(|e| read(e)).collect::<Result<Vec<_>, _>>()?;
    // Name the file that does not fit, rather than the whole window.
    let types = |p: &Profile| p.sample_type_names();
    if let Some(i) = profiles.iter().position(|p| types(p) != types(&profiles[0])) {
        return Err(StoreError::Empty(format!(
            "{} has sample types {} but {} has {}: not one kind; narrow the window to leave one out",
            dir.join(&chosen[i].file).display(),
            types(&profiles[i]).join(", "),
            chosen[0].file,
            types(&profiles[0]).join(", ")
        )));
    }
    let merged = crate::merge(profiles).map_err(|error| StoreError::Profile {
        file: dir.to_path_buf(),
        error,
    })?;
    let note = format!(
        "{}: {} {} profile(s) {} merged",
        dir.display(),
        chosen.len(),
        window.kind,
        window.describe()
    );
    Ok((merged, note))
}

/// Why a window is empty, with what the store does have.
fn empty_window_message(dir: &Path, entries: &[Entry], window: &Window) -> String {
    let mut kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let of_kind: Vec<&Entry> = entries.iter().filter(|e| e.kind == window.kind).collect();
    match (of_kind.first(), of_kind.last()) {
        _ if entries.is_empty() => format!("the store {} holds no profiles yet", dir.display()),
        (Some(first), Some(last)) => format!(
            "no {} profile in {} {}; its {} {} profiles span {} to {}; widen the window",
            window.kind,
            dir.display(),
            window.describe(),
            of_kind.len(),
            window.kind,
            rfc3339(first.end_nanos),
            rfc3339(last.end_nanos)
        ),
        _ => format!(
            "the store {} has no {} profiles; it has: {} (choose one with --kind)",
            dir.display(),
            window.kind,
            kinds.join(", ")
        ),
    }
}
