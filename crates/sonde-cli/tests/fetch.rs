//! Profiles from URLs against a real Go server (tests/go/pprofserver, a Go
//! service with `net/http/pprof`): `sonde top URL` reads what the server
//! sends, saves it as pprof does and prints what `go tool pprof` prints on the
//! same bytes; `sonde fetch` writes the bytes; `go tool pprof`'s flags
//! (`-seconds`) work; Go's `debug=1` text reads too; errors name the URL, the
//! status and the server's text.

mod common;

use common::*;

/// The only file in `dir` (the saved copy).
fn saved_copy(dir: &TempDir) -> String {
    let files: Vec<_> = std::fs::read_dir(&dir.0)
        .expect("save dir")
        .map(|e| e.expect("entry").path().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "one saved copy: {files:?}");
    files[0].clone()
}

#[test]
fn a_go_server_is_read_from_its_urls() {
    if !go_available("a_go_server_is_read_from_its_urls") {
        return;
    }
    let dir = TempDir::new("fetch");
    let server = GoServer::start(&dir, "pprofserver", &[]);
    let url = |path: &str| format!("http://{}/debug/pprof/{path}", server.addr);

    // The heap, saved as pprof saves it, and read as go tool pprof reads it.
    let saves = TempDir::new("fetch-saves");
    let o = sonde(&["top", &url("heap"), "--save-dir", &saves.0.to_string_lossy()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let saved = saved_copy(&saves);
    assert!(
        saved.ends_with("pprof.pprofserver.alloc_objects.alloc_space.inuse_objects.inuse_space.001.pb.gz"),
        "{saved}"
    );
    assert!(
        stderr(&o).contains(&format!("Saved profile in {saved}")),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        stdout(&o),
        stdout(&sonde(&["top", &saved])),
        "the report is the saved profile's"
    );
    same(&["-top", &saved], &["top", &saved]);
    assert!(stdout(&o).contains("main.allocateBlocks"), "{}", stdout(&o));

    // A CPU profile by host and port only, with Go's -seconds flag.
    let o = sonde(&[
        "-top",
        "-seconds",
        "1",
        &server.addr,
        "--save-dir",
        &saves.0.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("Fetching profile over HTTP from {}?seconds=1", url("profile"))),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("main.busyLoop"), "{}", stdout(&o));

    // sonde fetch: the bytes as sent.
    let file = dir.path("goroutine.pb.gz");
    let o = sonde(&["fetch", &url("goroutine"), "-o", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    same(&["-top", &file], &["top", &file]);

    // Errors name the URL, the status and the server's own text.
    let o = sonde(&["top", &url("nosuch")]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!(
            "fetching {}: server response: 404 Not Found - Unknown profile",
            url("nosuch")
        )),
        "{}",
        stderr(&o)
    );
    // Go's debug=1 text is a profile too, as for go tool pprof.
    let o = sonde(&["top", &url("goroutine?debug=1"), "--save-dir", &dir.0.to_string_lossy()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("main.busyLoop"), "{}", stdout(&o));
}

#[test]
fn unreachable_servers_are_named() {
    let o = sonde(&["top", "http://127.0.0.1:1/debug/pprof/heap", "--timeout", "5"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("fetching http://127.0.0.1:1/debug/pprof/heap:"), "{e}");
}
