//! The block profile: consumers waiting on a `sonde::sync::Condvar` for a slow
//! producer are attributed to the consumer's wait site, with a total delay
//! within 10% of the waits the consumers measured themselves; a channel receive
//! wrapped in `record_block` is there too; `go tool pprof -top` reads it. And
//! the locks behave as std's: poisoning, `try_lock`, `into_inner`, `get_mut`.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, TryLockError};
use std::time::{Duration, Instant};

use common::*;
use sonde::sync::{self, Condvar, Mutex, RwLock};

struct Queue {
    items: Mutex<(VecDeque<u32>, bool)>,
    ready: Condvar,
}

/// Takes items until the producer is done; returns how long this thread spent
/// blocked (locking and waiting), as its own clock measured it.
#[inline(never)]
fn consume(q: &Queue) -> Duration {
    let mut blocked = Duration::ZERO;
    loop {
        let t = Instant::now();
        let guard = q.items.lock().unwrap();
        let mut guard = q
            .ready
            .wait_while(guard, |(items, done)| items.is_empty() && !*done)
            .unwrap();
        blocked += t.elapsed();
        match guard.0.pop_front() {
            Some(item) => {
                drop(guard);
                std::hint::black_box(item);
            }
            None => return blocked,
        }
    }
}

#[inline(never)]
fn wait_for_message(rx: &std::sync::mpsc::Receiver<u32>) -> u32 {
    sync::record_block(|| rx.recv()).expect("message")
}

#[test]
fn waits_are_where_the_waiters_are() {
    sync::set_block_profile_rate(1);
    let q = Arc::new(Queue {
        items: Mutex::new((VecDeque::new(), false)),
        ready: Condvar::new(),
    });
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let q = q.clone();
            std::thread::spawn(move || consume(&q))
        })
        .collect();
    for i in 0..60 {
        std::thread::sleep(Duration::from_millis(2));
        q.items.lock().unwrap().0.push_back(i);
        q.ready.notify_one();
    }
    q.items.lock().unwrap().1 = true;
    q.ready.notify_all();
    let measured: Duration = consumers.into_iter().map(|c| c.join().expect("consumer")).sum();

    let (tx, rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        tx.send(7).expect("send");
    });
    assert_eq!(wait_for_message(&rx), 7);
    sender.join().expect("sender");

    let p = sync::block_profile();
    assert_valid(&p);
    assert_eq!(
        p.period_type.as_ref().map(|t| t.to_string()),
        Some("contentions/count".into())
    );
    let at = |name: &str| -> i64 {
        p.samples
            .iter()
            .filter(|s| frames(&p, s).iter().any(|f| f.ends_with(name)))
            .map(|s| s.values[1])
            .sum()
    };
    let (in_consume, measured) = (at("sync_block::consume") as f64, measured.as_nanos() as f64);
    eprintln!(
        "consumers: {:.1} ms in the block profile, {:.1} ms measured; channel: {:.1} ms",
        in_consume / 1e6,
        measured / 1e6,
        at("wait_for_message") as f64 / 1e6
    );
    assert!(
        (in_consume - measured).abs() <= 0.1 * measured,
        "the consumers' waits: {in_consume} ns in the profile, {measured} ns measured"
    );
    assert!(at("wait_for_message") >= 45_000_000, "the channel receive waited 50 ms");
    if let Some(top) = go_top(&p) {
        assert!(top.contains("consume"), "{top}");
    }
}

#[test]
fn the_locks_behave_as_std() {
    let m = Arc::new(Mutex::new(1));
    let held = m.lock().unwrap();
    assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    drop(held);
    let m2 = m.clone();
    let _ = std::thread::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("poison it");
    })
    .join();
    assert!(m.is_poisoned());
    let err = m.lock().expect_err("poisoned");
    assert_eq!(**err.get_ref(), 1, "the guard is in the error");
    drop(err);
    assert!(matches!(m.try_lock(), Err(TryLockError::Poisoned(_))));
    m.clear_poison();
    *m.lock().unwrap() += 1;
    let mut m = Arc::try_unwrap(m).expect("one owner");
    *m.get_mut().unwrap() += 1;
    assert_eq!(m.into_inner().unwrap(), 3);

    let rw = Arc::new(RwLock::new(String::from("a")));
    let r1 = rw.read().unwrap();
    let r2 = rw.try_read().unwrap();
    assert!(matches!(rw.try_write(), Err(TryLockError::WouldBlock)));
    assert_eq!(format!("{}{}", *r1, *r2), "aa");
    drop((r1, r2));
    let rw2 = rw.clone();
    let _ = std::thread::spawn(move || {
        let _w = rw2.write().unwrap();
        panic!("poison it");
    })
    .join();
    assert!(rw.is_poisoned() && rw.read().is_err() && rw.write().is_err());
    rw.clear_poison();
    rw.write().unwrap().push('b');
    assert_eq!(*rw.read().unwrap(), "ab");

    let cv = Condvar::new();
    let m = Mutex::new(0);
    let (g, timeout) = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(5)).unwrap();
    assert!(timeout.timed_out() && *g == 0);
}
