//! The index page, `/debug/pprof/`: Go's template (`indexTmplExecute` in
//! `net/http/pprof/pprof.go`) line for line, listing the registry's kinds and
//! sonde's own endpoints with their counts and descriptions, sorted by name.

use std::fmt::Write;

use super::Config;
use crate::profiles;

/// sonde's endpoints that are not profile kinds of the registry, with their
/// descriptions (Go lists `cmdline`, `profile` and `trace` the same way).
const OTHERS: &[(&str, &str)] = &[
    ("cmdline", "The command line invocation of the current program"),
    (
        "flamegraph",
        "An SVG flame graph of a CPU profile (seconds GET parameter), or of any profile with profile=NAME.",
    ),
];

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
        .replace('"', "&#34;")
}

/// The page, listing what `config` allows.
pub(super) fn page(config: &Config) -> String {
    let mut entries: Vec<(usize, &str, &str)> = profiles::kinds()
        .map(|k| (k.count().unwrap_or(0), k.name(), k.description()))
        .chain(OTHERS.iter().map(|&(name, desc)| (0, name, desc)))
        .filter(|(_, name, _)| config.allows(name))
        .collect();
    entries.sort_by_key(|e| e.1);
    let mut out = String::from(
        "<html>\n<head>\n<title>/debug/pprof/</title>\n<style>\n.profile-name{\n\tdisplay:inline-block;\n\twidth:6rem;\n}\n</style>\n</head>\n<body>\n/debug/pprof/\n<br>\n<p>Set debug=1 as a query parameter to export in legacy text format</p>\n<br>\nTypes of profiles available:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n",
    );
    for (count, name, _) in &entries {
        let name = escape(name);
        let _ = writeln!(
            out,
            "<tr><td>{count}</td><td><a href='{name}?debug=1'>{name}</a></td></tr>"
        );
    }
    out.push_str("</table>\n");
    if config.allows("goroutine") {
        out.push_str("<a href=\"goroutine?debug=2\">full goroutine stack dump</a>\n");
    }
    out.push_str("<br>\n<p>\nProfile Descriptions:\n<ul>\n");
    for (_, name, desc) in &entries {
        let _ = writeln!(
            out,
            "<li><div class=profile-name>{}: </div> {}</li>",
            escape(name),
            escape(desc)
        );
    }
    out.push_str("</ul>\n</p>\n</body>\n</html>");
    out
}
