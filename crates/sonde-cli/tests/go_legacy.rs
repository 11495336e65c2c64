//! `go tool pprof` is the oracle for the legacy (pre-protobuf) formats: on each
//! legacy file of google/pprof's test data, on Go's `debug=1` text profiles and
//! on a jemalloc heap dump, `sonde top` (and `raw`, `traces`) print what
//! `go tool pprof` prints, and a file pprof refuses is refused.
//!
//! pprof runs with `-symbolize=none`: these profiles hold addresses only and
//! sonde never symbolizes from local binaries, while pprof would try the
//! binaries the memory map names if this machine has them (`/usr/lib/.../libc.so.6`
//! often exists). On these files the output is the same as with pprof's default
//! (checked when the test was written); with `-symbolize=none` it cannot depend
//! on the machine.
//!
//! Needs the Go toolchain; where `go` is absent each test says so and returns
//! (CI installs it).

mod common;

use common::*;

/// Runs both tools; both fail, or both succeed with byte-identical output.
fn same(go_args: &[&str], sonde_args: &[&str]) {
    let mut args = vec!["-symbolize=none"];
    args.extend_from_slice(go_args);
    let g = go_pprof(&args);
    let s = sonde(sonde_args);
    assert_eq!(
        g.status.success(),
        s.status.success(),
        "go tool pprof {args:?}: {}\nsonde {sonde_args:?}: {}",
        stderr(&g),
        stderr(&s)
    );
    let (gs, ss) = (stdout(&g), stdout(&s));
    assert!(
        gs == ss,
        "sonde {sonde_args:?} differs from go tool pprof {args:?}:\n--- go ---\n{gs}\n--- sonde ---\n{ss}"
    );
}

/// The legacy files of google/pprof's test data.
fn legacy_files() -> Vec<String> {
    let dir = root().join("tests/data/google-pprof");
    let mut files = Vec::new();
    for sub in ["profile", "driver"] {
        for e in std::fs::read_dir(dir.join(sub)).expect("testdata") {
            let path = e.expect("entry").path().to_string_lossy().into_owned();
            // Golden dumps, and the two protobuf files (go_oracle.rs reads those).
            if !path.ends_with(".string")
                && !path.ends_with("cpu_no_samples_type")
                && !path.ends_with("nomappings.crash")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn legacy_files_top_and_raw_match_go() {
    if !go_available("legacy_files_top_and_raw_match_go") {
        return;
    }
    let files = legacy_files();
    assert!(files.len() >= 18, "only {} legacy files", files.len());
    for f in &files {
        same(&["-top", f], &["top", f]);
        same(&["-raw", f], &["raw", f]);
    }
    // Other sample types and reports on a few.
    let p = |n: &str| data(&format!("google-pprof/profile/{n}"));
    same(&["-traces", &p("java.heap")], &["traces", &p("java.heap")]);
    same(
        &["-tree", &p("cppbench.contention")],
        &["tree", &p("cppbench.contention")],
    );
    let heap = p("gobench.heap");
    same(
        &["-sample_index=alloc_space", "-top", &heap],
        &["top", "--sample-index=alloc_space", &heap],
    );
}

/// What Go 1.19's runtime/pprof writes with `debug=1` (`WriteTo(w, 1)`, as
/// `/debug/pprof/NAME?debug=1` serves it), for a program that allocates, holds
/// a contended mutex and leaves goroutines blocked.
const GO_DEBUG1: &[(&str, &str)] = &[
    ("goroutine.txt", GOROUTINE),
    ("heap.txt", HEAP),
    ("mutex.txt", MUTEX),
    ("block.txt", BLOCK),
];

const GOROUTINE: &str = r#"goroutine profile: total 4
3 @ 0x4378b6 0x40619b 0x405cd8 0x4b45bf 0x461481
#	0x4b45be	main.main.func2+0x1e	/tmp/godbg/main.go:40

1 @ 0x42d4f6 0x45cb05 0x4aa955 0x4aa76d 0x4a76cb 0x4b4545 0x4374f2 0x461481
#	0x45cb04	runtime/pprof.runtime_goroutineProfileWithLabels+0x24	/usr/lib/go-1.19/src/runtime/mprof.go:846
#	0x4aa954	runtime/pprof.writeRuntimeProfile+0xb4			/usr/lib/go-1.19/src/runtime/pprof/pprof.go:723
#	0x4aa76c	runtime/pprof.writeGoroutine+0x4c			/usr/lib/go-1.19/src/runtime/pprof/pprof.go:683
#	0x4a76ca	runtime/pprof.(*Profile).WriteTo+0x14a			/usr/lib/go-1.19/src/runtime/pprof/pprof.go:330
#	0x4b4544	main.main+0x3a4						/tmp/godbg/main.go:46
#	0x4374f1	runtime.main+0x211					/usr/lib/go-1.19/src/runtime/proc.go:250

"#;

const HEAP: &str = r#"heap profile: 27: 1638912 [27: 1638912] @ heap/1048576
25: 1638400 [25: 1638400] @ 0x4b42e5 0x4b42b0 0x4374f2 0x461481
#	0x4b42e4	main.alloc+0x144	/tmp/godbg/main.go:15
#	0x4b42af	main.main+0x10f		/tmp/godbg/main.go:37
#	0x4374f1	runtime.main+0x211	/usr/lib/go-1.19/src/runtime/proc.go:250

1: 416 [1: 416] @ 0x43f9e8 0x43fc9e 0x43fbc5 0x45f409
#	0x43f9e7	runtime.malg+0x27		/usr/lib/go-1.19/src/runtime/proc.go:4076
#	0x43fc9d	runtime.newproc1+0x7d		/usr/lib/go-1.19/src/runtime/proc.go:4123
#	0x43fbc4	runtime.newproc.func1+0x24	/usr/lib/go-1.19/src/runtime/proc.go:4098
#	0x45f408	runtime.systemstack+0x48	/usr/lib/go-1.19/src/runtime/asm_amd64.s:492

1: 96 [1: 96] @ 0x43742b 0x461481
#	0x43742a	runtime.main+0x14a	/usr/lib/go-1.19/src/runtime/proc.go:211


# runtime.MemStats
# Alloc = 13176632
# TotalAlloc = 13183992
# Sys = 27112712
# Lookups = 0
"#;

const MUTEX: &str = r#"--- mutex:
cycles/second=2445481869
sampling period=1
550375360 199 @ 0x4b469f 0x4b4686 0x461481
#	0x4b469e	sync.(*Mutex).Unlock+0xbe	/usr/lib/go-1.19/src/sync/mutex.go:223
#	0x4b4685	main.main.func1+0xa5		/tmp/godbg/main.go:32

"#;

const BLOCK: &str = r#"--- contention:
cycles/second=2445481869
1619636616 199 @ 0x4b4678 0x4b465c 0x461481
#	0x4b4677	sync.(*Mutex).Lock+0x97	/usr/lib/go-1.19/src/sync/mutex.go:90
#	0x4b465b	main.main.func1+0x7b	/tmp/godbg/main.go:30

553272828 1 @ 0x468452 0x4b42af 0x4374f2 0x461481
#	0x468451	sync.(*WaitGroup).Wait+0x51	/usr/lib/go-1.19/src/sync/waitgroup.go:139
#	0x4b42ae	main.main+0x10e			/tmp/godbg/main.go:36
#	0x4374f1	runtime.main+0x211		/usr/lib/go-1.19/src/runtime/proc.go:250

"#;

/// A threadcreate profile whose only stack is empty, which pprof refuses.
const THREADCREATE: &str = r#"threadcreate profile: total 4
4 @
#	0x0

"#;

#[test]
fn go_debug1_text_matches_go() {
    if !go_available("go_debug1_text_matches_go") {
        return;
    }
    let dir = TempDir::new("go-debug1");
    for (name, text) in GO_DEBUG1 {
        let f = dir.path(name);
        std::fs::write(&f, text).expect("write");
        for cmd in ["top", "traces", "raw"] {
            same(&[&format!("-{cmd}"), &f], &[cmd, &f]);
        }
    }
    let f = dir.path("threadcreate.txt");
    std::fs::write(&f, THREADCREATE).expect("write");
    same(&["-top", &f], &["top", &f]);
    let err = stderr(&sonde(&["top", &f]));
    assert!(
        err.contains("malformed legacy Go count") && err.contains("\"4 @\""),
        "{err}"
    );
}

/// A heap dump written by jemalloc 5.3 (`prof:true,prof_final:true`) for a C
/// program, its memory map shortened and the program renamed.
const JEMALLOC: &str = r#"heap_v2/65536
  t*: 162: 637659 [0: 0]
  t0: 162: 637659 [0: 0]
@ 0x7f6d2a0a2630 0x7f6d2a0a2d21 0x7f6d2a095f24 0x7f6d2a022045 0x55a9c241114e 0x55a9c24111cd 0x7f6d29e4524a 0x7f6d29e45305 0x55a9c2411071
  t*: 2: 96 [0: 0]
  t0: 2: 96 [0: 0]
@ 0x7f6d2a0a2630 0x7f6d2a0a2d21 0x7f6d2a095f24 0x7f6d2a022045 0x55a9c2411185 0x55a9c24111e4 0x7f6d29e4524a 0x7f6d29e45305 0x55a9c2411071
  t*: 39: 10499832 [0: 0]
  t0: 39: 10499832 [0: 0]
@ 0x7f6d2a0a2630 0x7f6d2a0a2d21 0x7f6d2a095f24 0x7f6d2a022ed9 0x7f6d29ca57ba 0x7f6d2a407a1e 0x7f6d2a407b04 0x7f6d2a41dba0
  t*: 1: 82704 [0: 0]
  t0: 1: 82704 [0: 0]

MAPPED_LIBRARIES:
55a9c2411000-55a9c2412000 r-xp 00001000 fe:00 10019035                   /opt/demo/bin/server
55a9c2412000-55a9c2413000 r--p 00002000 fe:00 10019035                   /opt/demo/bin/server
55a9c2413000-55a9c2414000 r--p 00002000 fe:00 10019035                   /opt/demo/bin/server
55a9c2414000-55a9c2415000 rw-p 00003000 fe:00 10019035                   /opt/demo/bin/server
7f6d28400000-7f6d28800000 rw-p 00000000 00:00 0 
7f6d28900000-7f6d29a00000 rw-p 00000000 00:00 0 
7f6d29bfe000-7f6d29c00000 rw-p 00000000 00:00 0 
7f6d29c99000-7f6d29d9a000 r-xp 00099000 fe:00 326801                     /usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30
7f6d29e17000-7f6d29e1a000 rw-p 00000000 00:00 0 
7f6d29e1b000-7f6d29e1e000 rw-p 00000000 00:00 0 
7f6d29e44000-7f6d29f9a000 r-xp 00026000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f6d29ff3000-7f6d2a000000 rw-p 00000000 00:00 0 
7f6d2a009000-7f6d2a0af000 r-xp 00009000 fe:00 15695873                   /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
7f6d2a0ce000-7f6d2a2ed000 rw-p 00000000 00:00 0 
7f6d2a2ee000-7f6d2a2f0000 rw-p 00000000 00:00 0 
7f6d2a2f3000-7f6d2a30a000 r-xp 00003000 fe:00 326426                     /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
"#;

/// The same numbers in the gperftools layout (`heap profile: ... @ heap_v2/R`
/// then `N: B [N: B] @ stack`), which go tool pprof reads.
fn jemalloc_as_gperftools(dump: &str) -> String {
    let mut lines = dump.lines();
    let rate = lines
        .next()
        .and_then(|h| h.trim().strip_prefix("heap_v2/"))
        .expect("heap_v2 header");
    let (mut out, mut stack, mut header, mut maps) = (String::new(), None, false, false);
    for l in lines {
        maps |= l.starts_with("MAPPED_LIBRARIES:");
        let t = l.trim();
        if maps {
            out.push_str(l);
            out.push('\n');
        } else if let Some(s) = t.strip_prefix('@') {
            stack = Some(s.to_string());
        } else if let Some(counts) = t.strip_prefix("t*:") {
            let counts = counts.trim();
            if header {
                out.push_str(&format!(
                    "{counts} @{}\n",
                    stack.take().expect("a stack before its totals")
                ));
            } else {
                out.push_str(&format!("heap profile: {counts} @ heap_v2/{rate}\n"));
                header = true;
            }
        }
    }
    out
}

#[test]
fn jemalloc_dump_reads_as_go_reads_its_gperftools_equivalent() {
    if !go_available("jemalloc_dump_reads_as_go_reads_its_gperftools_equivalent") {
        return;
    }
    let dir = TempDir::new("jemalloc");
    let dump = dir.path("prof.heap");
    std::fs::write(&dump, JEMALLOC).expect("write");
    let equivalent = dir.path("prof.gperftools.heap");
    std::fs::write(&equivalent, jemalloc_as_gperftools(JEMALLOC)).expect("write");
    // go tool pprof does not read jemalloc's own layout...
    let g = go_pprof(&["-symbolize=none", "-top", &dump]);
    assert!(
        !g.status.success() && stderr(&g).contains("unrecognized profile format"),
        "go tool pprof now reads jemalloc dumps; compare with it directly: {}",
        stdout(&g)
    );
    // ...and sonde reads it as pprof reads the same numbers in gperftools' layout.
    for cmd in ["top", "raw", "traces"] {
        same(&[&format!("-{cmd}"), &equivalent], &[cmd, &dump]);
    }
    same(
        &["-sample_index=objects", "-top", &equivalent],
        &["top", "--sample-index=objects", &dump],
    );
}

/// Small inputs at the edges of each format: sonde accepts exactly those pprof
/// accepts, and prints the same.
#[test]
fn edge_inputs_are_accepted_or_refused_as_go_does() {
    if !go_available("edge_inputs_are_accepted_or_refused_as_go_does") {
        return;
    }
    let cases: &[&str] = &[
        // A leading 0 makes a count octal.
        "goroutine profile: total 8\n010 @ 0x1000 0x2000\n",
        "goroutine profile: total 8\n09 @ 0x1000\n",
        "goroutine profile: total 1\n1 @ 0x1000 \n",
        "goroutine profile: total 1\n\n# comment\n1 @ 0x1000\n--- anything after\n",
        "threadcreate profile: total 2\n2 @ 0x1000\n",
        "heap profile: 1: 2 [1: 2] @ heap/8\n0: 8 [0: 0] @ 0x10\n",
        "heap profile: 1: 2 [3: 4] @ heapprofile\n1: 2 [3: 4] @ 0x10 0x20\n",
        "heap profile: 1: 2 [1: 2] @ fragmentationz\n1: 2 [1: 2] @ 0x10\n",
        "heap profile: 1: 2 [1: 2] @ heapsomething/4\n",
        "--- contentionz 1 ---\nfoo = bar\n",
        "--- contentionz 1 ---\nno equals sign here\n",
        "--- contention:\ncycles/second=1000000000\n5 1 @ 0x10\n",
        "--- mutex:\ncycles/second=0x3B9ACA00\nsampling period=1_0\n5 1 @ 0x10\n",
        "--- threadz 1 ---\n",
        "--- Thread 1 (name: a/1) stack: ---\n  0x10 0x20\n--- Thread 2 (name: b/2) stack: ---\n",
        "--- Thread 1 (name: a/1) stack: ---\n  0x10 0x20\n---- no stack trace for thread 2\n",
        "--- heapz 1 ---\nformat = java\nresolution = bytes\n 10 0 @ 0x1\n",
        "--- heapz 1 ---\nformat = java\nresolution = bytes\n 100 2 @ 0x1\n0x1 a.b.C.f (C.java:3)\n",
        "goroutine 1 [running]:\nmain.main()\n\t/tmp/x.go:3 +0x1d\n",
    ];
    let dir = TempDir::new("legacy-edges");
    for (i, text) in cases.iter().enumerate() {
        let f = dir.path(&format!("case{i}.txt"));
        std::fs::write(&f, text).expect("write");
        same(&["-top", &f], &["top", &f]);
        same(&["-raw", &f], &["raw", &f]);
    }
}
