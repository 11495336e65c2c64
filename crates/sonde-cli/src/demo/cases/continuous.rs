//! Pattern 2: the seed's `ContinuousProfiler`, done by sonde's agent. A small
//! service (pages rendered, a 16 KiB session kept for one request in ten) runs for the
//! case's duration while the agent writes CPU windows and heap snapshots into
//! the demo's store; the store is listed as `sonde store ls` lists it, the
//! CPU windows merged name the service's hot function, and the heap
//! snapshots grow at the session site.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sonde::agent::{self, LocalStore};

use crate::demo::analyze::{self, sh, short};
use crate::demo::{Ctx, Outcome};

/// The sessions the service keeps (never removed: a slow leak, one request in ten).
static SESSIONS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A request: a page rendered, a session kept.
#[inline(never)]
pub fn handle_request(i: u64) -> usize {
    if i % 10 == 0 {
        SESSIONS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(vec![(i % 251) as u8; 16 << 10]);
    }
    render_page(i)
}

/// The service's CPU work.
#[inline(never)]
pub fn render_page(i: u64) -> usize {
    let page: String = (0..300).map(|j| format!("<li>{}</li>", i.wrapping_mul(j))).collect();
    page.len()
}

pub fn run(ctx: &Ctx, o: &mut Outcome) -> Result<()> {
    let secs = ctx.pick(3, 6);
    o.planted = format!(
        "a service rendering pages for {secs} s, keeping a 16 KiB session for one request in ten; an agent takes a \
             0.8 s CPU window every second and the heap every 0.5 s"
    );
    let case_start = sonde_profile::store::now_nanos();
    let agent = agent::builder("sonde-demo")
        .version(env!("CARGO_PKG_VERSION"))
        .cpu(Duration::from_millis(800), Duration::from_secs(1))
        .every("heap", Duration::from_millis(500))
        .sink(LocalStore::new(&ctx.store).max_count(2000))
        .start()?;
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        std::hint::black_box(handle_request(i));
        i += 1;
        if i % 10 == 0 {
            // A service waits for requests too.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let stats = agent.stop();
    let collected = |k: &str| stats.collected.get(k).copied().unwrap_or(0);
    o.table.push(format!(
        "{i} requests; the agent collected {} CPU windows and {} heap snapshots ({} errors)",
        collected("profile"),
        collected("heap"),
        stats.collect_errors
    ));
    // What the store's sink could not write, and why: a store short of
    // profiles below would not say.
    for s in stats.sinks.iter().filter(|s| s.failures + s.dropped > 0) {
        o.table.push(format!(
            "the agent's {}: {} writes failed, {} profiles dropped; last error: {}",
            s.name,
            s.failures,
            s.dropped,
            s.last_error.as_deref().unwrap_or("none recorded")
        ));
    }

    // This run's profiles: the agent labels them with its process (the pid,
    // which a container may reuse, and the agent's start, after ours).
    let me = format!("{}@", std::process::id());
    let entries = crate::store::list(&ctx.store)?;
    let mine: Vec<_> = entries
        .iter()
        .filter(|e| e.labels.get("process").is_some_and(|p| p.starts_with(&me)) && e.end_nanos >= case_start)
        .collect();
    let of = |kind: &str| mine.iter().filter(|e| e.kind == kind).collect::<Vec<_>>();
    let (cpu, heap) = (of("cpu"), of("heap"));
    let ls = crate::demo::parse_args::<crate::store::LsArgs>(&["ls", &ctx.store.display().to_string()])?;
    o.table
        .extend(crate::store::ls(&ls)?.lines().map(|l| format!("sonde store ls: {l}")));
    // Every profile the agent collected is stored, and enough of them for the
    // checks below. How many the schedule gave depends on the machine: on a
    // busy one a late window is cut by the stop, and one cut before its first
    // sample is not stored.
    o.check(
        cpu.len() as u64 == collected("profile") && heap.len() as u64 == collected("heap") && !cpu.is_empty()
            && heap.len() >= 2,
        format!(
            "the store holds the {} CPU windows and {} heap snapshots the agent collected (on schedule: about {} and {})",
            cpu.len(),
            heap.len(),
            secs - 1,
            2 * secs
        ),
    );
    let cpu_profiles = cpu
        .iter()
        .map(|e| analyze::read(&ctx.store.join(&e.file)))
        .collect::<Result<Vec<_>>>()?;
    // The stop cuts the last window short; one it cut before its first
    // sample is not stored (the service was busy until the stop).
    let empty = cpu_profiles.iter().filter(|p| p.samples.is_empty()).count();
    o.check(
        empty == 0,
        format!(
            "{} of the {} CPU windows hold samples (the stop cuts the last one short)",
            cpu_profiles.len() - empty,
            cpu_profiles.len()
        ),
    );
    let merged = sonde_profile::merge(cpu_profiles).context("merging the CPU windows")?;
    let top = analyze::top_of(merged, |c| c.user_code = true)?;
    o.found = format!(
        "sonde top --user-code --store … --kind cpu: {}",
        top.rows
            .first()
            .map(|r| short(&analyze::row_text(&top, r)).to_string())
            .unwrap_or_default()
    );
    let render = analyze::share(&top, "render_page", true);
    o.check(
        render >= 0.5,
        format!(
            "the merged CPU windows put {:.0}% of the CPU in render_page and what it calls (cum; ≥ 50%)",
            render * 100.0
        ),
    );
    if let (Some(first), Some(last)) = (heap.first(), heap.last()) {
        let top = analyze::top_against(&ctx.store.join(&last.file), &ctx.store.join(&first.file), |_| {})?;
        let row = top.rows.first();
        o.check(
            row.is_some_and(|r| r.name.contains("handle_request")),
            format!(
                "sonde top --base (first heap snapshot, last): {}",
                row.map_or("nothing".into(), |r| format!(
                    "{} with {}",
                    short(&r.name),
                    r.flat_format
                ))
            ),
        );
    }
    let store = sh(&ctx.store);
    // This run's window, to the nanosecond (relative times go stale).
    let window = match (
        mine.iter().map(|e| e.start_nanos).min(),
        mine.iter().map(|e| e.end_nanos).max(),
    ) {
        (Some(a), Some(b)) => format!(" --from {} --to {}", analyze::time_arg(a), analyze::time_arg(b)),
        _ => String::new(),
    };
    o.file(&ctx.store);
    o.explore(format!("sonde store ls -l {store}"));
    o.explore(format!("sonde top --user-code --store {store} --kind cpu{window}"));
    o.explore(format!("sonde growth --store {store} --kind heap{window}"));
    o.explore(format!("sonde web --store {store} --kind cpu{window}"));
    Ok(())
}
