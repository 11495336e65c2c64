//! Fuzzes the profile decoder: any input must decode or fail cleanly, and what
//! decodes must render reports and round-trip through the encoder.
//!
//! Run with `cargo fuzz run decode` from the repository root (seed the corpus with
//! `tests/data/*.pb.gz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sonde_profile::report::{self, Command, Config, Env, SourceOpener};
use sonde_profile::{Profile, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions { max_size: 16 << 20 };
    let Ok(p) = Profile::parse_with(data, &opts) else { return };
    let again = Profile::parse(&p.encode_uncompressed()).expect("re-encoded profile decodes");
    assert_eq!(again, p);
    let opener = SourceOpener::none();
    let env = Env { format_time: &report::format_time_utc, open_source: &opener };
    for cmd in [Command::Top, Command::Traces, Command::Tree, Command::Raw] {
        let _ = report::generate(p.clone(), &cmd, &Config::default(), &env);
    }
});
