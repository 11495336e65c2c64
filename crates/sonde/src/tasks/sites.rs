//! Spawn sites: each place a task is spawned from (its `#[track_caller]`
//! location) with the spawner's stack, captured at the first spawn from that
//! location on each thread and kept for the life of the process. A task
//! carries only its site's index (a `u32`), so that the task cell grows as
//! little as possible.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::panic::Location;

use crate::fork::Gate;

/// One spawn site: where, and the spawner's stack (pc first).
#[derive(Clone)]
pub(crate) struct Site {
    pub location: &'static Location<'static>,
    pub frames: Box<[u64]>,
}

struct Sites {
    gate: Gate,
    list: UnsafeCell<Vec<Site>>,
}

// SAFETY: `list` is only touched while holding `gate`.
unsafe impl Sync for Sites {}

static SITES: Sites = Sites {
    gate: Gate::new(),
    list: UnsafeCell::new(Vec::new()),
};

thread_local! {
    /// Sites this thread has captured: location address to index.
    static SEEN: RefCell<sonde_profile::hash::FastMap<usize, u32>> =
        const { RefCell::new(HashMap::with_hasher(std::hash::BuildHasherDefault::new())) };
    /// The last site this thread spawned from (location address, index): a
    /// spawn loop finds it without hashing.
    static LAST: Cell<(usize, u32)> = const { Cell::new((0, 0)) };
}

/// The index of the site of a spawn from `location` on this thread: captured
/// at the first such spawn, reused after (a spawn costs one thread-local
/// lookup then).
#[inline]
pub(crate) fn index(location: &'static Location<'static>) -> u32 {
    let key = location as *const Location<'static> as usize;
    let (last, i) = LAST.get();
    if last == key {
        return i;
    }
    // Then a thread-local map: no allocation, and not quietly (switching the
    // allocator hook's state costs the next allocation).
    let i = match SEEN.with(|seen| seen.borrow().get(&key).copied()) {
        Some(i) => i,
        None => capture(location),
    };
    LAST.set((key, i));
    i
}

/// The first spawn from a location on this thread: captures and keeps its
/// stack.
#[cold]
#[inline(never)]
fn capture(location: &'static Location<'static>) -> u32 {
    crate::alloc::quietly(|| {
        let mut frames = [0u64; 64];
        let n = crate::alloc::with_local(|l| crate::unwind::capture_here(&l.stack_end, &mut frames));
        let i = with(|list| {
            list.push(Site {
                location,
                frames: frames[..n].into(),
            });
            (list.len() - 1) as u32
        });
        SEEN.with(|seen| {
            seen.borrow_mut()
                .insert(location as *const Location<'static> as usize, i)
        });
        i
    })
}

/// Runs `f` on the sites, quietly (they are sonde's memory).
pub(crate) fn with<T>(f: impl FnOnce(&mut Vec<Site>) -> T) -> T {
    crate::fork::register();
    SITES.gate.lock();
    // SAFETY: the gate is held.
    let r = crate::alloc::quietly(|| f(unsafe { &mut *SITES.list.get() }));
    SITES.gate.unlock();
    r
}

/// Before `fork()` (see `crate::fork`).
pub(crate) fn fork_prepare() {
    SITES.gate.lock();
}

/// After `fork()`, in parent and child.
pub(crate) fn fork_release() {
    SITES.gate.unlock();
}
