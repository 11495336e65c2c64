//! Property tests of the decoder: arbitrary and mutated bytes never panic, and
//! whatever decodes can be reported on and survives a write/read round trip.

use std::io::Read;

use proptest::prelude::*;
use sonde_profile::report::{self, Command, Config, Env, SourceOpener};
use sonde_profile::{Label, Labels, Line, Location, Mapping, Profile, Sample, ValueType};

fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/").to_string() + name;
    let gz = std::fs::read(path).expect("fixture");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .expect("gunzip");
    raw
}

/// Runs the reports that walk every part of a profile; they must not panic.
fn report_on(p: &Profile) {
    let opener = SourceOpener::none();
    let env = Env {
        format_time: &report::format_time_utc,
        open_source: &opener,
    };
    for cmd in [
        Command::Top,
        Command::Traces,
        Command::Tree,
        Command::Raw,
        Command::Folded,
    ] {
        let _ = report::generate(p.clone(), &cmd, &Config::default(), &env);
    }
}

/// [`report_on`] for profiles whose values cannot overflow the reports' sums.
/// Legacy parsers take any number (binary CPU counts are 64-bit words) and
/// wrap as Go does; the reports' arithmetic is not checked on such values here.
fn report_on_summable(p: &Profile) {
    if p.samples
        .iter()
        .flat_map(|s| &s.values)
        .all(|v| v.unsigned_abs() < 1 << 50)
    {
        report_on(p);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutate(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = bytes.len().max(1);
        match *m {
            Mutation::Flip(i, x) => {
                if !bytes.is_empty() {
                    bytes[i % n] ^= x | 1;
                }
            }
            Mutation::Insert(i, x) => bytes.insert(i % (bytes.len() + 1), x),
            Mutation::Delete(i) => {
                if !bytes.is_empty() {
                    bytes.remove(i % n);
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % n),
        }
    }
    bytes
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(p) = Profile::parse(&bytes) {
            report_on(&p);
        }
    }

    #[test]
    fn mutated_profiles_never_panic(
        which in 0usize..4,
        muts in proptest::collection::vec(mutation(), 1..6),
        gzipped in any::<bool>(),
    ) {
        let name = ["cpu.pb.gz", "heap.pb.gz", "mutex.pb.gz", "goroutine.pb.gz"][which];
        let mut bytes = mutate(fixture(name), &muts);
        if gzipped {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&bytes).unwrap();
            bytes = mutate(e.finish().unwrap(), &muts[..1]);
        }
        if let Ok(p) = Profile::parse(&bytes) {
            report_on(&p);
            // What decodes must survive a round trip unchanged.
            let again = Profile::parse(&p.encode_uncompressed()).expect("re-encoded profile decodes");
            prop_assert_eq!(again, p);
        }
    }

    #[test]
    fn mutated_legacy_files_never_panic(
        which in 0usize..LEGACY.len(),
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        let path = format!("{}/../../tests/data/google-pprof/profile/{}", env!("CARGO_MANIFEST_DIR"), LEGACY[which]);
        let bytes = mutate(std::fs::read(path).expect("legacy fixture"), &muts);
        if let Ok(p) = Profile::parse(&bytes) {
            p.check_valid().expect("a parsed legacy profile is valid");
            report_on_summable(&p);
            let again = Profile::parse(&p.encode_uncompressed()).expect("re-encoded profile decodes");
            prop_assert_eq!(again, p);
        }
    }

    #[test]
    fn legacy_looking_text_never_panics(
        header in 0usize..LEGACY_HEADERS.len(),
        lines in proptest::collection::vec(legacy_line(), 0..12),
    ) {
        let mut text = LEGACY_HEADERS[header].to_string();
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        if let Ok(p) = Profile::parse(text.as_bytes()) {
            p.check_valid().expect("a parsed legacy profile is valid");
            report_on_summable(&p);
        }
    }

    #[test]
    fn valid_profiles_round_trip(p in profile()) {
        let mut gz = Vec::new();
        p.write_to(&mut gz).unwrap();
        let back = Profile::parse(&gz).expect("decodes");
        prop_assert_eq!(&back, &p);
        report_on(&back);
    }
}

/// The legacy files of google/pprof's test data.
const LEGACY: &[&str] = &[
    "cppbench.contention",
    "cppbench.cpu",
    "cppbench.growth",
    "cppbench.heap",
    "cppbench.thread",
    "cppbench.thread.all",
    "cppbench.thread.none",
    "go.crc32.cpu",
    "go.godoc.thread",
    "gobench.cpu",
    "gobench.heap",
    "java.contention",
    "java.cpu",
    "java.heap",
];

/// First lines of each legacy text format.
const LEGACY_HEADERS: &[&str] = &[
    "heap profile: 3: 30 [5: 50] @ heap/1024\n",
    "heap profile: 3: 30 [5: 50] @ heap_v2/524288\n",
    "heap profile: 3: 30 [5: 50] @ growthz\n",
    "heap_v2/524288\n t*: 3: 30 [0: 0]\n",
    "goroutine profile: total 3\n",
    "--- threadz 1 ---\n",
    "--- Thread 7f79 (name: main/1) stack: ---\n",
    "--- contentionz 1 ---\ncycles/second = 2000000000\nsampling period = 100\n",
    "--- mutex:\ncycles/second=2445481869\nsampling period=1\n",
    "--- heapz 1 ---\nformat = java\nresolution = bytes\n",
    "--- contentionz 1 ---\nformat = java\nresolution = microseconds\nsampling period = 100\n",
];

/// A line of some legacy format, with random numbers in it.
fn legacy_line() -> impl Strategy<Value = String> {
    let n = || prop_oneof![0i64..5, 0i64..1_000_000, any::<i64>()];
    let addrs = proptest::collection::vec(any::<u64>().prop_map(|a| format!("0x{:x}", a % 0x1_0000_0000)), 0..5)
        .prop_map(|v| v.join(" "));
    prop_oneof![
        (n(), n(), n(), n(), addrs.clone()).prop_map(|(a, b, c, d, s)| format!("{a}: {b} [{c}: {d}] @ {s}")),
        (n(), addrs.clone()).prop_map(|(a, s)| format!("{a} @ {s}")),
        (n(), n(), addrs.clone()).prop_map(|(a, b, s)| format!("{a} {b} @ {s}")),
        addrs.clone().prop_map(|s| format!("@ {s}")),
        (n(), n(), n(), n()).prop_map(|(a, b, c, d)| format!("  t*: {a}: {b} [{c}: {d}]")),
        addrs.clone().prop_map(|s| format!("  PC: {s}")),
        Just("--- Thread 7f7a (name: t/2) stack: ---".to_string()),
        Just("  [same as previous thread]".to_string()),
        Just("MAPPED_LIBRARIES:".to_string()),
        Just("--- Memory map: ---".to_string()),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| format!("{a:x}-{b:x} r-xp 00000000 08:01 1 /bin/x")),
        (any::<u32>(), "[a-z ().:0-9]{0,20}").prop_map(|(a, s)| format!("0x{a:08x} {s}")),
        "[ -~]{0,30}",
    ]
}

/// Random but internally consistent profiles.
fn profile() -> impl Strategy<Value = Profile> {
    let names = proptest::collection::vec("[a-z:<>_]{1,12}", 1..8);
    (names, 1usize..4, 0usize..3)
        .prop_flat_map(|(names, ntypes, nmaps)| {
            let nfun = names.len();
            let loc = (
                proptest::option::of(0..nmaps.max(1) as u32),
                any::<u64>(),
                proptest::collection::vec((0..nfun as u32, 0i64..500, 0i64..80), 0..3),
            );
            let locs = proptest::collection::vec(loc, 1..10);
            (Just(names), Just(ntypes), Just(nmaps), locs).prop_flat_map(|(names, ntypes, nmaps, locs)| {
                let nloc = locs.len() as u32;
                let sample = (
                    proptest::collection::vec(0..nloc, 0..12),
                    proptest::collection::vec(-1000i64..100_000, ntypes..=ntypes),
                    proptest::collection::vec(("[a-z]{1,4}", "[a-z0-9]{0,4}", any::<bool>(), -5i64..5000), 0..3),
                );
                let samples = proptest::collection::vec(sample, 0..20);
                (
                    Just(names),
                    Just(ntypes),
                    Just(nmaps),
                    Just(locs),
                    samples,
                    0i64..2_000_000_000,
                )
            })
        })
        .prop_map(|(names, ntypes, nmaps, locs, samples, time)| {
            let kinds = [("samples", "count"), ("cpu", "nanoseconds"), ("alloc_space", "bytes")];
            Profile {
                sample_types: (0..ntypes).map(|i| ValueType::new(kinds[i].0, kinds[i].1)).collect(),
                functions: names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| sonde_profile::Function {
                        name: n.as_str().into(),
                        system_name: format!("_Z{n}").into(),
                        filename: format!("src/f{i}.rs").into(),
                        start_line: i as i64,
                    })
                    .collect(),
                mappings: (0..nmaps)
                    .map(|i| Mapping {
                        memory_start: 0x1000 * (i as u64 + 1),
                        memory_limit: 0x1000 * (i as u64 + 2),
                        filename: format!("/bin/m{i}").into(),
                        has_functions: true,
                        ..Default::default()
                    })
                    .collect(),
                locations: locs
                    .into_iter()
                    .map(|(m, address, lines)| Location {
                        mapping: if nmaps == 0 { None } else { m },
                        address,
                        lines: lines
                            .into_iter()
                            .map(|(function, line, column)| Line { function, line, column })
                            .collect(),
                        is_folded: false,
                    })
                    .collect(),
                samples: samples
                    .into_iter()
                    .map(|(locations, values, labels)| Sample {
                        locations,
                        values,
                        labels: Labels::new(
                            labels
                                .into_iter()
                                .map(|(k, v, is_num, n)| {
                                    if is_num || v.is_empty() {
                                        Label::num(&k, n.max(1), "bytes")
                                    } else {
                                        Label::str(&k, &v)
                                    }
                                })
                                .collect(),
                        ),
                    })
                    .collect(),
                time_nanos: time,
                period: 10,
                period_type: Some(ValueType::new("cpu", "nanoseconds")),
                ..Default::default()
            }
        })
}
