//! Tools for the analyzer benchmark (`bench/analyzer.sh`):
//!
//! * `large_profile generate OUT [SAMPLES FUNCTIONS LOCATIONS]` writes a deterministic
//!   CPU profile shaped like a big production service: by default 500,000 samples,
//!   20,000 functions with long generic names, 200,000 locations (a fifth of them
//!   with inlined frames), recursive call chains and thread/span labels.
//! * `large_profile decode FILE [RUNS]` decodes FILE repeatedly and prints the
//!   decode throughput in MB/s of uncompressed protobuf (median of RUNS).

use std::io::Read;
use std::time::Instant;

use sonde_profile::{Function, Label, Labels, Line, Location, Mapping, Profile, Sample, ValueType};

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const CRATES: &[&str] = &[
    "tokio",
    "hyper",
    "serde_json",
    "alloc",
    "core",
    "std",
    "sonde_demo",
    "tower",
    "h2",
    "bytes",
];
const TYPES: &[&str] = &[
    "HashMap<K, V, S>",
    "Vec<T, A>",
    "BTreeMap<K, V, A>",
    "Pin<Box<dyn Future<Output = Result<Response<Body>, Error>> + Send>>",
    "Arc<Mutex<Inner<Request<Body>>>>",
    "Option<Box<Node<String>>>",
    "Result<Vec<u8>, std::io::Error>",
];
const VERBS: &[&str] = &[
    "poll",
    "insert",
    "get",
    "encode",
    "decode",
    "handle",
    "call",
    "drop",
    "clone",
    "serialize",
];

fn generate(samples: usize, functions: usize, locations: usize) -> Profile {
    let mut rng = Rng(0x5eed);
    let mut p = Profile {
        sample_types: vec![ValueType::new("samples", "count"), ValueType::new("cpu", "nanoseconds")],
        period_type: Some(ValueType::new("cpu", "nanoseconds")),
        period: 10_000_000,
        time_nanos: 1_764_000_000_000_000_000,
        duration_nanos: 3_600_000_000_000,
        ..Default::default()
    };
    for (i, name) in [
        "/srv/bin/service",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/libssl.so.3",
        "[vdso]",
    ]
    .iter()
    .enumerate()
    {
        p.mappings.push(Mapping {
            memory_start: 0x40_0000 + (i as u64) * 0x1000_0000,
            memory_limit: 0x40_0000 + (i as u64 + 1) * 0x1000_0000 - 0x1000,
            filename: (*name).into(),
            build_id: format!("{:040x}", rng.next()).into(),
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
            ..Default::default()
        });
    }
    for i in 0..functions {
        let krate = CRATES[rng.below(CRATES.len())];
        let ty = TYPES[rng.below(TYPES.len())];
        let verb = VERBS[rng.below(VERBS.len())];
        let name = format!(
            "{krate}::module_{}::{ty}::{verb}_{i}::<{}>",
            i % 97,
            TYPES[rng.below(TYPES.len())]
        );
        p.functions.push(Function {
            system_name: format!(
                "_ZN{}{krate}{}module_{}{}{verb}_{i}17h{:016x}E",
                krate.len(),
                7,
                i % 97,
                verb.len() + 2,
                rng.next()
            )
            .into(),
            name: name.into(),
            filename: format!("/build/{krate}/src/module_{}/file_{}.rs", i % 97, i % 2000).into(),
            start_line: (i % 900) as i64 + 1,
        });
    }
    for i in 0..locations {
        let mut lines = vec![];
        let inlined = if rng.chance(20) { 1 + rng.below(2) } else { 0 };
        for _ in 0..=inlined {
            lines.push(Line {
                function: rng.below(functions) as u32,
                line: 1 + rng.below(2000) as i64,
                column: 0,
            });
        }
        let mapping = if rng.chance(90) { 0 } else { 1 + rng.below(3) };
        p.locations.push(Location {
            mapping: Some(mapping as u32),
            address: p.mappings[mapping].memory_start + 0x1000 + (i as u64) * 16,
            lines,
            is_folded: false,
        });
    }
    // A call graph over the locations: each has a few callees; some call themselves.
    let callees: Vec<Vec<u32>> = (0..locations)
        .map(|i| {
            let mut c: Vec<u32> = (0..3).map(|_| rng.below(locations) as u32).collect();
            if i % 50 == 0 {
                c.push(i as u32);
            }
            c
        })
        .collect();
    let roots: Vec<u32> = (0..16).map(|_| rng.below(locations) as u32).collect();
    let label_sets: Vec<Labels> = (0..64)
        .map(|i| {
            Labels::new(vec![
                Label::str("thread", &format!("worker-{}", i % 16)),
                Label::str("endpoint", &format!("/api/v1/resource_{}", i / 16)),
            ])
        })
        .collect();
    for _ in 0..samples {
        let mut stack = vec![roots[rng.below(roots.len())]];
        let depth = 4 + rng.below(16);
        while stack.len() < depth {
            let cur = *stack.last().unwrap_or(&0) as usize;
            stack.push(callees[cur][rng.below(callees[cur].len())]);
        }
        stack.reverse(); // leaf first
        let n = 1 + rng.below(3) as i64;
        p.samples.push(Sample {
            locations: stack,
            values: vec![n, n * 10_000_000],
            labels: label_sets[rng.below(label_sets.len())].clone(),
        });
    }
    p
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: large_profile generate OUT [SAMPLES FUNCTIONS LOCATIONS] | decode FILE [RUNS]";
    match args.get(1).map(String::as_str) {
        Some("generate") => {
            let out = args.get(2).expect(usage);
            let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
            let p = generate(num(3, 500_000), num(4, 20_000), num(5, 200_000));
            p.write_file(out).expect("write profile");
            let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "wrote {out}: {} samples, {} functions, {} locations, {:.1} MB gzipped, {:.1} MB raw",
                p.samples.len(),
                p.functions.len(),
                p.locations.len(),
                size as f64 / 1e6,
                p.encode_uncompressed().len() as f64 / 1e6
            );
        }
        Some("decode") => {
            let path = args.get(2).expect(usage);
            let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
            let gz = std::fs::read(path).expect("read profile");
            let mut raw = Vec::new();
            flate2::read::MultiGzDecoder::new(&gz[..])
                .read_to_end(&mut raw)
                .expect("gunzip");
            let mut rates = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let p = Profile::parse(&raw).expect("decode");
                let secs = t.elapsed().as_secs_f64();
                std::hint::black_box(&p);
                rates.push(raw.len() as f64 / 1e6 / secs);
            }
            rates.sort_by(f64::total_cmp);
            println!(
                "decode: {:.1} MB of protobuf, median {:.0} MB/s over {runs} runs (min {:.0}, max {:.0})",
                raw.len() as f64 / 1e6,
                rates[runs / 2],
                rates[0],
                rates[runs - 1]
            );
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
