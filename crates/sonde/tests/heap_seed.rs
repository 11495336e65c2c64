//! The seed article's Example 3: `create_memory` leaks 1 MiB into a global ten
//! times, `temporary_allocation` allocates and drops 1 MiB ten times. At the
//! default rate, inuse_space attributes 10 MiB (within 1%) to create_memory and
//! nothing to temporary_allocation; alloc_space shows about 20 MiB; `--base`
//! finds the growth between two snapshots; `go tool pprof` agrees.

mod common;

use std::alloc::System;
use std::sync::Mutex;

use common::*;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

static GLOBAL_LEAK: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

#[inline(never)]
fn create_memory() {
    let data = vec![1u8; 1024 * 1024];
    GLOBAL_LEAK.lock().expect("leak").push(data);
}

#[inline(never)]
fn temporary_allocation() {
    let data = vec![1u8; 1024 * 1024];
    std::hint::black_box(&data);
}

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn leak_is_attributed_exactly() {
    assert_eq!(sonde::heap::sample_rate(), 512 * 1024, "Go's default rate");
    for _ in 0..5 {
        create_memory();
        temporary_allocation();
    }
    let before = sonde::heap::profile();
    for _ in 0..5 {
        create_memory();
        temporary_allocation();
    }
    let p = sonde::heap::profile();
    assert_valid(&p);
    assert_eq!(&*p.sample_types[3].ty, "inuse_space");
    assert_eq!(p.period, 512 * 1024);
    let leak = cum_of(&p, "inuse_space", "heap_seed::create_memory") as f64;
    assert!(
        (leak / (10.0 * MIB) - 1.0).abs() <= 0.01,
        "create_memory holds {leak} bytes, want 10 MiB ± 1%"
    );
    assert_eq!(
        cum_of(&p, "inuse_space", "heap_seed::temporary_allocation"),
        0,
        "freed memory is not in use"
    );
    let allocated = (cum_of(&p, "alloc_space", "heap_seed::create_memory")
        + cum_of(&p, "alloc_space", "heap_seed::temporary_allocation")) as f64;
    assert!(
        (allocated / (20.0 * MIB) - 1.0).abs() <= 0.01,
        "alloc_space {allocated}, want about 20 MiB"
    );
    // The leaf of the leak is the user's function, not the allocator's frames.
    // (The one sonde leaf a heap profile may show is the copy of an earlier
    // profile the program holds, `before` here, allocated where it was handed
    // over: `Profile::detached`, sampled now and then as any small block.)
    let leaf = p
        .samples
        .iter()
        .filter(|s| s.values[3] > 0)
        .map(|s| frames(&p, s)[0].clone())
        .collect::<Vec<_>>();
    assert!(
        leaf.iter()
            .all(|f| f.ends_with("create_memory") || !f.contains("sonde") || f.contains("Profile::detached")),
        "{leaf:?}"
    );

    // Growth between the snapshots, as `sonde top --base before after` shows it.
    let growth = p.clone().subtract(before).expect("subtract");
    let grew = cum_of(&growth, "inuse_space", "heap_seed::create_memory") as f64;
    assert!((grew / (5.0 * MIB) - 1.0).abs() <= 0.01, "grew {grew}, want 5 MiB");

    // The allocs profile is the same data with alloc_space as default.
    assert_eq!(&*sonde::heap::allocs_profile().default_sample_type, "alloc_space");

    if let Some(top) = go_pprof(&p, &["-sample_index=inuse_space", "-top"]) {
        let row = top
            .lines()
            .find(|l| l.contains("heap_seed::create_memory"))
            .unwrap_or_else(|| panic!("{top}"));
        let flat = row.split_whitespace().next().unwrap_or("");
        assert!(flat == "10MB" || flat == "10240kB", "go tool pprof: {row}\n{top}");
    }
}
