//! The async-task profile and the async locks, on the seed's scenarios in tokio:
//! 100 tasks awaiting a oneshot that never completes are found at their spawn
//! site with their ages; unbounded spawning grows between two profiles while a
//! bounded worker pool does not (`--base`); a request handler whose timed-out
//! branch leaks its task names the leaking spawn site; tasks leave the profile
//! however they end; a contended `sonde::sync::tokio::Mutex` puts the awaiting
//! task in the block profile and the holder's release in the mutex profile.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sonde::{sync, tasks};
use tokio::sync::oneshot;

/// Tasks in the profile whose spawn site is on `line` of this file.
fn at_line(p: &sonde::Profile, line: u32) -> i64 {
    let site = format!("tasks_profile.rs:{line}");
    p.samples
        .iter()
        .filter(|s| s.labels.strs("spawned_at").any(|v| v.ends_with(&site)))
        .map(|s| s.values[0])
        .sum()
}

/// Serializes the tests: they count the process's tasks.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[inline(never)]
fn spawn_waiters(n: usize) -> (Vec<oneshot::Sender<()>>, u32) {
    let mut senders = Vec::new();
    let line = line!() + 4;
    for _ in 0..n {
        let (tx, rx) = oneshot::channel::<()>();
        senders.push(tx);
        tasks::Builder::new().name("waiter").spawn(async move {
            let _ = rx.await;
        });
    }
    (senders, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_waiting_tasks_are_found_at_their_spawn_site() {
    let _serial = SERIAL.lock().await;
    let (senders, line) = spawn_waiters(100);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let p = tasks::profile();
    assert_valid(&p);
    assert_eq!(at_line(&p, line), 100, "every waiting task at its spawn site");
    let waiting: Vec<_> = p.samples.iter().filter(|s| s.labels.has("task", "waiter")).collect();
    assert!(
        waiting
            .iter()
            .all(|s| s.labels.has("state", "idle") && s.labels.has("age", "<1s"))
    );
    assert!(
        waiting
            .iter()
            .any(|s| frames(&p, s).iter().any(|f| f.ends_with("spawn_waiters"))),
        "the spawner's stack"
    );
    let text = tasks::text(1).expect("debug=1");
    assert!(text.starts_with("goroutine profile: total "), "{text}");
    assert!(text.contains("100 @ "), "{text}");
    if let Some(top) = go_top(&p) {
        assert!(top.contains("spawn_waiters"), "{top}");
    }
    // Every way a task can end takes it out of the profile.
    drop(senders);
    let (aborted, _) = spawn_waiters(3);
    let handle = tasks::spawn(std::future::pending::<()>());
    let panics = tasks::spawn(async { panic!("a task that panics") });
    tokio::time::sleep(Duration::from_millis(20)).await;
    handle.abort();
    assert!(panics.await.is_err());
    drop(aborted);
    let blocking = tasks::spawn_blocking(|| std::thread::sleep(Duration::from_millis(30)));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(tasks::count() >= 1, "a blocking task is listed while it runs");
    blocking.await.expect("blocking");
    // Tasks that end in their first poll are never listed, named or not.
    for i in 0..10u32 {
        let named = tasks::Builder::new().name("quick").spawn(async move { i });
        assert_eq!(named.await.expect("named"), i);
        assert_eq!(tasks::spawn(async move { i + 1 }).await.expect("unnamed"), i + 1);
    }
    for _ in 0..100 {
        if tasks::count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        tasks::count(),
        0,
        "finished, aborted, panicked, blocking and quick tasks all left"
    );
}

/// Case Study 4: each "request" spawns a task that never ends (unbounded),
/// against a fixed pool of workers fed by a channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_spawning_grows_and_a_pool_does_not() {
    let _serial = SERIAL.lock().await;
    let (pool_tx, pool_rx) = tokio::sync::mpsc::channel::<u32>(64);
    let pool_rx = Arc::new(tokio::sync::Mutex::new(pool_rx));
    let pool_line = line!() + 3;
    for _ in 0..4 {
        let rx = pool_rx.clone();
        tasks::spawn(async move {
            while let Some(job) = rx.lock().await.recv().await {
                std::hint::black_box(job);
            }
        });
    }
    let mut leaked = Vec::new();
    let mut leak_line = 0;
    let requests = |n: u32, leaked: &mut Vec<_>, line: &mut u32| {
        for i in 0..n {
            let (tx, rx) = oneshot::channel::<()>();
            leaked.push(tx);
            *line = line!() + 1;
            tasks::spawn(async move {
                let _ = rx.await;
            });
            let _ = pool_tx.try_send(i);
        }
    };
    requests(50, &mut leaked, &mut leak_line);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = tasks::profile();
    requests(150, &mut leaked, &mut leak_line);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = tasks::profile();
    let diff = after.clone().subtract(before.clone()).expect("--base");
    eprintln!(
        "unbounded: {} then {} (+{}); pool: {} then {} (+{})",
        at_line(&before, leak_line),
        at_line(&after, leak_line),
        at_line(&diff, leak_line),
        at_line(&before, pool_line),
        at_line(&after, pool_line),
        at_line(&diff, pool_line)
    );
    assert_eq!(
        at_line(&diff, leak_line),
        150,
        "the unbounded site grew by every request"
    );
    assert_eq!(at_line(&diff, pool_line), 0, "the pool did not grow");
    assert_eq!(at_line(&after, pool_line), 4);
    drop(leaked);
}

/// Case Study 2's root cause, in tokio: a handler races a reply against a
/// timeout and, when the timeout wins, leaves behind the task it spawned to
/// fetch the reply, which awaits forever.
async fn handle_request(upstream: Arc<tokio::sync::Mutex<Vec<oneshot::Sender<u32>>>>) -> Option<u32> {
    let (reply_tx, reply_rx) = oneshot::channel();
    let (upstream_tx, upstream_rx) = oneshot::channel::<u32>();
    upstream.lock().await.push(upstream_tx);
    tasks::spawn(fetch_reply(upstream_rx, reply_tx));
    tokio::time::timeout(Duration::from_millis(5), reply_rx)
        .await
        .ok()?
        .ok()
}

/// Awaits an upstream that never answers: the leak.
async fn fetch_reply(upstream: oneshot::Receiver<u32>, reply: oneshot::Sender<u32>) {
    if let Ok(v) = upstream.await {
        let _ = reply.send(v);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_branch_leaks_its_task_and_the_profile_names_the_site() {
    let _serial = SERIAL.lock().await;
    let upstream = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    for _ in 0..40 {
        assert_eq!(handle_request(upstream.clone()).await, None, "timed out");
    }
    let p = tasks::profile();
    let site: Vec<_> = p
        .samples
        .iter()
        .filter(|s| frames(&p, s).iter().any(|f| f.contains("handle_request")))
        .collect();
    let n: i64 = site.iter().map(|s| s.values[0]).sum();
    assert_eq!(n, 40, "the 40 leaked tasks, at the handler's spawn");
    assert!(site.iter().all(|s| s.labels.has("state", "idle")));
    upstream.lock().await.clear();
}

async fn hold_the_lock(m: Arc<sync::tokio::Mutex<u64>>) {
    let mut g = m.lock().await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    *g += 1;
}

async fn wait_for_the_lock(m: Arc<sync::tokio::Mutex<u64>>) {
    *m.lock().await += 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_lock_waits_and_releases_are_recorded() {
    let _serial = SERIAL.lock().await;
    sync::set_block_profile_rate(1);
    sync::set_mutex_profile_fraction(1);
    let m = Arc::new(sync::tokio::Mutex::new(0));
    let holder = tokio::spawn(hold_the_lock(m.clone()));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let waiters: Vec<_> = (0..3).map(|_| tokio::spawn(wait_for_the_lock(m.clone()))).collect();
    holder.await.expect("holder");
    for w in waiters {
        w.await.expect("waiter");
    }
    assert_eq!(*m.lock().await, 4);
    let delay_at = |p: &sonde::Profile, name: &str| -> i64 {
        p.samples
            .iter()
            .filter(|s| frames(p, s).iter().any(|f| f.contains(name)))
            .map(|s| s.values[1])
            .sum()
    };
    let (block, mutex) = (sync::block_profile(), sync::mutex_profile());
    let waited = delay_at(&block, "wait_for_the_lock");
    let released = delay_at(&mutex, "hold_the_lock");
    eprintln!(
        "waiters: {:.1} ms blocked; holder's release: {:.1} ms",
        waited as f64 / 1e6,
        released as f64 / 1e6
    );
    assert!(
        waited >= 3 * 15_000_000,
        "three tasks waited about 25 ms each: {waited} ns"
    );
    assert!(
        released >= 3 * 15_000_000,
        "charged to the holder's release: {released} ns"
    );
}
