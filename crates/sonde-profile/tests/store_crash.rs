//! Crash safety of the local store: a writer process is killed with SIGKILL
//! at random points while it writes 50 profiles (with retention removing the
//! oldest), again and again into one store. After every kill, a reader sees
//! only complete, readable profiles and an index that names only files that
//! exist; after the next writer's repair, the index and the directory agree
//! exactly and no temporary file is left.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sonde_profile::store::{self, Retention, Store};
use sonde_profile::{Function, Line, Location, Profile, Sample, ValueType};

const CHILD: &str = "SONDE_STORE_CRASH_CHILD";
const WRITES: usize = 50;

/// A heap-like profile of `n` stacks (tens of KB compressed: a write takes
/// long enough to be interrupted in the middle).
fn profile(seed: u64, n: usize) -> Profile {
    let mut p = Profile::default();
    p.sample_types.push(ValueType::new("inuse_space", "bytes"));
    p.time_nanos = 1_764_500_000_000_000_000 + seed as i64 * 1_000_000_000;
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p.functions.push(Function {
            name: format!("f{i}_{x:x}").into(),
            ..Default::default()
        });
        p.locations.push(Location {
            address: x,
            lines: vec![Line {
                function: i as u32,
                line: (x % 1000) as i64,
                ..Default::default()
            }],
            ..Default::default()
        });
        p.samples.push(Sample {
            locations: vec![i as u32],
            values: vec![(x % 100_000) as i64],
            ..Default::default()
        });
    }
    p
}

/// The child: opens the store and writes `WRITES` profiles.
fn write_store(dir: &Path) {
    let mut s = Store::open(dir).expect("open");
    let labels = BTreeMap::from([("service_name".to_string(), "crash".to_string())]);
    let keep = Retention::default().with_max_count(20);
    for i in 0..WRITES {
        let kind = if i % 2 == 0 { "heap" } else { "cpu" };
        s.write(kind, &profile(i as u64, 2000), i % 2 == 0, &labels, &keep)
            .expect("write");
    }
}

/// What must hold of the store at `dir` as any reader finds it.
fn check_readable(dir: &Path, round: usize) -> usize {
    let entries = store::list(dir).unwrap_or_else(|e| panic!("round {round}: {e}"));
    for e in &entries {
        let data = std::fs::read(dir.join(&e.file)).expect("listed files exist");
        let p = Profile::parse(&data).unwrap_or_else(|err| panic!("round {round}: {} is not complete: {err}", e.file));
        assert_eq!(p.samples.len(), 2000, "round {round}: {}", e.file);
        assert_eq!(e.bytes, data.len() as u64, "round {round}: {}", e.file);
    }
    // Every profile file in the directory is complete too (renamed into place
    // only once written and synced), indexed or not.
    for f in std::fs::read_dir(dir).expect("dir") {
        let name = f.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".pb.gz") && !name.starts_with('.') {
            let data = std::fs::read(dir.join(&name)).expect("read");
            Profile::parse(&data).unwrap_or_else(|err| panic!("round {round}: {name} is not complete: {err}"));
        }
    }
    entries.len()
}

/// After a writer's repair: the index and the directory agree exactly.
fn check_repaired(dir: &Path, round: usize) {
    let s = Store::open(dir).expect("repair");
    let indexed: BTreeSet<String> = s.entries().iter().map(|e| e.file.clone()).collect();
    let mut on_disk = BTreeSet::new();
    for f in std::fs::read_dir(dir).expect("dir") {
        let name = f.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "round {round}: {name} left behind");
        if name.ends_with(".pb.gz") {
            on_disk.insert(name);
        }
    }
    assert_eq!(indexed, on_disk, "round {round}");
    let listed: BTreeSet<String> = store::list(dir).expect("list").into_iter().map(|e| e.file).collect();
    assert_eq!(listed, on_disk, "round {round}: the index as readers see it");
}

fn run_child(dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().expect("this test"))
        .args(["--exact", "killed_writers_leave_a_consistent_store", "--nocapture"])
        .env(CHILD, dir)
        .spawn()
        .expect("start the writer")
}

#[test]
fn killed_writers_leave_a_consistent_store() {
    if let Some(dir) = std::env::var_os(CHILD) {
        write_store(Path::new(&dir));
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("sonde-store-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // How long 50 writes take here, now: the kill points are spread over it.
    let t = Instant::now();
    let status = run_child(&dir).wait().expect("wait");
    assert!(status.success());
    let full = t.elapsed();
    assert_eq!(check_readable(&dir, 0), 20, "retention keeps 20");
    check_repaired(&dir, 0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("50 writes took {full:?}; kill points from seed {seed}");
    let mut x = seed | 1;
    for round in 1..=12 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = full.mul_f64((x % 1000) as f64 / 1000.0);
        let mut child = run_child(&dir);
        std::thread::sleep(at);
        // SIGKILL: no destructor, no flush.
        let _ = child.kill();
        let _ = child.wait();
        check_readable(&dir, round);
        // Every other round, the next writer repairs without a check in between.
        if round % 2 == 0 {
            check_repaired(&dir, round);
        }
    }
    // A writer after all this completes its 50 writes.
    assert!(run_child(&dir).wait().expect("wait").success());
    check_repaired(&dir, 13);
    let _ = std::fs::remove_dir_all(&dir);
}
