//! Example 3: `create_memory` keeps 1 MiB in a global ten times over (the
//! leak); `temporary_allocation` allocates 1 MiB and frees it. The heap
//! profile's `inuse_space` holds 10 MiB at `create_memory` and nothing at
//! `temporary_allocation`, which `alloc_space` still shows.

use std::hint::black_box;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;

use crate::demo::analyze::{self, row_text, sh, short};
use crate::demo::{Ctx, Outcome};

/// The seed's `globalLeak`.
static GLOBAL_LEAK: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

const MIB: usize = 1 << 20;

/// Keeps 1 MiB for ever.
#[inline(never)]
pub fn create_memory() {
    let data = vec![1u8; MIB];
    GLOBAL_LEAK.lock().unwrap_or_else(|p| p.into_inner()).push(data);
}

/// Allocates 1 MiB and frees it.
#[inline(never)]
pub fn temporary_allocation() {
    let data = vec![1u8; MIB];
    black_box(&data);
}

pub fn run(ctx: &Ctx, o: &mut Outcome) -> Result<()> {
    o.planted =
        "create_memory keeps 10 x 1 MiB in a global; temporary_allocation allocates 10 x 1 MiB and frees it".into();
    // The global's own vector grows as the blocks arrive; made first so that
    // only the blocks are the leak.
    GLOBAL_LEAK.lock().unwrap_or_else(|p| p.into_inner()).reserve(10);
    for _ in 0..10 {
        create_memory();
        temporary_allocation();
        std::thread::sleep(Duration::from_millis(ctx.pick(5, 100)));
    }
    let path = ctx.file("heap.pb.gz");
    analyze::write(&sonde::heap::profile(), &path)?;
    o.file(&path);
    let svg = ctx.file("heap.svg");
    analyze::flame(&path, None, &svg, "Heap in use: Example 3")?;
    o.file(&svg);

    let inuse = analyze::top(&path, |_| {})?;
    let first = inuse.rows.first();
    o.found = format!(
        "sonde top: {}",
        first
            .map(|r| short(&row_text(&inuse, r)).to_string())
            .unwrap_or_default()
    );
    let leak = analyze::find(&inuse, "create_memory");
    o.check(
        first.is_some_and(|r| r.name.contains("create_memory")) && leak.is_some_and(|r| r.flat == 10 * MIB as i64),
        format!(
            "inuse_space: create_memory is the first row with exactly 10 MiB ({})",
            leak.map_or("absent".into(), |r| r.flat_format.clone())
        ),
    );
    o.check(
        analyze::find(&inuse, "temporary_allocation").is_none(),
        "inuse_space: temporary_allocation is absent (its blocks were freed)",
    );
    let alloc = analyze::top(&path, |c| c.sample_index = Some("alloc_space".into()))?;
    let temp = analyze::find(&alloc, "temporary_allocation");
    o.check(
        temp.is_some_and(|r| r.flat == 10 * MIB as i64),
        format!(
            "alloc_space: temporary_allocation allocated 10 MiB ({})",
            temp.map_or("absent".into(), |r| r.flat_format.clone())
        ),
    );
    o.explore(format!("sonde top {}", sh(&path)));
    o.explore(format!("sonde top --sample-index alloc_space {}", sh(&path)));
    o.explore(format!("sonde web {}", sh(&path)));
    Ok(())
}
