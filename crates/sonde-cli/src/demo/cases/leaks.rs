//! Case Study 4: a job processor that spawns a task per job, where some jobs
//! never finish, against a pool of four workers that give each job a timeout.
//! The seed watches `curl …/debug/pprof/goroutine | grep goroutine` grow; here
//! the task profile is fetched over sonde's `/debug/pprof/tasks?debug=1`
//! after each batch: `goroutine profile: total N` grows by every stuck job for
//! one and stays flat for the other, and the task profile names the spawn
//! site of the leak.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::demo::analyze::{self, row_text, sh, short};
use crate::demo::{Ctx, Outcome};

/// A job: one in three never finishes (it waits for an answer that never comes).
#[inline(never)]
pub async fn process_job(job: u64) {
    if job % 3 == 0 {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// The bug: a task per job, no timeout.
#[inline(never)]
pub fn process_jobs_unbounded(jobs: std::ops::Range<u64>) {
    for job in jobs {
        sonde::tasks::spawn(process_job(job));
    }
}

/// The fix: a fixed number of workers, each job under a timeout (dropping a
/// future cancels it, so a stuck job ends with its timeout).
pub struct JobProcessor {
    queue: tokio::sync::mpsc::Sender<u64>,
}

impl JobProcessor {
    #[inline(never)]
    pub fn new(workers: usize, timeout: Duration) -> JobProcessor {
        let (tx, rx) = tokio::sync::mpsc::channel::<u64>(100);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..workers {
            let rx = rx.clone();
            sonde::tasks::spawn(async move {
                loop {
                    let job = rx.lock().await.recv().await;
                    let Some(job) = job else { break };
                    let _ = tokio::time::timeout(timeout, process_job(job)).await;
                }
            });
        }
        JobProcessor { queue: tx }
    }
}

pub fn run(ctx: &Ctx, o: &mut Outcome) -> Result<()> {
    let batches = ctx.pick(4, 6);
    let per_batch = 60u64;
    o.planted = format!(
        "{batches} batches of {per_batch} jobs, one in three stuck for ever: a task per job (leaks) vs 4 workers with a 5 ms timeout"
    );
    let rt = super::tokio_runtime()?;
    let server = sonde::http::serve("127.0.0.1:0")?;
    let url = format!("http://{}/debug/pprof/tasks?debug=1", server.local_addr());
    let total = || -> Result<u64> {
        let body = crate::fetch::get(&url, Duration::from_secs(30), None, 64 << 20)?;
        let text = String::from_utf8_lossy(&body);
        let line = text.lines().next().unwrap_or_default();
        line.strip_prefix("goroutine profile: total ")
            .and_then(|n| n.trim().parse().ok())
            .with_context(|| format!("{url} answered {line:?}, not `goroutine profile: total N`"))
    };
    // Until the jobs that finish have finished and the stuck ones wait (a
    // task is listed from its first wait): the count holds still for 30 ms.
    let settle = |rt: &tokio::runtime::Runtime| {
        rt.block_on(async {
            let (mut last, mut still) = (usize::MAX, 0);
            for _ in 0..500 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let now = sonde::tasks::count();
                still = if now == last { still + 1 } else { 0 };
                last = now;
                if still == 3 {
                    break;
                }
            }
        })
    };

    let mut unbounded = Vec::new();
    for b in 0..batches {
        let start = b * per_batch;
        rt.block_on(async { process_jobs_unbounded(start..start + per_batch) });
        settle(&rt);
        unbounded.push(total()?);
    }
    let leaked_path = ctx.file("tasks_unbounded.pb.gz");
    analyze::write(&sonde::tasks::profile(), &leaked_path)?;
    let leaked = unbounded.last().copied().unwrap_or(0);

    // The pool, in a runtime of its own once the leaked tasks are gone.
    drop(rt);
    let rt = super::tokio_runtime()?;
    let pool = rt.block_on(async { JobProcessor::new(4, Duration::from_millis(5)) });
    let mut pooled = Vec::new();
    for b in 0..batches {
        let start = b * per_batch;
        rt.block_on(async {
            for job in start..start + per_batch {
                let _ = pool.queue.send(job).await;
            }
            // Until the queue is drained and the last jobs have timed out.
            while pool.queue.capacity() < pool.queue.max_capacity() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        });
        pooled.push(total()?);
    }
    let pool_path = ctx.file("tasks_pool.pb.gz");
    analyze::write(&sonde::tasks::profile(), &pool_path)?;
    drop(pool);
    drop(rt);
    server.stop();

    let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    o.table
        .push(format!("task per job:   goroutine profile: total {}", list(&unbounded)));
    o.table
        .push(format!("worker pool:    goroutine profile: total {}", list(&pooled)));
    let stuck_per_batch = per_batch.div_ceil(3);
    o.check(
        unbounded.windows(2).all(|w| w[1] >= w[0] + stuck_per_batch),
        format!(
            "task per job: the total grows by every stuck job ({stuck_per_batch} a batch): {}",
            list(&unbounded)
        ),
    );
    let (lo, hi) = (
        pooled.iter().min().copied().unwrap_or(0),
        pooled.iter().max().copied().unwrap_or(0),
    );
    o.check(
        hi <= 4 && hi - lo <= 1,
        format!("worker pool: the total stays flat at its 4 workers: {}", list(&pooled)),
    );
    let top = analyze::top(&leaked_path, |_| {})?;
    let site = analyze::find(&top, "process_jobs_unbounded");
    o.found = format!(
        "sonde top (tasks): {}",
        site.map(|r| short(&row_text(&top, r)).to_string())
            .unwrap_or_else(|| "no spawn site".into())
    );
    o.check(
        site.is_some_and(|r| r.cum as f64 >= 0.95 * leaked as f64 && r.cum as u64 >= (batches * stuck_per_batch)),
        format!(
            "the task profile puts the {} leaked tasks at their spawn site process_jobs_unbounded",
            site.map_or(0, |r| r.cum)
        ),
    );
    o.file(&leaked_path);
    o.file(&pool_path);
    o.explore(format!("sonde top {}", sh(&leaked_path)));
    o.explore(format!("sonde tags {}", sh(&leaked_path)));
    o.explore(format!("sonde top {}", sh(&pool_path)));
    Ok(())
}
