//! The legacy (pre-protobuf) formats, read as pprof reads them.
//!
//! pprof's own test (`profile/profile_test.go`, `TestParse`) parses each file of
//! its `profile/testdata`, prints the profile with `Profile.String()` and
//! compares that with the `.string` golden file byte for byte, with no
//! normalisation; then it writes the profile as protobuf, parses it back and
//! compares again. These tests follow the same procedure on the copies in
//! `tests/data/google-pprof/profile` ([`report::profile_string`] prints pprof's
//! `Profile.String()` layout).

use sonde_profile::{Profile, report};

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
