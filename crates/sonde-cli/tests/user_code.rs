//! The `user_code` view and the note that points to it: on a Rust profile whose
//! first rows are library code (a tokio service, the seed's Example 2 as sonde
//! profiles it), the function the user wrote comes first; pprof's table itself
//! is unchanged; Go profiles read the same way.

mod common;

use common::*;

/// The entry names of a `top` report's rows, in order.
fn rows(top: &str) -> Vec<String> {
    top.lines()
        .skip_while(|l| !l.contains("flat%"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(5).map(str::to_string))
        .collect()
}

/// The `... of TOTAL total` figure of a report's header.
fn total(top: &str) -> String {
    let line = top.lines().find(|l| l.contains(" total")).expect("a total line");
    line.split(" of ").nth(1).expect("of TOTAL").to_string()
}

#[test]
fn a_tokio_service_reads_from_its_own_code() {
    let p = data("rust_tokio_service.pb.gz");
    let plain = sonde(&["top", &p]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let first = rows(&stdout(&plain));
    assert!(
        first.iter().take(3).all(|r| !r.starts_with("sonde_readability::")),
        "the plain table is pprof's, topped by library code: {first:?}"
    );
    let note = stderr(&plain);
    assert!(
        note.contains("sonde_readability::render_page holds the most") && note.contains("--user-code"),
        "the note names the user's hottest function and the way to see it: {note}"
    );

    let mine = sonde(&["top", "--user-code", &p]);
    assert!(mine.status.success(), "{}", stderr(&mine));
    let out = stdout(&mine);
    assert!(out.contains("Active filters:\n   user_code=true"), "{out}");
    assert_eq!(total(&out), total(&stdout(&plain)), "the total is unchanged");
    let first = rows(&out);
    assert_eq!(first[0], "sonde_readability::render_page", "{out}");
    assert!(
        first.iter().take(8).any(|r| r == "sonde_readability::handle_request"),
        "{out}"
    );
    assert!(!stderr(&mine).contains("note:"), "no note once the view is on");
}

#[test]
fn the_seed_cpu_example_reads_from_expensive_operation() {
    let p = data("rust_seed_cpu.pb.gz");
    let plain = sonde(&["top", &p]);
    assert_eq!(rows(&stdout(&plain))[0], "<u64>::wrapping_add");
    assert!(
        stderr(&plain).contains("cpu_profile::expensive_operation holds the most: 100%"),
        "{}",
        stderr(&plain)
    );
    let mine = sonde(&["top", "--user-code", &p]);
    let out = stdout(&mine);
    assert_eq!(rows(&out)[0], "cpu_profile::expensive_operation", "{out}");
    assert!(
        out.contains("1.88s   100%   100%      1.88s   100%  cpu_profile::expensive_operation"),
        "{out}"
    );
}

#[test]
fn go_profiles_charge_the_runtime_to_main() {
    let p = data("cpu.pb.gz");
    let out = stdout(&sonde(&["top", "--user-code", &p]));
    assert_eq!(
        &rows(&out)[..3],
        ["main.expensiveOperation", "main.fibonacci", "main.main"],
        "{out}"
    );
    assert!(
        !out.contains("runtime.nextFreeFast"),
        "the allocator's frame is charged to main: {out}"
    );
}

#[test]
fn the_shell_spells_the_setting_its_own_way() {
    let p = data("rust_tokio_service.pb.gz");
    let o = sonde_with_input(&["shell", &p], "top3\nuser_code=true\ntop3\nexit\n");
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(err.contains("user_code=true charges library time"), "{err}");
    assert!(out.contains("sonde_readability::render_page"), "{out}");
}

#[test]
fn a_profile_without_source_files_says_how_to_get_them() {
    // google/pprof's unsymbolized C++ profile has no file names at all.
    let p = data("google-pprof/driver/cppbench.cpu");
    let o = sonde(&["top", "--user-code", &p]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("debug = \"limited\""), "{}", stderr(&o));
}
