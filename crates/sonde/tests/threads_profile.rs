//! The thread profile (Go's goroutine profile for threads), on the seed's
//! goroutine leak: 100 threads blocked on a channel receive that is never sent
//! are found at their site, `debug=1` starts with `goroutine profile: total N`
//! and reads back as a profile, `go tool pprof -top` reads the protobuf one. A
//! deadlock, a thread that blocks the signal and a CPU profile running at the
//! same time do not keep it from coming back within its deadline.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::*;
use sonde::threads;

/// Threads taken by one test at a time: the tests count them.
static SERIAL: Mutex<()> = Mutex::new(());

/// Count of the thread profile's samples with a frame ending in `name`.
fn threads_at(p: &sonde::Profile, name: &str) -> i64 {
    p.samples
        .iter()
        .filter(|s| frames(p, s).iter().any(|f| f.ends_with(name)))
        .map(|s| s.values[0])
        .sum()
}

#[inline(never)]
fn leaked_worker(rx: mpsc::Receiver<u32>, ready: Arc<Barrier>) {
    ready.wait();
    // Nobody ever sends: the seed's goroutineLeak.
    let _ = std::hint::black_box(rx.recv());
}

#[test]
fn a_hundred_leaked_threads_are_found_at_their_site() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ready = Arc::new(Barrier::new(101));
    let mut senders = Vec::new();
    let workers: Vec<_> = (0..100)
        .map(|i| {
            let (tx, rx) = mpsc::channel();
            senders.push(tx);
            let ready = ready.clone();
            std::thread::Builder::new()
                .name(format!("leaky-{i}"))
                .spawn(move || leaked_worker(rx, ready))
                .expect("spawn")
        })
        .collect();
    ready.wait();
    // Let them reach the receive.
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    let p = threads::profile().expect("thread profile");
    let took = t.elapsed();
    assert_valid(&p);
    let leaked = threads_at(&p, "leaked_worker");
    let total: i64 = p.samples.iter().map(|s| s.values[0]).sum();
    eprintln!("{leaked} threads in leaked_worker of {total}, in {took:?}");
    assert_eq!(leaked, 100, "every leaked thread is at its site");
    assert!(
        p.samples
            .iter()
            .filter(|s| frames(&p, s).iter().any(|f| f.ends_with("leaked_worker")))
            .all(|s| s.labels.has("state", "sleeping")),
        "they sleep in the receive"
    );
    assert!(
        !frames(&p, &p.samples[0]).iter().any(|f| f.contains("no stack")),
        "they all answered"
    );

    let text = threads::text(1).expect("debug=1");
    let first = text.lines().next().unwrap_or_default();
    let n: i64 = first
        .strip_prefix("goroutine profile: total ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the seed's grep line: {first:?}"));
    assert!(n >= 101, "{first}");
    assert!(text.contains("100 @ 0x"), "the leaked stack, 100 times:\n{text}");
    eprintln!("{}", text.lines().take(12).collect::<Vec<_>>().join("\n"));
    let back = sonde::Profile::parse(text.as_bytes()).expect("debug=1 reads back as a profile");
    assert_eq!(back.samples.iter().map(|s| s.values[0]).max(), Some(100));
    let dump = threads::text(2).expect("debug=2");
    eprintln!("{}", dump.lines().take(12).collect::<Vec<_>>().join("\n"));
    assert!(dump.contains("\"leaky-7\"]:"), "{}", &dump[..dump.len().min(2000)]);
    if let Some(top) = go_top(&p) {
        assert!(top.contains("leaked_worker"), "{top}");
    }
    drop(senders);
    for w in workers {
        w.join().expect("worker");
    }
}

#[inline(never)]
fn lock_both(first: &Mutex<()>, second: &Mutex<()>, ready: &Barrier) {
    let _a = first.lock().unwrap();
    ready.wait();
    let _b = second.lock().unwrap();
}

#[test]
fn a_deadlock_and_a_deaf_thread_do_not_stop_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Two threads lock two mutexes in opposite order: deadlocked for good.
    let (a, b) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
    let ready = Arc::new(Barrier::new(2));
    for (first, second) in [(a.clone(), b.clone()), (b, a)] {
        let ready = ready.clone();
        std::thread::spawn(move || lock_both(&first, &second, &ready));
    }
    // A thread that blocks the capture signal.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let deaf = std::thread::spawn(move || {
        // SAFETY: a sigset_t initialised by sigfillset, for this thread's mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut set);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        let _ = done_rx.recv();
    });
    std::thread::sleep(Duration::from_millis(50));
    // And while a CPU profile runs (its signal is another).
    let cpu = sonde::cpu::start(sonde::cpu::CpuOptions::default()).expect("cpu");
    let t = Instant::now();
    let p = threads::profile().expect("thread profile");
    let took = t.elapsed();
    drop(cpu.stop().expect("cpu stop"));
    assert!(took < threads::DEADLINE + Duration::from_secs(2), "bounded: {took:?}");
    assert_eq!(threads_at(&p, "lock_both"), 2, "both deadlocked threads, in lock");
    let deaf_ones = threads_at(&p, threads::NO_ANSWER_FRAME);
    assert_eq!(
        deaf_ones, 1,
        "the thread that blocks the signal is reported without a stack"
    );
    done_tx.send(()).expect("wake");
    deaf.join().expect("deaf");
    // Two captures at once: one waits for the other.
    let both: Vec<_> = (0..2).map(|_| std::thread::spawn(threads::profile)).collect();
    for h in both {
        assert!(h.join().expect("join").is_ok());
    }
}

/// The seed's CPU example, where its CPU profile cannot see the sleep: the
/// wall-clock profile gives `quick_operation` its share of the thread's wall
/// time over the profile's window, within 10% of what the thread measured over
/// the same window, or within 2.5 standard deviations of a share estimated from
/// that many samples when that is wider (on a machine with no idle CPU the
/// sampling thread is late more often while the worker computes, which leans
/// the samples toward the sleep by a few percent).
#[test]
fn the_wall_profile_sees_the_sleep() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let worker = std::thread::Builder::new()
        .name("seed-example".into())
        .spawn(move || {
            // When each sleep began and ended.
            let mut sleeps = Vec::new();
            while stop_rx.try_recv().is_err() {
                std::hint::black_box(expensive_operation());
                let t = Instant::now();
                quick_operation();
                sleeps.push((t, Instant::now()));
            }
            sleeps
        })
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(100));
    let (from, hz) = (Instant::now(), 199);
    let p = threads::wall_profile(Duration::from_millis(2000), hz).expect("wall profile");
    let to = Instant::now();
    stop_tx.send(()).expect("stop");
    let sleeps = worker.join().expect("worker");
    assert_valid(&p);
    // The sleeps' overlap with the profile's window.
    let asleep: f64 = sleeps
        .iter()
        .map(|&(a, b)| (b.min(to).saturating_duration_since(a.max(from))).as_secs_f64())
        .sum();
    let measured = asleep / (to - from).as_secs_f64();
    let wall = |name: &str| -> i64 {
        p.samples
            .iter()
            .filter(|s| s.labels.has("thread", "seed-example") && frames(&p, s).iter().any(|f| f.ends_with(name)))
            .map(|s| s.values[1])
            .sum()
    };
    let thread: i64 = p
        .samples
        .iter()
        .filter(|s| s.labels.has("thread", "seed-example"))
        .map(|s| s.values[1])
        .sum();
    let share = wall("quick_operation") as f64 / thread as f64;
    let n = thread as f64 / p.period as f64;
    let tolerance = (0.1 * measured).max(2.5 * (measured * (1.0 - measured) / n).sqrt());
    eprintln!(
        "quick_operation: {:.1}% of the thread's wall time in the profile, {:.1}% measured; expensive_operation {:.1}%",
        100.0 * share,
        100.0 * measured,
        100.0 * wall("expensive_operation") as f64 / thread as f64
    );
    assert!(
        (share - measured).abs() <= tolerance,
        "the sleep's share: {share:.3} in the profile, {measured:.3} measured (allowed ±{tolerance:.3}, {n} samples)"
    );
    if let Some(top) = go_top(&p) {
        assert!(top.contains("quick_operation"), "{top}");
    }
}
