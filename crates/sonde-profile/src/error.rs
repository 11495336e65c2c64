//! Errors of this crate. Each message names the problem and, where it helps, the
//! way out, because the reader is a person looking at a broken profile.

use std::io;

/// Everything that can go wrong reading, combining or reporting on a profile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input had no bytes at all.
    #[error("empty input: the file has no bytes (was the profile written completely?)")]
    Empty,

    /// Reading the input failed.
    #[error("reading profile: {0}")]
    Io(#[from] io::Error),

    /// Writing a report's output failed (a full disk, a closed pipe).
    #[error("writing {what}: {error}")]
    Write {
        /// What was being written (`the flame graph`).
        what: &'static str,
        /// The system's error.
        error: io::Error,
    },

    /// The gzip stream is corrupt or ends early.
    #[error(
        "corrupt or truncated gzip data at compressed byte {offset} (after {decompressed} bytes \
         were decompressed): {message}"
    )]
    Gzip {
        /// How many compressed bytes were consumed when the error was found.
        offset: u64,
        /// How many bytes had been decompressed by then.
        decompressed: u64,
        /// What the decompressor reported.
        message: String,
    },

    /// Decompression would exceed the configured limit (a gzip bomb or a huge profile).
    #[error(
        "decompressed profile exceeds the limit of {limit} bytes; raise it with --max-size if \
         the profile is genuinely this large"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },

    /// The bytes are not a valid protocol buffer.
    #[error("not a valid pprof protobuf: {what} at byte {offset}")]
    Decode {
        /// Byte offset (in the uncompressed protobuf) where decoding failed.
        offset: usize,
        /// What was wrong there.
        what: String,
    },

    /// The input looks like a pre-protobuf (legacy) profile, but not one that
    /// pprof's legacy parsers read (such as Go's `debug=2` goroutine dump).
    #[error(
        "this looks like a legacy {format} profile, but not one that pprof reads (go tool pprof \
         says: unrecognized profile format)"
    )]
    Legacy {
        /// Which legacy format it looks like.
        format: &'static str,
    },

    /// A legacy (pre-protobuf) profile that its parser recognised but found
    /// broken, as pprof does.
    #[error("malformed legacy {format} profile: {message}")]
    LegacyMalformed {
        /// Which legacy format was recognised.
        format: &'static str,
        /// What is wrong, and where.
        message: String,
    },

    /// The input is text, not a protocol buffer.
    #[error(
        "this is {what}, not a pprof profile (it starts with {first_line:?}); sonde reads pprof \
         protobuf files (.pb.gz), as written by sonde, Go's runtime/pprof or `go tool pprof -proto`"
    )]
    Text {
        /// What kind of text it looks like (`a text file`, `Go benchmark results (...)`).
        what: &'static str,
        /// Its first non-empty line, shortened.
        first_line: String,
    },

    /// The protobuf decoded but breaks one of pprof's invariants.
    #[error("malformed profile: {0}")]
    Invalid(String),

    /// A sample type name or number that the profile does not have.
    #[error("unknown sample type {given:?}; this profile has: {}", valid.join(", "))]
    UnknownSampleType {
        /// What was asked for.
        given: String,
        /// The profile's sample types.
        valid: Vec<String>,
    },

    /// A sample type given by number, beyond the profile's sample types.
    #[error(
        "sample index {index} is out of range: this profile's sample types are numbered 0 to {} ({})",
        valid.len().saturating_sub(1),
        valid.iter().enumerate().map(|(i, t)| format!("{i}={t}")).collect::<Vec<_>>().join(", ")
    )]
    SampleIndexOutOfRange {
        /// The number asked for.
        index: i64,
        /// The profile's sample types, in order.
        valid: Vec<String>,
    },

    /// The profile declares no sample types, so there is nothing to report.
    #[error("profile has no sample types, so there is nothing to report")]
    NoSampleTypes,

    /// A regular expression option did not compile.
    #[error("invalid regular expression for {option}: {message}")]
    Regex {
        /// Which option (focus, ignore, ...).
        option: String,
        /// The regex compiler's explanation.
        message: String,
    },

    /// Profiles that cannot be merged or compared.
    #[error("profiles cannot be combined: {0}")]
    Incompatible(String),

    /// An option value that makes no sense.
    #[error("{0}")]
    BadOption(String),

    /// A value an analyzer setting does not take (see `report::SETTINGS`).
    #[error("{name} {why}")]
    BadSetting {
        /// The setting's name (`nodefraction`).
        name: &'static str,
        /// What it takes instead (`takes a number between 0 and 1, not "7"`).
        why: String,
    },

    /// A merge was asked for with nothing to merge.
    #[error("no profiles to merge")]
    NoProfiles,

    /// A report selector (`list REGEX`, `peek REGEX`) matched nothing.
    #[error("no matches found for regexp: {0}")]
    NoMatches(String),
}

/// A shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
