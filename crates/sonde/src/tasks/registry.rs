//! The registry of live tasks: each tracked task's record lives inside the task
//! itself (pinned in tokio's task cell), and the registry holds a pointer to it
//! from its first poll until the task is dropped (finished, aborted, panicked
//! or dropped unpolled), so it never outlives what it lists and never leaks.
//! Sixteen shards, each behind a fork-safe gate, taken once when a task starts
//! and once when it ends; a poll touches only the task's own atomics.

use std::cell::UnsafeCell;
use std::panic::Location;
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

/// What is known of one live task. Written by the task's own polls (one at a
/// time), read by snapshots.
pub(crate) struct TaskInfo {
    pub site: &'static Location<'static>,
    pub name: Option<Box<str>>,
    /// The spawner's stack, as an index into the stacks of `super::stacks`.
    pub stack: u32,
    /// When it was spawned, ns on the coarse monotonic clock.
    pub spawned: u64,
    pub polls: AtomicU64,
    pub poll_ns: AtomicU64,
    /// When its last poll ended (0: never polled).
    pub last_poll: AtomicU64,
    pub running: AtomicBool,
    /// Whether it is a `spawn_blocking` closure (runs on a blocking thread).
    pub blocking: bool,
    /// tokio's id of the task, once it has been polled (for task dumps).
    pub id: std::sync::OnceLock<tokio::task::Id>,
    /// Its place in its shard while registered (`usize::MAX`: not registered);
    /// changed only under the shard's gate.
    index: AtomicUsize,
}

impl TaskInfo {
    pub(crate) fn new(
        site: &'static Location<'static>,
        name: Option<Box<str>>,
        stack: u32,
        blocking: bool,
    ) -> TaskInfo {
        TaskInfo {
            site,
            name,
            stack,
            spawned: coarse_ns(),
            polls: AtomicU64::new(0),
            poll_ns: AtomicU64::new(0),
            last_poll: AtomicU64::new(0),
            running: AtomicBool::new(false),
            blocking,
            id: std::sync::OnceLock::new(),
            index: AtomicUsize::new(usize::MAX),
        }
    }

    pub(crate) fn registered(&self) -> bool {
        self.index.load(Relaxed) != usize::MAX
    }
}

/// What a snapshot copies of one task.
pub(crate) struct TaskView {
    #[cfg_attr(not(all(feature = "taskdump", tokio_unstable)), allow(dead_code))]
    pub id: Option<tokio::task::Id>,
    pub site: &'static Location<'static>,
    pub name: Option<String>,
    pub stack: u32,
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

/// Lists `info`. It must not move or be freed before [`deregister`].
pub(crate) fn register(info: &TaskInfo) {
    shard_of(info).with(|tasks| {
        info.index.store(tasks.len(), Relaxed);
        tasks.push(info as *const TaskInfo);
    });
}

/// Removes `info` from the registry, if it is listed.
pub(crate) fn deregister(info: &TaskInfo) {
    if !info.registered() {
        return;
    }
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
                    id: t.id.get().copied(),
                    site: t.site,
                    name: t.name.as_deref().map(str::to_string),
                    stack: t.stack,
                    age_ns: now.saturating_sub(t.spawned),
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
