//! The formats pprof read before protobuf, read into the same [`Profile`] that
//! `go tool pprof` builds from them, number for number.
//!
//! pprof tries its legacy parsers in a fixed order, each either recognising its
//! format or declining it; the first that recognises the input decides, and a
//! malformed input it recognised is an error. The same order holds here:
//!
//! * `cpu`: gperftools' binary CPU profile (and Java's, whose frames are
//!   named in a text part after the samples), in 32- or 64-bit words of either
//!   byte order.
//! * `heap`: the text heap profiles of gperftools and Go (`heap profile:`
//!   headers, `heap`/`heap_v2`/`heapz_v2` sampling, growthz, fragmentationz),
//!   with pprof's correction for sampling.
//! * `count`: Go's `debug=1` count profiles (`goroutine profile: total N`,
//!   `threadcreate`).
//! * `thread`: threadz dumps (`--- Thread ... stack: ---`).
//! * `contention`: gperftools' and Go's contention text (`--- contentionz`,
//!   `--- mutex:`, `--- contention:`).
//! * `java`: Java's heapz and contentionz text.
//!
//! Beyond pprof, `jemalloc` reads jemalloc's own heap dump (`heap_v2/RATE`
//! then `t*:` lines, what `prof.dump` writes), which `go tool pprof` refuses:
//! sonde reads it as the gperftools heap profile carrying the same numbers,
//! which pprof does read.
//!
//! Most formats end with the process's memory map (`MAPPED_LIBRARIES:` or
//! `--- Memory map: ---`); `build` reads it and numbers the tables as pprof
//! does.
//!
//! The other way, `write` writes Go's `debug=1` text forms ([`count_text`],
//! [`heap_text`], [`contention_text`]), which these parsers read back.

/// A regular expression compiled on first use. Patterns spell Go's ASCII
/// classes out (`[0-9]` for `\d`, `[\t\n\f\r ]` for `\s`), so that they match
/// what pprof's do.
macro_rules! re {
    ($pattern:expr) => {
        std::sync::LazyLock::new(|| super::text::compile($pattern))
    };
}

mod build;
mod contention;
mod count;
mod cpu;
mod heap;
mod java;
mod jemalloc;
mod text;
mod thread;
mod write;

pub use write::{contention_text, count_text, heap_text};

use crate::{Error, Profile};

/// Why a legacy parser did not produce a profile.
#[derive(Clone, Debug)]
pub(crate) enum Fail {
    /// Not this parser's format; the next one may read it.
    Unrecognized,
    /// This parser's format, but broken: the reason.
    Malformed(String),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Malformed(s)
    }
}

/// Reads `data` as the first legacy format that recognises it. `Ok(None)` when
/// none does (pprof's "unrecognized profile format").
pub(crate) fn parse(data: &[u8]) -> Result<Option<Profile>, Error> {
    type Parser = fn(&[u8]) -> Result<Profile, Fail>;
    let parsers: [(&'static str, Parser); 7] = [
        ("binary CPU", cpu::parse),
        ("heap (text)", heap::parse),
        ("Go count (debug=1 text)", count::parse),
        ("thread (text)", thread::parse),
        ("contention (text)", contention::parse),
        ("Java heapz/contentionz (text)", java::parse),
        ("jemalloc heap_v2 (text)", jemalloc::parse),
    ];
    for (format, parser) in parsers {
        match parser(data) {
            Ok(p) => return Ok(Some(p)),
            Err(Fail::Unrecognized) => continue,
            Err(Fail::Malformed(message)) => return Err(Error::LegacyMalformed { format, message }),
        }
    }
    Ok(None)
}
