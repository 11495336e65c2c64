//! A thread that blocks SIGPROF, burns half a second, and unblocks it: the
//! signal its timer raised meanwhile arrives at the unblock, standing for every
//! period that elapsed. The stack there gets at most what a scheduler tick
//! explains; the rest goes to `sonde::cpu::HELD_FRAME` under it, so the
//! thread's total stays right and `pthread_sigmask` is no false hotspot.
//! (Before: 0.94 s of 0.95 s landed on `pthread_sigmask`.)

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use sonde::cpu::{self, CpuOptions, HELD_FRAME};

fn sigprof_mask(how: libc::c_int) {
    // SAFETY: a sigset_t initialised by sigemptyset/sigaddset, passed to
    // pthread_sigmask for the calling thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPROF);
        assert_eq!(libc::pthread_sigmask(how, &set, std::ptr::null_mut()), 0);
    }
}

#[inline(never)]
fn burn_blocked() {
    sigprof_mask(libc::SIG_BLOCK);
    work(500);
}

#[inline(never)]
fn unblock() {
    sigprof_mask(libc::SIG_UNBLOCK);
}

#[inline(never)]
fn burn_after() {
    work(200);
}

#[test]
fn time_with_the_signal_blocked_is_shown_as_such() {
    calibrate_work();
    let barrier = Arc::new(Barrier::new(2));
    let b = barrier.clone();
    // The thread exists before the profile starts: its own timer counts it.
    let worker = std::thread::spawn(move || {
        b.wait();
        let c0 = thread_cpu();
        burn_blocked();
        let c1 = thread_cpu();
        unblock();
        let c2 = thread_cpu();
        burn_after();
        (c1 - c0, c2 - c0, thread_cpu() - c2, tid())
    });
    let profiler = cpu::start(CpuOptions::default().frequency(1000).thread_labels(true)).expect("start");
    barrier.wait();
    let (blocked, until_unblocked, after, tid) = worker.join().expect("worker");
    let p = profiler.stop().expect("stop");
    assert_valid(&p);
    let period = p.period as f64;
    let (blocked, after) = (blocked.as_nanos() as f64, after.as_nanos() as f64);
    let used = until_unblocked.as_nanos() as f64 + after;
    let held = cum(&p, HELD_FRAME) as f64;
    let at_unblock = (cum(&p, "cpu_blocked::unblock") as f64) - held;
    let thread = thread_total_by_id(&p, tid) as f64;
    eprintln!(
        "blocked {:.1} ms: held {:.1} ms, at the unblock {:.1} ms; after {:.1} ms: profile {:.1} ms; thread {:.1} of {:.1} ms",
        blocked / 1e6,
        held / 1e6,
        at_unblock / 1e6,
        after / 1e6,
        cum(&p, "burn_after") as f64 / 1e6,
        thread / 1e6,
        used / 1e6,
    );
    // What one signal's stack may keep: the periods of a 10 ms tick, and one.
    let bound = (10e6 / period).ceil() * period + period;
    assert!(
        at_unblock <= bound + 2.0 * period,
        "the unblock has {:.1} ms, more than a tick explains",
        at_unblock / 1e6
    );
    assert!(
        held >= blocked - bound - per_thread_slack(p.period, blocked),
        "only {:.1} ms of the {:.1} ms burnt with the signal blocked is shown as held",
        held / 1e6,
        blocked / 1e6
    );
    // The held frame sits under the stack where the signal arrived.
    let i = cpu_index(&p);
    for s in p.samples.iter().filter(|s| s.values[i] > 0) {
        let f = frames(&p, s);
        if f.iter().any(|f| f == HELD_FRAME) {
            assert_eq!(f[0], HELD_FRAME, "{f:?}");
            assert!(f.iter().any(|f| f.ends_with("unblock")), "{f:?}");
        }
    }
    let slack = per_thread_slack(p.period, used);
    assert!((thread - used).abs() <= slack, "the thread's total stays right");
    let after_profiled = cum(&p, "burn_after") as f64;
    assert!((after_profiled - after).abs() <= per_thread_slack(p.period, after));
}
