//! The one symbolizer, shared by every collector: addresses to demangled function
//! names, files and lines, with inlined frames expanded. It runs when a profile is
//! built, never in a signal handler. Debug info is loaded lazily per binary and
//! kept, with every address already resolved, for the next profiles of this
//! process; [`clear_cache`] frees it.
//!
//! A system library is usually stripped to its exported symbols, which do not
//! cover the functions every thread runs through (`__libc_start_call_main`,
//! `start_thread`, `clone3`, the `memcpy` variants): its separate debug file,
//! found by build id as GDB finds it (`/usr/lib/debug/.build-id/xx/yyyy.debug`,
//! installed by Debian's `libc6-dbg` or Fedora's `glibc-debuginfo`), is read
//! instead when it is there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use addr2line::Loader;

/// One source frame of an address: with inlining, an address has several,
/// innermost first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct SourceFrame {
    /// Demangled name without the hash suffix, e.g. `my_crate::work`.
    pub function: String,
    /// The linker's (mangled) name when known, else the same as `function`.
    pub system_name: String,
    /// Source file path, empty when unknown.
    pub file: String,
    /// Line number, 0 when unknown.
    pub line: u32,
}

struct Binary {
    loader: Option<Loader>,
    resolved: HashMap<u64, Arc<[SourceFrame]>>,
}

// SAFETY: a `Binary` is only used while holding the `SYMBOLS` mutex, one thread at
// a time; addr2line's loader keeps lazily filled caches that are not shared
// between threads without that lock.
unsafe impl Send for Binary {}

/// The symbol cache. It is used only inside the `crate::fork::SYMBOLS` gate,
/// which `fork()` waits for, so a child never finds it locked or half-updated.
static SYMBOLS: Mutex<Option<HashMap<String, Binary>>> = Mutex::new(None);

/// Resolves `addr` (an address in the file's own address space, i.e. the runtime
/// address minus the load bias) in the binary at `path`, whose GNU build id is
/// `build_id` (empty if it has none). Returns no frames when the binary cannot
/// be read or has no symbol for the address.
pub(crate) fn resolve(path: &str, build_id: &[u8], addr: u64) -> Arc<[SourceFrame]> {
    // The cache is the profiler's memory, not the program's.
    crate::alloc::quietly(|| resolve_cached(path, build_id, addr))
}

/// Where the separate debug file of a binary with this build id is installed,
/// if it is: `/usr/lib/debug/.build-id/` + the first byte in hex + `/` + the
/// rest + `.debug` (the layout GDB, Debian's `-dbg` and Fedora's `-debuginfo`
/// packages use).
fn debug_file(build_id: &[u8]) -> Option<String> {
    let (first, rest) = build_id.split_first()?;
    let rest: String = rest.iter().map(|b| format!("{b:02x}")).collect();
    let path = format!("/usr/lib/debug/.build-id/{first:02x}/{rest}.debug");
    std::path::Path::new(&path).is_file().then_some(path)
}

fn load(path: &str, build_id: &[u8]) -> Binary {
    Binary {
        loader: debug_file(build_id)
            .and_then(|d| Loader::new(d).ok())
            .or_else(|| Loader::new(path).ok()),
        resolved: HashMap::new(),
    }
}

fn resolve_cached(path: &str, build_id: &[u8], addr: u64) -> Arc<[SourceFrame]> {
    crate::fork::SYMBOLS.with(|| {
        let mut guard = SYMBOLS.lock().unwrap_or_else(|p| p.into_inner());
        resolve_in(&mut guard, path, build_id, addr)
    })
}

fn resolve_in(
    cache: &mut Option<HashMap<String, Binary>>,
    path: &str,
    build_id: &[u8],
    addr: u64,
) -> Arc<[SourceFrame]> {
    let binaries = cache.get_or_insert_with(HashMap::new);
    let bin = binaries.entry(path.to_string()).or_insert_with(|| load(path, build_id));
    if let Some(frames) = bin.resolved.get(&addr) {
        return frames.clone();
    }
    let frames: Arc<[SourceFrame]> = match &bin.loader {
        Some(loader) => lookup(loader, addr).into(),
        None => Arc::from(Vec::new()),
    };
    bin.resolved.insert(addr, frames.clone());
    frames
}

/// Frees the loaded debug info and resolved addresses.
pub fn clear_cache() {
    let old = crate::fork::SYMBOLS.with(|| SYMBOLS.lock().unwrap_or_else(|p| p.into_inner()).take());
    crate::alloc::quietly(|| drop(old));
}

fn lookup(loader: &Loader, addr: u64) -> Vec<SourceFrame> {
    let mut out = Vec::new();
    if let Ok(mut frames) = loader.find_frames(addr) {
        while let Ok(Some(f)) = frames.next() {
            let raw = f
                .function
                .as_ref()
                .and_then(|n| n.raw_name().ok())
                .map(|n| n.into_owned());
            let (function, system_name) = match (&raw, f.function.as_ref().and_then(|n| n.demangle().ok())) {
                (Some(raw), demangled) => (demangle(raw).or(demangled.map(|d| d.into_owned())), raw.clone()),
                (None, _) => (None, String::new()),
            };
            let (file, line) = f
                .location
                .map(|l| (l.file.unwrap_or_default().to_string(), l.line.unwrap_or(0)))
                .unwrap_or_default();
            let function = function.unwrap_or_else(|| system_name.clone());
            if function.is_empty() && file.is_empty() {
                continue;
            }
            out.push(SourceFrame {
                system_name: linker_name(system_name),
                function,
                file,
                line,
            });
        }
    }
    // The symbol table names the outermost (not inlined) function with its full
    // path, which line-tables-only debug info lacks; without debug info it is the
    // only name there is.
    if let Some(sym) = loader.find_symbol(addr) {
        let function = demangle(sym).unwrap_or_else(|| sym.to_string());
        match out.last_mut() {
            Some(f) if f.function.is_empty() || same_function(&function, &f.function) => {
                f.function = function;
                f.system_name = sym.to_string();
            }
            Some(_) => {}
            None => out.push(SourceFrame {
                function,
                system_name: sym.to_string(),
                ..Default::default()
            }),
        }
    }
    out
}

/// The system name to record: a linker symbol (mangled) as it is; a name
/// from debug info that is not one (`eq<u8, u8>` of an inlined frame in
/// line-tables-only DWARF) is not a system name, and is left empty, so that
/// pprof and sonde keep the function name whole instead of shortening it as
/// a demangled C++ name (`eq`).
fn linker_name(raw: String) -> String {
    let mangled = ["_ZN", "_R", "_Z"].iter().any(|p| raw.starts_with(p)) || raw.starts_with("__Z");
    let plain_symbol = !raw.is_empty()
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'));
    if mangled || plain_symbol { raw } else { String::new() }
}

/// Whether a full symbol name (`my_crate::module::work`) and a debug-info name
/// (`work`, `work<T>`) name the same function.
fn same_function(symbol: &str, dwarf: &str) -> bool {
    let dwarf = without_generics(dwarf);
    let base = dwarf.rsplit("::").next().unwrap_or(&dwarf);
    let sym = without_generics(symbol);
    !base.is_empty() && (sym == base || sym.ends_with(&format!("::{base}")))
}

/// A name without its `<...>` groups: `<a::S<T>>::f<U>` becomes `::f`.
fn without_generics(name: &str) -> String {
    let mut depth = 0usize;
    name.chars()
        .filter(|&c| {
            match c {
                '<' => depth += 1,
                '>' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .collect()
}

/// Demangles a Rust symbol without its hash (`foo::bar`, not `foo::bar::h0123…`).
pub(crate) fn demangle(name: &str) -> Option<String> {
    rustc_demangle::try_demangle(name).ok().map(|d| format!("{d:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unwind::modules::{loaded_modules, module_for};

    #[inline(never)]
    fn a_function_to_find() -> u64 {
        std::hint::black_box(42)
    }

    #[test]
    fn resolves_own_function_with_file_and_line() {
        let mods = loaded_modules();
        let addr = a_function_to_find as *const () as usize as u64 + 1;
        let m = &mods[module_for(&mods, addr).expect("module")];
        let frames = resolve(&m.path, &m.build_id, addr - m.bias);
        let f = frames.last().expect("a frame");
        assert!(
            f.function.ends_with("symbolize::tests::a_function_to_find"),
            "full path: {frames:?}"
        );
        assert!(f.file.ends_with("symbolize.rs"), "{frames:?}");
        assert!(f.line > 0, "{frames:?}");
        assert!(!f.system_name.is_empty());
        // The second lookup comes from the cache.
        assert!(Arc::ptr_eq(&frames, &resolve(&m.path, &m.build_id, addr - m.bias)));
    }

    #[test]
    fn missing_binaries_resolve_to_nothing() {
        assert!(resolve("/nonexistent/binary", &[], 0x1000).is_empty());
    }

    #[test]
    fn finds_debug_files_by_build_id() {
        assert_eq!(debug_file(&[]), None);
        assert_eq!(debug_file(&[0xde, 0xad, 0xbe, 0xef]), None, "no such file");
        // Where a system library's debug file is installed, it is found.
        for m in loaded_modules().iter().filter(|m| m.path.contains("libc.so")) {
            let want = format!(
                "/usr/lib/debug/.build-id/{}/{}.debug",
                &m.build_id_hex()[..2],
                &m.build_id_hex()[2..]
            );
            assert_eq!(debug_file(&m.build_id).is_some(), std::path::Path::new(&want).is_file());
        }
    }

    #[test]
    fn system_names_are_linker_symbols() {
        assert_eq!(
            linker_name("_ZN4core3ptr13drop_in_place17h0123456789abcdefE".into()),
            "_ZN4core3ptr13drop_in_place17h0123456789abcdefE"
        );
        assert_eq!(linker_name("memcpy".into()), "memcpy");
        assert_eq!(linker_name("eq<u8, u8>".into()), "");
        assert_eq!(
            linker_name("<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop".into()),
            ""
        );
        assert_eq!(linker_name(String::new()), "");
    }

    #[test]
    fn matches_symbol_and_debug_names() {
        assert!(same_function("app::work", "work"));
        assert!(same_function(
            "core::ops::function::FnOnce::call_once",
            "call_once<fn()>"
        ));
        assert!(same_function(
            "<sonde::heap::wrapper::Sampled<std::alloc::System>>::serve",
            "serve<std::alloc::System>"
        ));
        assert!(same_function("<app::S as app::T>::run", "run"));
        assert!(!same_function("app::other", "work"));
        assert!(!same_function("app::network", "work"));
    }

    #[test]
    fn demangles_without_hash() {
        assert_eq!(
            demangle("_ZN4core3ptr13drop_in_place17h0123456789abcdefE").as_deref(),
            Some("core::ptr::drop_in_place")
        );
        assert_eq!(demangle("memcpy"), None);
    }
}
