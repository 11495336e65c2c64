//! The registry of live tasks. A spawned task is listed from the end of its
//! first poll that returns pending (a blocking closure from its start) until
//! it is dropped (finished, aborted, panicked): a task that ends in its first
//! poll costs no listing. The task owns its record ([`Record`], one word in
//! the task), which unlists and frees it when dropped, so the registry never
//! outlives what it lists and never leaks. Sixteen shards, each behind a
//! fork-safe gate, taken once when a task is listed and once when it ends; a
//! poll touches only the record's own atomics.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::fork::Gate;

/// Nanoseconds on the coarse monotonic clock (a few ns to read; it moves at
/// the scheduler tick): for ages and idle times, which need no finer.
pub(crate) fn coarse_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// What is known of one task once it is boxed: sonde's own memory (allocated
/// and freed quietly), at a fixed address while listed. Written by the task's
/// own polls (one at a time), read by snapshots.
pub(crate) struct TaskInfo {
    /// Its spawn site (an index of `super::sites`).
    pub site: u32,
    pub name: Option<Box<str>>,
    /// When it was listed (its first wait), ns on the coarse monotonic clock.
    pub listed_at: u64,
    pub polls: AtomicU64,
    pub poll_ns: AtomicU64,
    /// When its last poll ended (0: never polled).
    pub last_poll: AtomicU64,
    pub running: AtomicBool,
    /// Whether it is a `spawn_blocking` closure (runs on a blocking thread).
    pub blocking: bool,
    /// tokio's id of the task (for task dumps), when known at its listing.
    pub id: Option<tokio::task::Id>,
    /// Its place in its shard (`usize::MAX`: not listed); changed only under
    /// the shard's gate.
    index: AtomicUsize,
}

/// A task's record, one word in the task (a bigger task cell costs tiny tasks
/// dearly: 16 more bytes moved tokio's cell for a small future from 128 to 256
/// bytes and made each spawn about 25% slower, bench/sync `tasks`). Until an
/// unnamed task is listed, the word holds its site (bit 0 set, the site in
/// bits 32 to 63); otherwise it points to its boxed [`TaskInfo`], which it
/// owns. A spawn reads no clock (that alone cost tiny tasks 5%): a task's age
/// counts from its listing.
pub(crate) struct Record(*mut TaskInfo);

// SAFETY: the record owns its `TaskInfo` as a `Box` would, and `TaskInfo` is
// `Sync` (atomics and fields that are not changed once it is shared).
unsafe impl Send for Record {}

const _: () = assert!(
    usize::BITS == 64,
    "sonde's task records keep a site above bit 32 of a word"
);

impl Record {
    /// The record of an unnamed task spawned from `site`.
    #[inline]
    pub(crate) fn unlisted(site: u32) -> Record {
        Record(std::ptr::without_provenance_mut((site as usize) << 32 | 1))
    }

    /// The record of a task named `name` spawned from `site` (boxed now: its
    /// name does not fit in a word).
    pub(crate) fn named(site: u32, name: Box<str>) -> Record {
        Record(boxed(site, Some(name)))
    }

    fn boxed(&self) -> Option<&TaskInfo> {
        if self.0.addr() & 1 == 1 {
            return None;
        }
        // SAFETY: an even word is the pointer of the record's own live box.
        unsafe { self.0.as_ref() }
    }

    /// Its listing, if it is listed.
    #[inline]
    pub(crate) fn listed(&self) -> Option<&TaskInfo> {
        self.boxed().filter(|t| t.index.load(Relaxed) != usize::MAX)
    }

    /// Lists the task (if it is not listed yet) as having had `polls` polls
    /// that took `poll_ns` so far, the last ending now.
    pub(crate) fn list(&mut self, polls: u64, poll_ns: u64, blocking: bool, id: Option<tokio::task::Id>) {
        let word = self.0.addr();
        if word & 1 == 1 {
            self.0 = boxed((word >> 32) as u32, None);
        }
        if self.listed().is_some() {
            return;
        }
        // SAFETY: the word is now the pointer of the record's own box, not
        // shared yet (it is not listed): this is its only reference.
        let info = unsafe { &mut *self.0 };
        info.polls = AtomicU64::new(polls);
        info.poll_ns = AtomicU64::new(poll_ns);
        let now = coarse_ns().max(1);
        info.listed_at = now;
        info.last_poll = AtomicU64::new(now);
        info.blocking = blocking;
        info.id = id;
        let info = &*info;
        shard_of(info).with(|tasks| {
            info.index.store(tasks.len(), Relaxed);
            tasks.push(info as *const TaskInfo);
        });
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let Some(info) = self.boxed() else { return };
        if info.index.load(Relaxed) != usize::MAX {
            shard_of(info).with(|tasks| {
                let i = info.index.swap(usize::MAX, Relaxed);
                if i < tasks.len() {
                    tasks.swap_remove(i);
                    if let Some(&moved) = tasks.get(i) {
                        // SAFETY: listed records are alive (see the module documentation).
                        unsafe { &*moved }.index.store(i, Relaxed);
                    }
                }
            });
        }
        // SAFETY: an even word is the pointer of the record's own box, made by
        // `boxed` and unlisted above: nothing else refers to it.
        let info = unsafe { Box::from_raw(self.0) };
        crate::alloc::quietly(|| drop(info));
    }
}

/// A new, unlisted `TaskInfo`, boxed quietly (sonde's memory).
fn boxed(site: u32, name: Option<Box<str>>) -> *mut TaskInfo {
    crate::alloc::quietly(|| {
        Box::into_raw(Box::new(TaskInfo {
            site,
            name,
            listed_at: 0,
            polls: AtomicU64::new(0),
            poll_ns: AtomicU64::new(0),
            last_poll: AtomicU64::new(0),
            running: AtomicBool::new(false),
            blocking: false,
            id: None,
            index: AtomicUsize::new(usize::MAX),
        }))
    })
}

/// What a snapshot copies of one task.
pub(crate) struct TaskView {
    #[cfg_attr(not(all(feature = "taskdump", tokio_unstable)), allow(dead_code))]
    pub id: Option<tokio::task::Id>,
    /// Its spawn site (an index of `super::sites`).
    pub site: u32,
    pub name: Option<String>,
    pub age_ns: u64,
    pub polls: u64,
    pub poll_ns: u64,
    pub since_poll_ns: u64,
    pub running: bool,
    pub blocking: bool,
}

const SHARDS: usize = 16;

struct Shard {
    gate: Gate,
    tasks: UnsafeCell<Vec<*const TaskInfo>>,
}

// SAFETY: `tasks` is only touched under `gate`; its pointers are to records
// that deregister (under the same gate) before they are freed.
unsafe impl Sync for Shard {}

static REGISTRY: [Shard; SHARDS] = [const {
    Shard {
        gate: Gate::new(),
        tasks: UnsafeCell::new(Vec::new()),
    }
}; SHARDS];

fn shard_of(info: &TaskInfo) -> &'static Shard {
    &REGISTRY[((info as *const TaskInfo as usize) >> 6) % SHARDS]
}

impl Shard {
    fn with<T>(&self, f: impl FnOnce(&mut Vec<*const TaskInfo>) -> T) -> T {
        crate::fork::register();
        self.gate.lock();
        // SAFETY: the gate is held.
        let r = crate::alloc::quietly(|| f(unsafe { &mut *self.tasks.get() }));
        self.gate.unlock();
        r
    }
}

/// A copy of every live task, at `now` (ns on the coarse monotonic clock).
pub(crate) fn snapshot(now: u64) -> Vec<TaskView> {
    let mut out = Vec::new();
    for shard in &REGISTRY {
        shard.with(|tasks| {
            for &t in tasks.iter() {
                // SAFETY: listed records are alive while the gate is held.
                let t = unsafe { &*t };
                let last = t.last_poll.load(Relaxed);
                out.push(TaskView {
                    id: t.id,
                    site: t.site,
                    name: t.name.as_deref().map(str::to_string),
                    age_ns: now.saturating_sub(t.listed_at),
                    polls: t.polls.load(Relaxed),
                    poll_ns: t.poll_ns.load(Relaxed),
                    since_poll_ns: if last == 0 { 0 } else { now.saturating_sub(last) },
                    running: t.running.load(Relaxed),
                    blocking: t.blocking,
                });
            }
        });
    }
    out
}

/// How many tasks are live.
pub(crate) fn count() -> usize {
    REGISTRY.iter().map(|s| s.with(|t| t.len())).sum()
}

/// Before `fork()` (see `crate::fork`): every shard.
pub(crate) fn fork_prepare() {
    for s in &REGISTRY {
        s.gate.lock();
    }
}

/// After `fork()`, in parent and child.
pub(crate) fn fork_release() {
    for s in REGISTRY.iter().rev() {
        s.gate.unlock();
    }
}
