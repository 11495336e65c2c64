//! Case Study 2: a service whose event handler runs each computation in a task
//! of its own and gives up after a timeout, but never cancels the task: a
//! computation whose upstream never answers stays, with its 64 KiB working
//! buffer, for ever. Over a simulated day (an "hour" is a batch of events) a
//! heap and a task snapshot are stored each hour in the local store;
//! `sonde growth` and `sonde top --base first last` name the leaking
//! allocation and the leaking spawn site.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use sonde_profile::store::{Retention, Store};

use crate::demo::analyze::{self, row_text, sh, short};
use crate::demo::{Ctx, Outcome};

/// An incoming event.
pub struct Event {
    pub id: u64,
    pub payload: Vec<u8>,
}

/// The computation: a 64 KiB working buffer, and one event in ten waits on an
/// upstream that never answers.
#[inline(never)]
pub async fn expensive_computation(event: Event) -> u64 {
    let mut buffer = vec![0u8; 64 << 10];
    buffer[..event.payload.len()].copy_from_slice(&event.payload);
    if event.id % 10 == 0 {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    buffer.iter().map(|&b| u64::from(b)).sum()
}

/// The bug: on timeout the handler returns, and the task it spawned stays.
#[inline(never)]
pub async fn process_event(event: Event) -> Option<u64> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    sonde::tasks::spawn(async move {
        let _ = tx.send(expensive_computation(event).await);
    });
    tokio::time::timeout(Duration::from_millis(20), rx).await.ok()?.ok()
}

pub fn run(ctx: &Ctx, o: &mut Outcome) -> Result<()> {
    let hours = ctx.pick(6, 12);
    let per_hour = 40u64;
    o.planted = format!(
        "process_event spawns expensive_computation and times out after 20 ms without cancelling it: \
             one event in ten leaks a task holding 64 KiB ({hours} \"hours\" of {per_hour} events)"
    );
    // Every 64 KiB buffer sampled (Go: runtime.MemProfileRate = 4096): at the
    // default 512 KiB, a leak of a few dozen such buffers is a few samples.
    sonde::heap::set_sample_rate(4096);
    let rt = super::tokio_runtime()?;
    let mut store = Store::open(&ctx.store)?;
    let started = sonde_profile::store::now_nanos();
    let labels: BTreeMap<String, String> = [
        ("service_name".to_string(), "demo-events".to_string()),
        (
            "process".to_string(),
            format!("{}@{}", std::process::id(), sonde_profile::store::rfc3339(started)),
        ),
    ]
    .into();
    let mut heap_files = Vec::new();
    let (mut first_end, mut last_end) = (None, 0);
    for hour in 0..hours {
        rt.block_on(async {
            let handlers: Vec<_> = (0..per_hour)
                .map(|i| {
                    let id = hour * per_hour + i;
                    let event = Event {
                        id,
                        payload: vec![(id % 251) as u8; 4096],
                    };
                    tokio::spawn(process_event(event))
                })
                .collect();
            for h in handlers {
                let _ = h.await;
            }
        });
        let heap = store.write("heap", &sonde::heap::profile(), true, &labels, &Retention::default())?;
        heap_files.push(ctx.store.join(&heap.file));
        first_end.get_or_insert(heap.end_nanos);
        let tasks = store.write("tasks", &sonde::tasks::profile(), true, &labels, &Retention::default())?;
        last_end = tasks.end_nanos;
    }
    // The window of this run's snapshots, to the nanosecond: other cases (the
    // agent's) store heap snapshots of their own in the same store.
    let (from, to) = (
        analyze::time_arg(first_end.unwrap_or(last_end)),
        analyze::time_arg(last_end),
    );
    drop(store); // growth reads the store as the CLI does

    let growth = |kind: &str| -> Result<serde_json::Value> {
        let store = ctx.store.display().to_string();
        let args = crate::demo::parse_args::<crate::store::GrowthArgs>(&[
            "growth", "--store", &store, "--kind", kind, "--from", &from, "--to", &to, "--json",
        ])?;
        Ok(serde_json::from_str(&crate::store::growth(&args)?)?)
    };
    let heap_growth = growth("heap")?;
    let first_site = |g: &serde_json::Value| g["rows"][0]["site"].as_str().unwrap_or_default().to_string();
    let heap_site = first_site(&heap_growth);
    o.check(
        heap_site.contains("expensive_computation"),
        format!(
            "sonde growth --kind heap (this run's window): the first steady riser is {}",
            short(&heap_site)
        ),
    );
    let task_growth = growth("tasks")?;
    let task_site = first_site(&task_growth);
    o.check(
        task_site.contains("process_event"),
        format!(
            "sonde growth --kind tasks: the first steady riser is {} (the spawn site)",
            short(&task_site)
        ),
    );
    let (first, last) = (&heap_files[0], &heap_files[heap_files.len() - 1]);
    let top = analyze::top_against(last, first, |_| {})?;
    let row = top.rows.first();
    let leaked = (hours - 1) * per_hour.div_ceil(10) * (64 << 10);
    o.check(
        row.is_some_and(|r| r.name.contains("expensive_computation") && r.flat as u64 >= leaked * 9 / 10),
        format!(
            "sonde top --base (first hour, last hour): the first row is {} (≥ 90% of the {} KiB leaked since the first hour)",
            row.map_or("nothing".into(), |r| format!("{} with {}", short(&r.name), r.flat_format)),
            leaked >> 10
        ),
    );
    o.found = format!(
        "sonde top --base: {}",
        row.map(|r| short(&row_text(&top, r)).to_string()).unwrap_or_default()
    );
    o.table.push(format!(
        "heap in use: {} → {} bytes over {} snapshots; tasks: {} → {}",
        heap_growth["total_first"],
        heap_growth["total_last"],
        heap_growth["snapshots"],
        task_growth["total_first"],
        task_growth["total_last"]
    ));
    o.file(first);
    o.file(last);
    let store = sh(&ctx.store);
    o.explore(format!(
        "sonde growth --store {store} --kind heap --from {from} --to {to}"
    ));
    o.explore(format!(
        "sonde growth --store {store} --kind tasks --from {from} --to {to}"
    ));
    o.explore(format!("sonde top --base {} {}", sh(first), sh(last)));
    o.explore(format!("sonde web --store {store} --kind heap --from {from} --to {to}"));
    Ok(())
}
