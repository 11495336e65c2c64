//! Task dumps (feature `taskdump`, built with `--cfg tokio_unstable`): where
//! every task of the runtime is awaiting now, from tokio's `Handle::dump`,
//! which re-polls each task in a tracing mode and records the backtrace of the
//! poll down to the leaf future it waits on.

use std::collections::HashMap;
use std::time::Duration;

use sonde_profile::{Label, Labels, Profile, Sample};

use super::{age_bucket, registry, sites, task_labels};

/// Leading frames of a dump's backtraces that are tokio's tracing machinery.
const TRACING_FRAMES: &[&str] = &["tokio::runtime::task::trace", "tokio::runtime::dump", "backtrace::"];

/// The current await point of every task of the current tokio runtime (tasks
/// spawned with plain `tokio::spawn` included): a `goroutine/count` profile
/// whose stacks are each task's poll down to the future it awaits, labelled as
/// [`profile`](super::profile) labels tasks spawned through [`spawn`](super::spawn)
/// (`spawned_at`, `task`, `state`, `age`), and `spawned_at = "tokio::spawn"`
/// for the others.
///
/// tokio's dump pauses every worker and re-polls every task: it is expensive.
/// When it does not complete within `timeout`, the profile holds what is known
/// without it (the tracked tasks at their spawn stacks) and a comment that says
/// why. Backtraces are resolved on a blocking thread, not on the runtime's
/// workers.
///
/// Do not dump a runtime with a blocked worker (a synchronous deadlock, a busy
/// loop): tokio's dump then returned partial results after about 0.4 s in our
/// tests (its future does not yield while it waits, so `timeout` cannot cut it
/// short), and the task blocking that worker never completed afterwards. The
/// thread profile ([`threads::profile`](crate::threads::profile)) is the safe
/// tool for a stuck process.
///
/// # Panics
/// Outside a tokio runtime, as `tokio::runtime::Handle::current` does.
pub async fn dump(timeout: Duration) -> Profile {
    let handle = tokio::runtime::Handle::current();
    let traced = match tokio::time::timeout(timeout, handle.dump()).await {
        Ok(dump) => tokio::task::spawn_blocking(move || {
            dump.tasks()
                .iter()
                .map(|t| {
                    // The first backtrace is the task's own poll chain; more
                    // come from `join!`-like combinators, which poll several.
                    let ips = t
                        .trace()
                        .resolve_backtraces()
                        .first()
                        .map(|b| b.frames().map(|f| f.ip() as u64).collect::<Vec<u64>>())
                        .unwrap_or_default();
                    (t.id(), ips)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| format!("resolving the task dump's backtraces failed: {e}")),
        Err(_) => Err(format!(
            "tokio's task dump did not complete within {timeout:?}: a runtime worker is blocked (tokio \
             waits for every worker); the tracked tasks are shown at their spawn stacks instead"
        )),
    };
    crate::alloc::hand_over(crate::alloc::quietly(|| build(traced)))
}

fn build(traced: Result<Vec<(tokio::task::Id, Vec<u64>)>, String>) -> Profile {
    let now = registry::coarse_ns();
    let tracked: HashMap<tokio::task::Id, registry::TaskView> = registry::snapshot(now)
        .into_iter()
        .filter_map(|t| Some((t.id?, t)))
        .collect();
    // After the snapshot: sites are only added, so every task's is here.
    let sites = sites::with(|l| l.clone());
    let modules = crate::unwind::modules::loaded_modules();
    let p = crate::threads::goroutine_profile();
    let mut t = crate::profile_builder::ProfileBuilder::new(p, &modules, &[], TRACING_FRAMES);
    let mut groups: HashMap<(Vec<u32>, Labels), i64> = HashMap::new();
    match traced {
        Ok(tasks) => {
            for (id, ips) in tasks {
                let locations = t.stack(&ips);
                let labels = match tracked.get(&id) {
                    Some(v) => match sites.get(v.site as usize) {
                        Some(site) => {
                            let state = if v.running { "running" } else { "idle" };
                            task_labels(site.location, v.name.as_deref(), state, age_bucket(v.age_ns))
                        }
                        None => continue,
                    },
                    None => vec![Label::str("spawned_at", "tokio::spawn")],
                };
                *groups.entry((locations, Labels::new(labels))).or_default() += 1;
            }
        }
        Err(why) => {
            for v in tracked.values() {
                let Some(site) = sites.get(v.site as usize) else {
                    continue;
                };
                let state = if v.running { "running" } else { "idle" };
                let labels = task_labels(site.location, v.name.as_deref(), state, age_bucket(v.age_ns));
                *groups.entry((t.stack(&site.frames), Labels::new(labels))).or_default() += 1;
            }
            t.p.comments.push(why.into());
        }
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.0.cmp(&b.0.0)));
    for ((locations, labels), n) in groups {
        t.p.samples.push(Sample {
            locations,
            values: vec![n],
            labels,
        });
    }
    t.p
}
