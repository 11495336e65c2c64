//! The flame tree's tests: stubs, search, diffs, folding.

use std::collections::HashMap;

use regex::Regex;
use serde_json::{Value, json};

use super::*;
use crate::model::{Function, Line, Location, Profile, Sample, ValueType};
use crate::report::{Command, Config, prepare};

/// A CPU profile of `(stack root first, samples)`, 10 ms per sample.
fn cpu(stacks: &[(&[&str], i64)]) -> Profile {
    let mut p = Profile::default();
    p.sample_types.push(ValueType::new("samples", "count"));
    p.sample_types.push(ValueType::new("cpu", "nanoseconds"));
    let mut ids: HashMap<String, u32> = HashMap::new();
    for (stack, n) in stacks {
        let locs = stack
            .iter()
            .rev()
            .map(|name| {
                *ids.entry(name.to_string()).or_insert_with(|| {
                    let i = p.functions.len() as u32;
                    p.functions.push(Function {
                        name: (*name).into(),
                        ..Default::default()
                    });
                    p.locations.push(Location {
                        lines: vec![Line {
                            function: i,
                            line: 1,
                            ..Default::default()
                        }],
                        ..Default::default()
                    });
                    i
                })
            })
            .collect();
        p.samples.push(Sample {
            locations: locs,
            values: vec![*n, n * 10_000_000],
            ..Default::default()
        });
    }
    p
}

fn tree(p: Profile, base: Option<Profile>) -> FlameTree {
    let cfg = Config::default();
    let (mut new, _) = prepare(p, &Command::Folded, &cfg).unwrap();
    let mut base = base.map(|b| prepare(b, &Command::Folded, &cfg).unwrap().0);
    FlameTree::new(&mut new, base.as_mut(), None)
}

fn view(t: &FlameTree, v: FlameView) -> Value {
    t.view(&v).unwrap()
}

fn plain(px: u32) -> FlameView<'static> {
    FlameView {
        root: 0,
        px,
        only_below: None,
        widths: Widths::New,
        search: None,
        fold: false,
        unfold: &[],
    }
}

fn names(doc: &Value) -> Vec<String> {
    doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| match r[1].as_u64() {
            Some(i) => doc["names"][i as usize].as_str().unwrap().to_string(),
            None => format!("+{}", r[5]),
        })
        .collect()
}

#[test]
fn narrow_frames_become_one_stub_that_can_be_drawn() {
    // main → hot (990 samples), and ten cold callees of 1 sample each.
    let mut stacks: Vec<(Vec<&str>, i64)> = vec![(vec!["main", "hot"], 990)];
    let cold = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"];
    for c in &cold {
        stacks.push((vec!["main", c, "leaf"], 1));
    }
    let refs: Vec<(&[&str], i64)> = stacks.iter().map(|(s, n)| (s.as_slice(), *n)).collect();
    let t = tree(cpu(&refs), None);
    assert_eq!(t.total(), 1000 * 10_000_000);
    // At 100 px, one pixel is 10 samples: the cold callees are a stub of
    // 20 frames (each callee and its leaf) worth 10 samples.
    let doc = view(&t, plain(100));
    assert_eq!(names(&doc), ["all", "main", "hot", "+20"]);
    let stub = &doc["nodes"][3];
    assert_eq!(stub[3], json!(10 * 10_000_000));
    assert_eq!(stub[4].as_u64().unwrap() as u32 & flags::STUB, flags::STUB);
    // Zooming into the stub draws its frames, at the stub's width.
    let main = doc["nodes"][1][0].as_u64().unwrap() as u32;
    let zoomed = view(
        &t,
        FlameView {
            root: main,
            only_below: Some(stub[8].as_i64().unwrap()),
            ..plain(100)
        },
    );
    let drawn = names(&zoomed);
    assert_eq!(drawn.len(), 1 + 2 * cold.len(), "{drawn:?}");
    assert!(!drawn.contains(&"hot".to_string()));
    assert_eq!(zoomed["nodes"][0][3], json!(10 * 10_000_000));
    // Wide enough, everything is drawn.
    assert_eq!(names(&view(&t, plain(10_000))).len(), 3 + 2 * cold.len());
}

#[test]
fn a_search_counts_each_sample_once_and_marks_stubs() {
    // Recursion: fib under fib; a sample counts once however many match.
    let t = tree(
        cpu(&[
            (&["main", "fib", "fib", "fib"], 60),
            (&["main", "work"], 39),
            (&["main", "tiny", "fibish"], 1),
        ]),
        None,
    );
    let re = Regex::new("fib").unwrap();
    let doc = view(
        &t,
        FlameView {
            search: Some(&re),
            ..plain(50)
        },
    );
    assert_eq!(doc["matched"]["value"], json!(61 * 10_000_000));
    assert_eq!(doc["matched"]["share"], json!("61.00%"));
    assert_eq!(doc["matched"]["frames"], json!(4));
    // `tiny` (1%) is a stub at 50 px, and says a match is inside.
    let stub = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[1].is_null())
        .unwrap();
    assert_ne!(stub[4].as_u64().unwrap() as u32 & flags::MATCH_BELOW, 0);
}

#[test]
fn a_base_gives_changes_noise_and_frames_only_in_the_base() {
    let base = cpu(&[(&["main", "a"], 500), (&["main", "b"], 500), (&["main", "gone"], 100)]);
    let mut new = cpu(&[(&["main", "a"], 1000), (&["main", "b"], 505)]);
    // Both profiles ran 30 s: b's rate did not change, a's doubled.
    let mut base = base;
    base.duration_nanos = 30_000_000_000;
    new.duration_nanos = 30_000_000_000;
    let t = tree(new, Some(base));
    let find = |doc: &Value, name: &str| -> Value {
        let i = doc["names"].as_array().unwrap().iter().position(|n| n == name).unwrap();
        doc["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[1] == json!(i))
            .unwrap()
            .clone()
    };
    let doc = view(&t, plain(1000));
    assert_eq!(doc["noise_test"], json!(true));
    let a = find(&doc, "a");
    let b = find(&doc, "b");
    // a doubled: beyond noise, red; b barely moved: within noise.
    assert!(a[6].as_f64().unwrap() > 0.4, "{a}");
    assert_eq!(a[4].as_u64().unwrap() as u32 & flags::NOISE, 0, "{a}");
    assert_ne!(b[4].as_u64().unwrap() as u32 & flags::NOISE, 0, "{b}");
    assert!(b[7].as_str().unwrap().contains("within sampling noise"), "{b}");
    // With the new profile's widths, `gone` is a stub of base-only frames;
    // with the larger of both, it is drawn, blue.
    let stub = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[1].is_null())
        .unwrap();
    assert_ne!(stub[4].as_u64().unwrap() as u32 & flags::ONLY_BASE, 0, "{stub}");
    let both = view(
        &t,
        FlameView {
            widths: Widths::Max,
            ..plain(1000)
        },
    );
    let gone = find(&both, "gone");
    assert_eq!(gone[6].as_f64().unwrap(), -1.0);
    assert_ne!(gone[4].as_u64().unwrap() as u32 & flags::ONLY_BASE, 0);
}

#[test]
fn runs_of_runtime_frames_fold_into_one_box_that_unfolds() {
    let stack: &[&str] = &[
        "std::rt::lang_start_internal",
        "std::panicking::try",
        "std::panic::catch_unwind",
        "core::ops::function::FnOnce::call_once",
        "myapp::main",
        "myapp::work",
    ];
    let t = tree(cpu(&[(stack, 10)]), None);
    let folded = view(
        &t,
        FlameView {
            fold: true,
            ..plain(100)
        },
    );
    assert_eq!(
        names(&folded),
        ["all", "Rust runtime · 4 frames", "myapp::main", "myapp::work"]
    );
    let group = &folded["nodes"][1];
    assert_ne!(group[4].as_u64().unwrap() as u32 & flags::GROUP, 0);
    assert!(group[7].as_str().unwrap().contains("std::panicking::try"), "{group}");
    // Unfolded by its first frame's id: every frame again.
    let first = group[0].as_u64().unwrap() as u32;
    let unfolded = view(
        &t,
        FlameView {
            fold: true,
            unfold: &[first],
            ..plain(100)
        },
    );
    assert_eq!(names(&unfolded).len(), 7);
    // A search that matches inside the run marks the box.
    let re = Regex::new("catch_unwind").unwrap();
    let searched = view(
        &t,
        FlameView {
            fold: true,
            search: Some(&re),
            ..plain(100)
        },
    );
    assert_ne!(searched["nodes"][1][4].as_u64().unwrap() as u32 & flags::MATCH, 0);
}

#[test]
fn heap_values_get_no_noise_test() {
    let mut p = cpu(&[(&["main", "a"], 5)]);
    p.sample_types = vec![
        ValueType::new("inuse_objects", "count"),
        ValueType::new("inuse_space", "bytes"),
    ];
    let t = tree(p.clone(), Some(p));
    assert_eq!(t.noise_z(1), None);
    assert_eq!(view(&t, plain(100))["noise_test"], json!(false));
}

#[test]
fn packages_of_rust_and_go_names() {
    assert_eq!(package_of("tokio::runtime::task::poll"), "tokio");
    assert_eq!(package_of("<alloc::vec::Vec<T> as core::clone::Clone>::clone"), "alloc");
    assert_eq!(package_of("net/http.(*conn).serve"), "net/http");
    assert_eq!(package_of("main.main.func1"), "main");
    assert_eq!(package_of("malloc"), "");
}

#[test]
fn a_bad_root_is_an_error() {
    let t = tree(cpu(&[(&["main"], 1)]), None);
    assert!(
        t.view(&FlameView { root: 99, ..plain(10) })
            .unwrap_err()
            .contains("reload")
    );
}

#[test]
fn grouping_by_a_label_starts_each_stack_with_its_value() {
    use crate::model::{Label, Labels};
    let mut p = cpu(&[(&["main", "work"], 3), (&["main", "work"], 1), (&["main", "idle"], 2)]);
    p.samples[0].labels = Labels::new(vec![Label::str("thread", "a")]);
    p.samples[1].labels = Labels::new(vec![Label::str("thread", "b")]);
    let cfg = Config::default();
    let (mut new, _) = prepare(p, &Command::Folded, &cfg).unwrap();
    let t = FlameTree::new(&mut new, None, Some("thread"));
    assert_eq!(
        names(&view(&t, plain(1000))),
        [
            "all",
            "thread=a",
            "main",
            "work",
            "thread (none)",
            "main",
            "idle",
            "thread=b",
            "main",
            "work"
        ]
    );
}
