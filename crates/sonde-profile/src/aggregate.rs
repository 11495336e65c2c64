//! Granularity: whether report entries are functions, files, source lines or
//! instruction addresses, and whether inlined frames are kept separate.

use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::model::{Profile, empty_str};

/// What one entry of a report stands for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// One entry per function (pprof's default).
    #[default]
    Functions,
    /// One entry per function and source file.
    FileFunctions,
    /// One entry per source file.
    Files,
    /// One entry per source line.
    Lines,
    /// One entry per instruction address.
    Addresses,
}

impl Granularity {
    /// All granularities with their option names.
    pub const ALL: [(&'static str, Granularity); 5] = [
        ("functions", Granularity::Functions),
        ("filefunctions", Granularity::FileFunctions),
        ("files", Granularity::Files),
        ("lines", Granularity::Lines),
        ("addresses", Granularity::Addresses),
    ];
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Granularity::ALL
            .iter()
            .find(|(_, g)| g == self)
            .map_or("functions", |(n, _)| n);
        f.write_str(name)
    }
}

impl FromStr for Granularity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Granularity::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|&(_, g)| g)
            .ok_or_else(|| {
                Error::BadOption(format!(
                    "unknown granularity {s:?}; use functions, filefunctions, files, lines or addresses"
                ))
            })
    }
}

impl Profile {
    /// Forgets the detail finer than `granularity`: function names, file names,
    /// line numbers or addresses, and (with `keep_inlines == false`) inlined frames.
    pub fn aggregate(&mut self, granularity: Granularity, keep_inlines: bool) {
        let (function, filename, linenumber, address) = match granularity {
            Granularity::Addresses if keep_inlines => return,
            Granularity::Addresses => (true, true, true, true),
            Granularity::Lines => (true, true, true, false),
            Granularity::Files => (false, true, false, false),
            Granularity::Functions => (true, false, false, false),
            Granularity::FileFunctions => (true, true, false, false),
        };
        for m in &mut self.mappings {
            m.has_inline_frames &= keep_inlines;
            m.has_functions &= function;
            m.has_filenames &= filename;
            m.has_line_numbers &= linenumber;
        }
        if !function || !filename {
            let empty = empty_str();
            for f in &mut self.functions {
                if !function {
                    f.name = empty.clone();
                    f.system_name = empty.clone();
                }
                if !filename {
                    f.filename = empty.clone();
                }
            }
        }
        if !keep_inlines || !address || !linenumber {
            for l in &mut self.locations {
                if !keep_inlines && l.lines.len() > 1 {
                    l.lines.drain(..l.lines.len() - 1);
                }
                if !linenumber {
                    for line in &mut l.lines {
                        line.line = 0;
                        line.column = 0;
                    }
                }
                if !address {
                    l.address = 0;
                }
            }
        }
    }
}
