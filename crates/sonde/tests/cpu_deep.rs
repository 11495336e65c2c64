//! A recursion 150 calls deep: the whole stack, from the thread's entry to the
//! leaf, is in the profile, with the unwind tables and with the default mode.
//! CI also runs this with `-C force-frame-pointers=yes` and
//! `SONDE_EXPECT_FRAME_POINTERS=1`, where the default mode must pick the
//! frame-pointer walk and the pure frame-pointer mode must see everything too.

mod common;

use common::*;
use sonde::cpu::{self, CpuOptions, Unwinding};

#[inline(never)]
fn recurse(depth: u32) -> u64 {
    if depth == 0 {
        return leaf_work();
    }
    let r = recurse(std::hint::black_box(depth - 1));
    std::hint::black_box(r + depth as u64)
}

/// 400 ms of CPU in counted steps: a loop that read the CPU clock as it went
/// would draw the samples of a busy machine to the clock reading (see
/// `steps_for`), whose leaf is the system call, not this function's.
#[inline(never)]
fn leaf_work() -> u64 {
    work(400);
    0
}

#[inline(never)]
fn deep_entry() -> u64 {
    recurse(150)
}

#[test]
fn full_stack_root_to_leaf() {
    let fp_build = std::env::var_os("SONDE_EXPECT_FRAME_POINTERS").is_some();
    let mut modes = vec![Unwinding::Tables, Unwinding::Auto];
    if fp_build {
        modes.push(Unwinding::FramePointers);
    }
    calibrate_work();
    for mode in modes {
        let profiler = cpu::start(CpuOptions::default().frequency(1000).unwinding(mode)).expect("start");
        std::hint::black_box(deep_entry());
        let p = profiler.stop().expect("stop");
        assert_valid(&p);
        let how = p
            .comments
            .iter()
            .find(|c| c.contains("unwinding with"))
            .expect("unwinding comment")
            .to_string();
        eprintln!("{mode:?}: {how}");
        if fp_build && mode == Unwinding::Auto {
            assert!(
                how.contains("unwinding with frame pointers"),
                "a frame-pointer build walks frame pointers: {how}"
            );
        }
        let full = p.samples.iter().map(|s| frames(&p, s)).find(|f| {
            f.iter().any(|l| l.ends_with("leaf_work"))
                && f.iter().filter(|n| n.ends_with("cpu_deep::recurse")).count() == 151
                && f.iter().any(|n| n.ends_with("deep_entry"))
                && f.iter().any(|n| n.ends_with("full_stack_root_to_leaf"))
        });
        assert!(
            full.is_some(),
            "{mode:?}: no sample with the whole 151-frame recursion from the test function down to the leaf; {} samples",
            p.samples.len()
        );
    }
}
