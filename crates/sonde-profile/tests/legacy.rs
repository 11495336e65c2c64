//! The legacy (pre-protobuf) formats, read as pprof reads them.
//!
//! pprof's own test (`profile/profile_test.go`, `TestParse`) parses each file of
//! its `profile/testdata`, prints the profile with `Profile.String()` and
//! compares that with the `.string` golden file byte for byte, with no
//! normalisation; then it writes the profile as protobuf, parses it back and
//! compares again. These tests follow the same procedure on the copies in
//! `tests/data/google-pprof/profile` ([`report::profile_string`] prints pprof's
//! `Profile.String()` layout).

use sonde_profile::{Error, Profile, report};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The files pprof's TestParse reads, with their golden dumps.
const GOLDEN: &[&str] = &[
    "go.crc32.cpu",
    "go.godoc.thread",
    "gobench.cpu",
    "gobench.heap",
    "cppbench.cpu",
    "cppbench.heap",
    "cppbench.contention",
    "cppbench.growth",
    "cppbench.thread",
    "cppbench.thread.all",
    "cppbench.thread.none",
    "java.cpu",
    "java.heap",
    "java.contention",
];

/// The first differing line, for a readable failure.
fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n  want {w:?}\n  got  {g:?}", i + 1);
        }
    }
    format!(
        "lengths differ: want {} lines, got {}",
        want.lines().count(),
        got.lines().count()
    )
}

#[test]
fn legacy_files_parse_to_pprofs_golden_dumps() {
    let mut failures = Vec::new();
    for name in GOLDEN {
        let input = data(&format!("google-pprof/profile/{name}"));
        let want = String::from_utf8(data(&format!("google-pprof/profile/{name}.string"))).expect("utf-8 golden");
        let p = match Profile::parse(&input) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let got = report::profile_string(&p);
        if got != want {
            failures.push(format!("{name}: {}", first_difference(&want, &got)));
            continue;
        }
        // Written as protobuf and read back, it prints the same.
        let back = Profile::parse(&p.encode_uncompressed()).expect("re-read");
        let again = report::profile_string(&back);
        if again != want {
            failures.push(format!(
                "{name} after a round trip: {}",
                first_difference(&want, &again)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn gzip_compressed_legacy_files_are_read() {
    use std::io::Write;
    let input = data("google-pprof/profile/cppbench.heap");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&input).expect("gzip");
    let p = Profile::parse(&gz.finish().expect("gzip")).expect("parse");
    assert_eq!(p, Profile::parse(&input).expect("parse"));
}

/// A jemalloc heap dump (`heap_v2/`, what `prof.dump` writes since jemalloc 4).
const JEMALLOC: &str = "heap_v2/524288
  t*: 3: 1572864 [0: 0]
  t0: 2: 1048576 [0: 0]
  t1: 1: 524288 [0: 0]
@ 0x55d0c4a01234 0x55d0c4a05678 0x7f0a1b2c3d4e
  t*: 2: 1048576 [0: 0]
  t0: 2: 1048576 [0: 0]
@ 0x55d0c4a01234 0x55d0c4a09abc
  t*: 1: 524288 [0: 0]
  t1: 1: 524288 [0: 0]

MAPPED_LIBRARIES:
55d0c4a00000-55d0c4a2c000 r-xp 00000000 08:01 1234                       /usr/bin/app
55d0c4a2c000-55d0c4a30000 r--p 0002c000 08:01 1234                       /usr/bin/app
7f0a1b200000-7f0a1b400000 r-xp 00000000 08:01 5678                       /usr/lib/x86_64-linux-gnu/libc.so.6
";

/// The same numbers in the gperftools layout, which go tool pprof reads.
const JEMALLOC_AS_GPERFTOOLS: &str = "heap profile: 3: 1572864 [0: 0] @ heap_v2/524288
2: 1048576 [0: 0] @ 0x55d0c4a01234 0x55d0c4a05678 0x7f0a1b2c3d4e
1: 524288 [0: 0] @ 0x55d0c4a01234 0x55d0c4a09abc
MAPPED_LIBRARIES:
55d0c4a00000-55d0c4a2c000 r-xp 00000000 08:01 1234                       /usr/bin/app
55d0c4a2c000-55d0c4a30000 r--p 0002c000 08:01 1234                       /usr/bin/app
7f0a1b200000-7f0a1b400000 r-xp 00000000 08:01 5678                       /usr/lib/x86_64-linux-gnu/libc.so.6
";

#[test]
fn jemalloc_dumps_read_as_pprof_reads_their_gperftools_equivalent() {
    let p = Profile::parse(JEMALLOC.as_bytes()).expect("jemalloc dump");
    let q = Profile::parse(JEMALLOC_AS_GPERFTOOLS.as_bytes()).expect("gperftools heap profile");
    assert_eq!(report::profile_string(&p), report::profile_string(&q));
    // What `go tool pprof -raw` prints for the gperftools layout: values
    // scaled for sampling every 512 KiB, return addresses moved onto the call.
    let want = "PeriodType: space bytes
Period: 524288
Samples:
objects/count space/bytes
          3    1658822: 1 2 3 
                bytes:[524288]
          1     829411: 1 4 
                bytes:[524288]
Locations
     1: 0x55d0c4a01233 M=1 
     2: 0x55d0c4a05677 M=1 
     3: 0x7f0a1b2c3d4d M=2 
     4: 0x55d0c4a09abb M=1 
Mappings
1: 0x55d0c4a00000/0x55d0c4a2c000/0x0 /usr/bin/app  
2: 0x7f0a1b200000/0x7f0a1b400000/0x0 /usr/lib/x86_64-linux-gnu/libc.so.6  
";
    let got = report::profile_string(&p).replace(":0:0 s=", ":0 s=");
    assert_eq!(got, want);
}

#[test]
fn jemalloc_dump_with_accumulated_counts_reports_allocations_too() {
    let dump = "heap_v2/1\n t*: 1: 10 [4: 40]\n@ 0x20\n t*: 1: 10 [4: 40]\n";
    let p = Profile::parse(dump.as_bytes()).expect("dump");
    assert_eq!(
        p.sample_type_names(),
        ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"]
    );
    assert_eq!(p.samples[0].values, [4, 40, 1, 10]);
}

#[test]
fn go_debug1_goroutine_text_is_read() {
    let text = "goroutine profile: total 4
3 @ 0x4378b6 0x40619b 0x461481
#\t0x4b45be\tmain.main.func2+0x1e\t/tmp/godbg/main.go:40

1 @ 0x42d4f6 0x461481
#\t0x42d4f5\truntime.main+0x211\t/usr/lib/go/src/runtime/proc.go:250
";
    let p = Profile::parse(text.as_bytes()).expect("goroutine text");
    assert_eq!(p.sample_types[0].to_string(), "goroutine/count");
    assert_eq!(
        p.period_type.as_ref().map(|t| t.to_string()).as_deref(),
        Some("goroutine/count")
    );
    let values: Vec<i64> = p.samples.iter().map(|s| s.values[0]).collect();
    assert_eq!(values, [3, 1]);
    assert_eq!(p.locations[0].address, 0x4378b5);
    // No memory map: one catch-all mapping, as pprof makes.
    assert_eq!(p.mappings.len(), 1);
    assert_eq!(p.mappings[0].memory_limit, u64::MAX);
}

/// Broken inputs of each format: an error naming the problem, never a panic.
#[test]
fn broken_legacy_inputs_are_refused_with_the_reason() {
    let cases: &[(&[u8], &[&str])] = &[
        (b"goroutine profile: total 4\n4 @\n", &["Go count", "line 2", "\"4 @\""]),
        (b"goroutine profile: total 1\n1 @ 0x10 \n", &["Go count", "line 2"]),
        (
            b"goroutine profile: total 1\n1 @ 0x1ffffffffffffffff\n",
            &["Go count", "line 2"],
        ),
        (b"goroutine profile: total 1\n09 @ 0x10\n", &["Go count", "line 2"]),
        (
            b"heap profile: 1: 2 [1: 2] @ heap/8\nnot a sample\n",
            &["heap (text)", "line 2", "is not a sample"],
        ),
        (
            b"heap profile: 1: 2 [1: 2] @ heap/8\n0: 8 [0: 0] @ 0x10\n",
            &["heap (text)", "inuse count was 0 but inuse bytes was 8"],
        ),
        (
            b"heap profile: 1: 2 [1: 2] @ heap/8\n1: 99999999999999999999 [0: 0] @ 0x10\n",
            &["heap (text)", "does not fit in 64 bits"],
        ),
        (
            b"--- contentionz 1 ---\ncycles/second = 10\n1 99999999999999999999 @ 0x10\n",
            &["contention", "does not fit in 64 bits"],
        ),
        (
            b"--- heapz 1 ---\nformat = java\nresolution = bytes\n 10 0 @ 0x1\n",
            &["Java", "must not be zero"],
        ),
        (
            b"--- contentionz 1 ---\nformat = java\nsampling period = lots\n",
            &["Java", "not a number"],
        ),
        (
            b"heap_v2/512\n@ 0x10\n t*: 1: 2 [0: 0]\n",
            &["jemalloc", "before the totals line"],
        ),
        (b"heap_v2/512\n t*: 1: 2 [0: 0]\ngarbage\n", &["jemalloc", "line 3"]),
    ];
    for (input, needles) in cases {
        let err = match Profile::parse(input) {
            Ok(p) => panic!("{:?} was read: {p:?}", String::from_utf8_lossy(input)),
            Err(e) => e.to_string(),
        };
        for n in *needles {
            assert!(
                err.contains(n),
                "{:?}: {err:?} lacks {n:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
    // A line longer than pprof's scanner takes.
    let mut long = b"heap profile: 1: 2 [1: 2] @ heap/8\n1: 2 [1: 2] @".to_vec();
    long.extend(b" 0x10".repeat(20_000));
    let err = Profile::parse(&long).unwrap_err().to_string();
    assert!(err.contains("longer than 65535 bytes"), "{err}");
    // Formats pprof does not read at all are named.
    for (input, format) in [
        (&b"goroutine 1 [running]:\nmain.main()\n"[..], "debug=2"),
        (&b"--- threadz 1 ---\n"[..], "thread"),
        (&b"--- contentionz 1 ---\nfoo = bar\n"[..], "contention"),
    ] {
        let err = Profile::parse(input).unwrap_err();
        assert!(matches!(err, Error::Legacy { .. }), "{err:?}");
        assert!(err.to_string().contains(format), "{err}");
    }
}

/// Every prefix of a binary CPU profile and of each text format parses or
/// fails cleanly.
#[test]
fn truncated_legacy_files_never_panic() {
    for name in GOLDEN {
        let input = data(&format!("google-pprof/profile/{name}"));
        let step = (input.len() / 300).max(1);
        for n in (0..input.len()).step_by(step) {
            if let Ok(p) = Profile::parse(&input[..n]) {
                p.check_valid().expect("a parsed profile is valid");
                let _ = report::profile_string(&p);
            }
        }
    }
}
