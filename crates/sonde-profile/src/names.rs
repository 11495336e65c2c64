//! Function names as `go tool pprof` shows them. pprof's symbolizer demangles
//! and simplifies every function whose name is empty or the same as its
//! system name (`internal/symbolizer`'s `Demangle`, default mode): a mangled
//! system name is demangled without parameters, enclosing parameters and
//! template arguments (`_ZN2ns6Widget6renderEv` → `ns::Widget::render`;
//! Rust's `_ZN4core3ptr13drop_in_place17h…E` → `core::ptr::drop_in_place`);
//! a name that is already demangled and looks like C++ (it has `::`, `<>` or
//! `[]`) loses its argument list and its `<…>` groups (`ns::Widget::render()`
//! → `ns::Widget::render`, `eq<u8, u8>` → `eq`). Go names
//! (`main.(*T[...]).M`), Java names and names that differ from their system
//! name are kept. Reports built from the simplified names merge what pprof
//! merges, so rows and percentages agree with it.
//!
//! sonde's runtime writes a system name only where the binary has a linker
//! symbol, so the names it takes from debug info (`<Vec<T> as Drop>::drop` of
//! an inlined frame) are kept whole by both tools.

use crate::model::{Profile, Str};

impl Profile {
    /// Demangles and simplifies function names as pprof's symbolizer does by
    /// default (see the module documentation); `go tool pprof` does this to
    /// every profile it reads, after merging the sources.
    pub fn simplify_names(&mut self) {
        for f in &mut self.functions {
            if !f.name.is_empty() && f.system_name != f.name {
                continue; // already demangled by its producer
            }
            let simplified = simplify(&f.system_name);
            if *simplified != *f.name {
                f.name = Str::from(simplified);
            }
        }
    }
}

/// pprof's `demangleSingleFunction` on a system name.
fn simplify(system: &str) -> String {
    if let Some(d) = demangle(system) {
        return d;
    }
    // Mach-O symbols carry an extra leading underscore.
    if let Some(d) = system.strip_prefix('_').and_then(demangle) {
        return d;
    }
    if looks_like_demangled_cpp(system) {
        return remove_matching(&remove_matching(system, '(', ')'), '<', '>');
    }
    system.to_string()
}

/// A mangled Rust (legacy or v0) or C++ name, demangled without parameters,
/// return type, template arguments or Rust's hash; `None` if it is not one.
fn demangle(name: &str) -> Option<String> {
    if name.starts_with("_R") || (name.starts_with("_ZN") && name.ends_with('E')) {
        if let Ok(d) = rustc_demangle::try_demangle(name) {
            let d = format!("{d:#}");
            if d != name {
                return Some(d);
            }
        }
    }
    if !name.starts_with("_Z") {
        return None;
    }
    let symbol = cpp_demangle::Symbol::new(name).ok()?;
    let options = cpp_demangle::DemangleOptions::new().no_params().no_return_type();
    let d = symbol.demangle_with_options(&options).ok()?;
    Some(remove_matching(&d, '<', '>'))
}

/// pprof's `looksLikeDemangledCPlusPlus`.
fn looks_like_demangled_cpp(name: &str) -> bool {
    if name.contains(".<") || name.contains("]).") {
        return false; // Java `Class.<init>`, Go `pkg.(*T[...]).M`
    }
    name.contains(['<', '>', '[', ']']) || name.contains("::")
}

/// Removes each balanced outermost `open … close` group (nested groups with
/// it), as pprof's `removeMatching`: an unclosed group is kept, and at a
/// `close` without its `open` the rest of the name is kept as it is.
fn remove_matching(name: &str, open: char, close: char) -> String {
    let mut out = String::with_capacity(name.len());
    let mut group = String::new();
    let mut depth = 0usize;
    for (i, c) in name.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                out.push_str(&name[i..]);
                return out;
            }
            depth -= 1;
            if depth == 0 {
                group.clear();
                continue;
            }
        }
        if depth > 0 {
            group.push(c);
        } else {
            out.push(c);
        }
    }
    out.push_str(&group);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplifies_as_pprof() {
        for (system, want) in [
            ("ns::Widget::render()", "ns::Widget::render"),
            ("eq<u8, u8>", "eq"),
            (
                "_ZN4core3ptr13drop_in_place17h0123456789abcdefE",
                "core::ptr::drop_in_place",
            ),
            ("_ZN2ns6Widget6renderEv", "ns::Widget::render"),
            ("<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop", "::drop"),
            ("main.(*T[...]).M", "main.(*T[...]).M"),
            ("com.example.Foo.bar(int)", "com.example.Foo.bar(int)"),
            ("_RNvCs1234_7mycrate3foo", "mycrate::foo"),
            ("app::run::{{closure}}", "app::run::{{closure}}"),
            (
                "_ZN3app3run28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE",
                "app::run::{{closure}}",
            ),
            ("plain_c_function", "plain_c_function"),
            ("main.main", "main.main"),
        ] {
            assert_eq!(simplify(system), want, "{system}");
        }
    }

    #[test]
    fn keeps_names_their_producer_demangled() {
        let mut p = Profile::default();
        let f = |name: &str, system: &str| crate::Function {
            name: name.into(),
            system_name: system.into(),
            ..Default::default()
        };
        p.functions = vec![
            f("a::b<T>", "_ZN1a1b17h0123456789abcdefE"),
            f("std::vector<int>::push_back(int const&)", ""),
            f("", "plain_c_function"),
            f("eq<u8, u8>", "eq<u8, u8>"),
        ];
        p.simplify_names();
        let names: Vec<&str> = p.functions.iter().map(|f| &*f.name).collect();
        assert_eq!(
            names,
            [
                "a::b<T>",
                "std::vector<int>::push_back(int const&)",
                "plain_c_function",
                "eq"
            ]
        );
    }

    #[test]
    fn groups_are_removed_as_pprof_removes_them() {
        assert_eq!(remove_matching("f(g(x))::h", '(', ')'), "f::h");
        assert_eq!(remove_matching("a<b>c>d<e", '<', '>'), "ac>d<e");
        assert_eq!(remove_matching("a<b>c<d", '<', '>'), "ac<d");
    }
}
