//! # sonde-profile
//!
//! The pprof profile — the format Go's `runtime/pprof` writes and `go tool pprof`
//! reads — as a Rust data model, with everything needed to analyse it.
//!
//! The map of the crate, in the order data flows through it:
//!
//! * [`model`]: [`Profile`] and its parts (samples, locations, functions,
//!   mappings, labels), with ids resolved to indexes.
//! * [`decode`] / [`encode`]: reading (`.pb.gz` or raw protobuf, size-bounded,
//!   validated, errors with byte offsets) and writing profiles. [`legacy`]
//!   reads the formats pprof read before protobuf (gperftools' binary CPU and
//!   text heap/contention/thread profiles, Go's `debug=1` text, Java's, and
//!   jemalloc's heap dumps) with pprof's numbers; decoding falls back to it.
//!   It also writes Go's `debug=1` text forms.
//! * [`mod@merge`]: summing profiles, compaction, `-base` and `-diff_base`.
//! * [`names`]: function names demangled and simplified as pprof shows them.
//! * [`filter`]: focus, ignore, hide, show, tag filters.
//! * [`prune`]: `drop_frames` / `keep_frames` and `prune_from`.
//! * [`user_code`]: the user's own frames told from library frames by their
//!   source file, and the `user_code` view that charges library time to them.
//! * [`aggregate`]: granularity (functions, files, lines, addresses).
//! * [`graph`]: the call graph reports are built from.
//! * [`report`]: the one table of analyzer settings ([`report::SETTINGS`], read
//!   by flags, the shell and URLs), the prepared profile ([`report::prepare`]),
//!   reports as rows ([`report::Top`], [`report::Tree`], [`report::Traces`],
//!   [`report::Listing`]) and their one text renderer; `raw`, `tags`, folded
//!   stacks and Speedscope; flame graphs as SVG (feature `flame`).
//! * [`store`]: the local profile store a sonde agent writes (Go-style file
//!   names, an index of kinds, times, labels and totals, atomic writes,
//!   retention, one writer at a time) and its time windows, read by `sonde
//!   store ls` and `--store`.
//! * [`units`]: how values and percentages print, digit for digit as pprof prints them.
//!
//! ```
//! use sonde_profile::{Profile, ValueType, report};
//!
//! let mut p = Profile::default();
//! p.sample_types.push(ValueType::new("samples", "count"));
//! let bytes = p.encode_uncompressed();
//! let back = Profile::parse(&bytes)?;
//! assert_eq!(back.sample_types, p.sample_types);
//! # Ok::<(), sonde_profile::Error>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod decode;
pub mod encode;
mod error;
pub mod filter;
pub mod graph;
pub mod hash;
pub mod legacy;
pub mod merge;
pub mod model;
pub mod names;
pub mod proto;
pub mod prune;
pub mod report;
pub mod store;
pub mod units;
pub mod user_code;
mod wire;

pub use aggregate::Granularity;
pub use decode::ReadOptions;
pub use error::{Error, Result};
pub use merge::merge;
pub use model::{Function, Label, LabelValue, Labels, Line, Location, Mapping, Profile, Sample, Str, ValueType};
