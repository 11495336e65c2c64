//! The store's one writer: `DIR/.lock`, held with `flock` by the [`Store`](super::Store)
//! open for writing (see the parent module's documentation).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::{StoreError, io_err};

/// The writer's lock file in a store's directory.
pub(super) const LOCK: &str = ".lock";

/// [`StoreError::Busy`]'s text.
pub(super) fn busy_message(dir: &Path, lock: &Path, holder: Option<u32>) -> String {
    let who = match holder {
        Some(pid) if pid == std::process::id() => {
            " (this process, or a child it forked and that has not exited yet)".to_string()
        }
        Some(pid) => format!(" (process {pid})"),
        None => String::new(),
    };
    format!(
        "another writer{who} has the store {} open: a sonde agent's LocalStore or a Store, in this process or \
         another. Give each writer a directory of its own, one per running instance that stays the same across \
         restarts so that retention applies (such as profiles/<service>-<instance>), or stop the other writer \
         first. Do not delete {}: the lock goes with its holder, even when it crashes.",
        dir.display(),
        lock.display()
    )
}

/// Takes `DIR/.lock` (created if needed) for one writer: an exclusive `flock`,
/// which the kernel releases when the file is closed, also by a crash (a child
/// the process forks shares it until it execs or exits). The holder writes its
/// process id there for the next writer's [`StoreError::Busy`].
#[cfg(unix)]
pub(super) fn lock_for_writing(dir: &Path) -> Result<File, StoreError> {
    use rustix::fs::{FlockOperation, OFlags, flock};
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(LOCK);
    let not_a_file = || {
        io_err("using", &path)(io::Error::other(
            "it is not a regular file, and the store keeps its writer's lock there; remove it",
        ))
    };
    if fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
        return Err(not_a_file());
    }
    // Never waits (for a FIFO's other end) and never follows a symbolic link.
    let flags = (OFlags::NONBLOCK | OFlags::NOFOLLOW).bits() as i32;
    let open = |write: bool| {
        OpenOptions::new()
            .read(true)
            .write(write)
            .create(write)
            .truncate(false)
            .custom_flags(flags)
            .open(&path)
    };
    let (mut f, writable) = match open(true) {
        Ok(f) => (f, true),
        // A lock file this user may not write (made by another user): flock
        // needs only a descriptor.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && path.is_file() => {
            (open(false).map_err(io_err("opening", &path))?, false)
        }
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => return Err(not_a_file()),
        Err(e) => return Err(io_err("creating", &path)(e)),
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Err(not_a_file());
    }
    match flock(&f, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {
            if writable {
                // Best effort: only the Busy message of a next writer reads it.
                let _ = f.set_len(0).and_then(|()| writeln!(f, "{}", std::process::id()));
            }
            Ok(f)
        }
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(StoreError::Busy {
            dir: dir.to_path_buf(),
            holder: fs::read_to_string(&path).ok().and_then(|t| t.trim().parse().ok()),
            lock: path,
        }),
        Err(e) => Err(io_err("locking", &path)(e.into())),
    }
}

/// Elsewhere than on Unix the lock file is made but not locked: one writer per
/// directory is the caller's to keep.
#[cfg(not(unix))]
pub(super) fn lock_for_writing(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err("creating", &path))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::tests::{heap, temp_dir};
    use crate::store::{Retention, Store, list};

    #[cfg(unix)]
    #[test]
    fn one_writer_at_a_time() {
        let dir = temp_dir("one-writer");
        let mut first = Store::open(&dir).expect("open");
        let none = BTreeMap::new();
        first
            .write("heap", &heap(1_000_000_000, 7), true, &none, &Retention::default())
            .expect("write");
        // The first writer's write in progress: a second writer's open must
        // not take it for a crash's leftover.
        fs::write(dir.join(".heap_y.pb.gz.tmp"), b"in flight").expect("tmp");
        let err = Store::open(&dir).expect_err("a second writer");
        assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("directory of its own") && msg.contains(".lock"), "{msg}");
        assert!(
            msg.contains("(this process, or a child it forked"),
            "the holder's pid: {msg}"
        );
        assert!(dir.join(".heap_y.pb.gz.tmp").exists());
        // Readers take no lock.
        assert_eq!(list(&dir).expect("list").len(), 1);
        // The lock goes with the writer.
        drop(first);
        let second = Store::open(&dir).expect("open once the first is gone");
        assert_eq!(second.entries().len(), 1);
        assert!(!dir.join(".heap_y.pb.gz.tmp").exists());
        fs::remove_dir_all(&dir).ok();
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_that_is_not_a_file_is_an_error_not_a_hang() {
        let dir = temp_dir("bad-lock");
        fs::create_dir_all(&dir).expect("dir");
        let lock = dir.join(LOCK);
        let fifo = || {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &lock,
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o600),
                0,
            )
            .expect("mkfifo")
        };
        let kinds: [(&str, &dyn Fn()); 3] = [
            // Opened for writing, a FIFO would wait for a reader for ever.
            ("a FIFO", &fifo),
            ("a directory", &|| fs::create_dir(&lock).expect("mkdir")),
            ("a symbolic link", &|| {
                std::os::unix::fs::symlink(dir.join("elsewhere"), &lock).expect("symlink")
            }),
        ];
        for (what, make) in kinds {
            make();
            let err = Store::open(&dir).expect_err(what).to_string();
            assert!(
                err.contains("not a regular file") && err.contains("remove it"),
                "{what}: {err}"
            );
            assert!(!dir.join("elsewhere").exists(), "{what}: a link is not followed");
            let _ = fs::remove_dir(&lock).or_else(|_| fs::remove_file(&lock));
        }
        // A file where the store should be: a writer's words, not a reader's.
        let file = dir.join("file");
        fs::write(&file, b"x").expect("file");
        let err = Store::open(&file).expect_err("a file").to_string();
        assert!(err.contains("it is a file; give the store a directory"), "{err}");
        fs::remove_dir_all(&dir).ok();
    }
}
