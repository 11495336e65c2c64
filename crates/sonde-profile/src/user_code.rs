//! Telling the code a user wrote from the code it calls (the standard library,
//! crates from a registry, Go's runtime and modules, system libraries), and the
//! `user_code` view that charges the time of library frames to the user's
//! function that called them.
//!
//! A Rust CPU profile is topped by library leaves (`memcpy`, `core::fmt::write`,
//! `futex` waits): every row is true, and none is the function the user wrote.
//! pprof's answer is `-hide=REGEX`; sonde knows where a frame's source lives,
//! so it can tell the two apart without a regex: a frame is library code when
//! its file is in the Rust toolchain (`/rustc/<hash>/library/…`, `rustlib/src`),
//! in Cargo's registry or git checkouts, in Go's module cache or standard
//! library, or when it has no file at all (a binary built without debug
//! info), and when its code is in a shared library (`libc.so.6`, `[vdso]`),
//! which a system library's separate debug file gives a source file too; the
//! allocator's shims and sonde's allocator hook are never the user's code either.

use std::collections::HashSet;

use crate::model::{Location, Profile};

/// Path fragments of source files that belong to libraries, not to the
/// program's own code: the Rust toolchain's library (as rustc remaps it, with
/// the crates std vendors, and as `rust-src` installs it), Cargo's registry and git checkouts, Go's module
/// cache.
const LIBRARY_PATHS: &[&str] = &[
    "/rustc/",
    "/rust/deps/",
    "/lib/rustlib/src/rust/",
    "/registry/src/",
    "/git/checkouts/",
    "/pkg/mod/",
];

/// Allocator plumbing, never the program's code wherever its source is: the
/// shims `#[global_allocator]` generates in the program's own crate
/// (`__rust_alloc`, `__rg_alloc`, …, their file is the program's `main.rs`),
/// and sonde's allocator hook (`sonde::heap::Sampled`, the allocation
/// counters), which a program built from sonde's workspace (its demo, its
/// tests) compiles from local files.
const ALLOCATOR_PLUMBING: &[&str] = &[
    "__rust_alloc",
    "__rust_dealloc",
    "__rust_realloc",
    "__rg_",
    "sonde::heap::",
    "sonde::alloc::",
];

/// Whether a frame of function `name` whose source is `file` is library code.
/// Go functions (`.go` files) are library code when their package is in Go's
/// standard library (its import path's first element has no dot and is not
/// `main`), as `runtime.mallocgc` or `net/http.(*conn).serve`.
pub fn is_library_frame(name: &str, file: &str) -> bool {
    if file.is_empty()
        || LIBRARY_PATHS.iter().any(|p| file.contains(p))
        || ALLOCATOR_PLUMBING.iter().any(|h| name.contains(h))
    {
        return true;
    }
    if file.ends_with(".go") {
        // `net/http.(*conn).serve`: the package path ends at the first dot
        // after the last slash before any parenthesis or bracket.
        let head = name.split(['(', '[']).next().unwrap_or(name);
        let last_slash = head.rfind('/').map_or(0, |s| s + 1);
        let pkg_end = head[last_slash..].find('.').map_or(head.len(), |d| last_slash + d);
        let pkg = &head[..pkg_end];
        let first = pkg.split('/').next().unwrap_or("");
        return first != "main" && !first.contains('.');
    }
    false
}

/// Whether a mapping's file is a shared library or a kernel-provided object
/// (`libc.so.6`, `ld-linux-x86-64.so.2`, `[vdso]`), not the program itself.
pub fn is_library_mapping(file: &str) -> bool {
    file.ends_with(".so") || file.contains(".so.") || file.starts_with('[')
}

impl Profile {
    /// The user's lines of location `loc`: whether each is the user's own code.
    fn user_lines<'a>(&'a self, loc: &'a Location) -> impl Iterator<Item = bool> + 'a {
        let shared = loc
            .mapping
            .is_some_and(|m| is_library_mapping(&self.mappings[m as usize].filename));
        loc.lines.iter().map(move |l| {
            let f = &self.functions[l.function as usize];
            !shared && !is_library_frame(&f.name, &f.filename)
        })
    }

    /// The `user_code` view: each sample's stack is cut at its innermost frame of
    /// the user's own code, so the library frames it called (inlined or not) are
    /// charged to it as flat time. Stacks without such a frame are left as they
    /// are (runtime threads, idle workers), and so is everything above the cut,
    /// so the total and every caller's cum are unchanged. Returns whether any
    /// stack has a frame of the user's code.
    pub fn charge_to_user_code(&mut self) -> bool {
        // For each location, the index of its innermost user line, if any.
        let innermost: Vec<Option<usize>> = self
            .locations
            .iter()
            .map(|loc| self.user_lines(loc).position(|user| user))
            .collect();
        // A location cut to its user lines is a new location: the original
        // still serves the stacks that pass through it as a caller.
        let mut cut: Vec<Option<u32>> = vec![None; self.locations.len()];
        let mut matched = false;
        for s in &mut self.samples {
            let Some(i) = s.locations.iter().position(|&l| innermost[l as usize].is_some()) else {
                continue;
            };
            matched = true;
            s.locations.drain(..i);
            let leaf = s.locations[0] as usize;
            let j = innermost[leaf].unwrap_or(0);
            if j > 0 {
                let id = *cut[leaf].get_or_insert_with(|| {
                    let mut loc = self.locations[leaf].clone();
                    loc.lines.drain(..j);
                    self.locations.push(loc);
                    (self.locations.len() - 1) as u32
                });
                s.locations[0] = id;
            }
        }
        matched
    }

    /// What the profile holds of the user's own code, for sample value
    /// `value_index`: the names of the functions with a frame of the user's
    /// code, and the one whose innermost frames hold the largest value with
    /// the library code they call (its flat value in the `user_code` view):
    /// what to look at first in a profile whose top rows are all library code.
    pub fn user_code_summary(&self, value_index: usize) -> UserCode {
        let innermost: Vec<Option<usize>> = self
            .locations
            .iter()
            .map(|loc| self.user_lines(loc).position(|user| user))
            .collect();
        let mut names = HashSet::new();
        for (loc, first) in self.locations.iter().zip(&innermost) {
            if first.is_some() {
                for (line, user) in loc.lines.iter().zip(self.user_lines(loc)) {
                    if user {
                        names.insert(self.functions[line.function as usize].name.to_string());
                    }
                }
            }
        }
        let mut charged = vec![0i64; self.functions.len()];
        for s in &self.samples {
            let leaf = s.locations.iter().find_map(|&l| Some((l, innermost[l as usize]?)));
            if let Some((l, j)) = leaf {
                let f = self.locations[l as usize].lines[j].function as usize;
                charged[f] = charged[f].saturating_add(s.values.get(value_index).copied().unwrap_or(0));
            }
        }
        let top = (0..charged.len())
            .filter(|&f| charged[f] != 0)
            .max_by_key(|&f| (charged[f].unsigned_abs(), std::cmp::Reverse(f)))
            .map(|f| (self.functions[f].name.to_string(), charged[f]));
        UserCode { names, top }
    }
}

/// What a profile holds of the user's own code: made by
/// [`Profile::user_code_summary`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserCode {
    /// Names of the functions with at least one frame of the user's code.
    pub names: HashSet<String>,
    /// The user's function whose innermost frames hold the largest value with
    /// the library code they call, and that value.
    pub top: Option<(String, i64)>,
}

#[cfg(test)]
mod tests {
    use super::is_library_frame;
    use crate::model::{Function, Line, Location, Mapping, Profile, Sample, ValueType};

    /// Functions 0 `app::f`, 1 `app::g`, 2 `app::k` (the user's), 3 `core::x`
    /// and 4 `core::y` (std), 5 `memcpy` (libc, with a file from its debug
    /// file); locations 0 `[core::x inlined into app::f]`, 1 `app::g`,
    /// 2 `core::y`, 3 `app::k`, 4 `memcpy` in libc.so.6.
    fn profile(stacks: &[(&[u32], i64)]) -> Profile {
        let rustc = "/rustc/abc/library/core/src/lib.rs";
        let mut p = Profile::default();
        p.sample_types.push(ValueType::new("cpu", "nanoseconds"));
        for (name, file) in [
            ("app::f", "src/main.rs"),
            ("app::g", "src/main.rs"),
            ("app::k", "src/k.rs"),
            ("core::x", rustc),
            ("core::y", rustc),
            ("memcpy", "./string/memcpy.S"),
        ] {
            p.functions.push(Function {
                name: name.into(),
                filename: file.into(),
                ..Default::default()
            });
        }
        p.mappings.push(Mapping {
            filename: "/usr/bin/app".into(),
            ..Default::default()
        });
        p.mappings.push(Mapping {
            filename: "/lib/libc.so.6".into(),
            ..Default::default()
        });
        let line = |f| Line {
            function: f,
            line: 1,
            column: 0,
        };
        for (lines, m) in [(vec![3, 0], 0), (vec![1], 0), (vec![4], 0), (vec![2], 0), (vec![5], 1)] {
            p.locations.push(Location {
                mapping: Some(m),
                address: 0x1000 + p.locations.len() as u64,
                lines: lines.into_iter().map(line).collect(),
                is_folded: false,
            });
        }
        for (locations, v) in stacks {
            p.samples.push(Sample {
                locations: locations.to_vec(),
                values: vec![*v],
                ..Default::default()
            });
        }
        p
    }

    fn stack(p: &Profile, s: usize) -> Vec<Vec<&str>> {
        p.samples[s]
            .locations
            .iter()
            .map(|&l| {
                p.locations[l as usize]
                    .lines
                    .iter()
                    .map(|l| &*p.functions[l.function as usize].name)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn stacks_are_cut_at_their_innermost_user_frame_and_nothing_else_moves() {
        let mut p = profile(&[
            (&[0, 1], 10),       // core::x inlined into app::f, from app::g
            (&[4, 2, 0, 1], 20), // memcpy from core::y from that
            (&[3, 0, 1], 30),    // app::k called from inside core::x
            (&[4, 2], 40),       // no user frame
        ]);
        let before = p.user_code_summary(0);
        assert_eq!(before.top, Some(("app::f".into(), 30)));
        assert_eq!(before.names.len(), 3, "{:?}", before.names);
        assert!(p.charge_to_user_code());
        assert_eq!(stack(&p, 0), [vec!["app::f"], vec!["app::g"]]);
        assert_eq!(stack(&p, 1), [vec!["app::f"], vec!["app::g"]]);
        assert_eq!(
            stack(&p, 2),
            [vec!["app::k"], vec!["core::x", "app::f"], vec!["app::g"]],
            "a caller keeps its inlined frames"
        );
        assert_eq!(
            stack(&p, 3),
            [vec!["memcpy"], vec!["core::y"]],
            "runtime-only stacks stay"
        );
        assert_eq!(p.samples.iter().map(|s| s.values[0]).sum::<i64>(), 100);
        assert_eq!(p.locations.len(), 6, "one cut copy of location 0, shared");
        assert!(p.check_valid().is_ok());
    }

    #[test]
    fn nothing_of_the_users_is_said_so() {
        let mut p = profile(&[(&[4, 2], 40)]);
        assert_eq!(p.user_code_summary(0).top, None);
        assert!(!p.charge_to_user_code());
    }

    #[test]
    fn library_frames_are_told_by_their_source() {
        let rustc = "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/fmt/mod.rs";
        assert!(is_library_frame("core::fmt::write", rustc));
        assert!(is_library_frame(
            "tokio::runtime::task::raw::poll",
            "/home/u/.cargo/registry/src/index.crates.io-6f17d22bba15001f/tokio-1.40.0/src/runtime/task/raw.rs"
        ));
        assert!(is_library_frame("__memcpy_avx_unaligned_erms", ""));
        assert!(!is_library_frame("myapp::Cache::get", "src/cache.rs"));
        assert!(!is_library_frame("myapp::handle", "/home/u/myapp/src/main.rs"));
        assert!(is_library_frame(
            "<sonde::heap::wrapper::Sampled<A> as core::alloc::global::GlobalAlloc>::realloc",
            "/work/sonde/crates/sonde/src/heap/wrapper.rs"
        ));
        assert!(is_library_frame("__rustc::__rust_realloc", "/home/u/myapp/src/main.rs"));
        assert!(is_library_frame(
            "runtime.mallocgc",
            "/usr/lib/go-1.19/src/runtime/malloc.go"
        ));
        assert!(is_library_frame(
            "net/http.(*conn).serve",
            "/usr/local/go/src/net/http/server.go"
        ));
        assert!(!is_library_frame("main.expensiveOperation", "/home/u/app/main.go"));
        assert!(!is_library_frame(
            "example.com/app/cache.(*Cache).Get",
            "/home/u/app/cache/cache.go"
        ));
        assert!(is_library_frame(
            "github.com/gin-gonic/gin.(*Engine).ServeHTTP",
            "/home/u/go/pkg/mod/github.com/gin-gonic/gin@v1.9.0/gin.go"
        ));
    }
}
