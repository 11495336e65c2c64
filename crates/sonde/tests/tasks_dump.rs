//! Task dumps (feature `taskdump`, `--cfg tokio_unstable`; .ci/run builds them
//! so): every task's current await point, tracked or not.
//!
//! Not tested: a dump while a worker is blocked. tokio's dump then returned
//! partial results after about 0.4 s here (its future does not yield, so the
//! timeout cannot cut it short), and the blocked worker's task never completed
//! afterwards; `sonde::tasks::dump` documents it.
#![cfg(all(feature = "taskdump", tokio_unstable))]

mod common;

use std::time::Duration;

use common::*;
use sonde::tasks;
use tokio::sync::oneshot;

/// Where the tracked tasks wait.
async fn waiting_here(rx: oneshot::Receiver<()>) {
    let _ = rx.await;
}

/// Where the untracked ones wait.
async fn waiting_there(rx: oneshot::Receiver<()>) {
    let _ = rx.await;
}

fn at(p: &sonde::Profile, name: &str) -> i64 {
    p.samples
        .iter()
        .filter(|s| frames(p, s).iter().any(|f| f.contains(name)))
        .map(|s| s.values[0])
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_is_found_at_its_await_point() {
    let mut keep = Vec::new();
    for _ in 0..10 {
        let (tx, rx) = oneshot::channel();
        keep.push(tx);
        tasks::Builder::new().name("tracked").spawn(waiting_here(rx));
    }
    for _ in 0..5 {
        let (tx, rx) = oneshot::channel();
        keep.push(tx);
        tokio::spawn(waiting_there(rx));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let p = tasks::dump(Duration::from_secs(10)).await;
    assert_valid(&p);
    assert_eq!(at(&p, "waiting_here"), 10, "the tracked tasks at their await point");
    assert_eq!(at(&p, "waiting_there"), 5, "and the plain tokio::spawn ones");
    assert!(
        p.samples
            .iter()
            .filter(|s| frames(&p, s).iter().any(|f| f.contains("waiting_here")))
            .all(|s| s.labels.has("task", "tracked") && s.labels.has("state", "idle"))
    );
    assert!(
        p.samples
            .iter()
            .filter(|s| frames(&p, s).iter().any(|f| f.contains("waiting_there")))
            .all(|s| s.labels.has("spawned_at", "tokio::spawn"))
    );
    drop(keep);
}
