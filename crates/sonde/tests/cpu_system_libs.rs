//! System libraries in CPU profiles: a stripped libc exports few symbols, so
//! the frames every thread starts in (`start_thread`, `clone3`) and the main
//! thread's `__libc_start_call_main` have names only in libc's separate debug
//! file, which sonde finds by build id. Where that file is installed (Debian's
//! `libc6-dbg`; `.ci/run` installs it and sets SONDE_REQUIRE_LIBC_DEBUG), no
//! frame of libc may stay unnamed (`[libc.so.6]` in a report).

mod common;

use std::time::Duration;

use common::*;
use sonde::cpu::{self, CpuOptions};

#[inline(never)]
fn burn_in_a_thread() {
    burn_for(Duration::from_millis(200), || {
        spin!(10_000);
    });
}

/// libc's debug file by the build id in the profile's mapping, if installed.
fn libc_debug_file(p: &sonde::Profile) -> Option<String> {
    let m = p.mappings.iter().find(|m| m.filename.contains("libc.so"))?;
    let id = &m.build_id;
    let path = format!("/usr/lib/debug/.build-id/{}/{}.debug", id.get(..2)?, id.get(2..)?);
    std::path::Path::new(&path).is_file().then_some(path)
}

#[test]
fn libc_frames_are_named_from_its_debug_file() {
    let profiler = cpu::start(CpuOptions::default().frequency(1000)).expect("start");
    let threads: Vec<_> = (0..2).map(|_| std::thread::spawn(burn_in_a_thread)).collect();
    for t in threads {
        t.join().expect("thread");
    }
    let p = profiler.stop().expect("stop");
    assert_valid(&p);
    assert!(cum(&p, "burn_in_a_thread") > 0, "the threads were sampled");
    if libc_debug_file(&p).is_none() {
        if std::env::var_os("SONDE_REQUIRE_LIBC_DEBUG").is_some() {
            panic!(
                "SONDE_REQUIRE_LIBC_DEBUG is set but libc's debug file is not installed (apt-get install libc6-dbg)"
            );
        }
        eprintln!(
            "SKIPPED libc_frames_are_named_from_its_debug_file: libc's debug file is not installed (apt-get install libc6-dbg)"
        );
        return;
    }
    let libc = p
        .mappings
        .iter()
        .position(|m| m.filename.contains("libc.so"))
        .expect("a libc mapping");
    let unnamed = p
        .locations
        .iter()
        .filter(|l| l.mapping == Some(libc as _) && l.lines.is_empty())
        .count();
    assert_eq!(unnamed, 0, "libc locations without a function name");
    let thread_roots = p
        .samples
        .iter()
        .filter(|s| frames(&p, s).iter().any(|f| f.ends_with("burn_in_a_thread")))
        .filter(|s| {
            frames(&p, s)
                .last()
                .is_some_and(|root| root.contains("clone") || root.contains("start_thread"))
        })
        .count();
    assert!(
        thread_roots > 0,
        "the threads' stacks start in libc's clone3/start_thread"
    );
}
