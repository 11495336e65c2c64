//! # sonde-bench
//!
//! `go test -bench -benchmem` for Rust: a benchmark harness (`harness = false`)
//! that prints Go's benchmark format, so `benchstat` (Go's or `sonde benchstat`)
//! and every tool that reads Go's results read it, with `B/op` and `allocs/op`
//! counted exactly.
//!
//! ```toml
//! [dev-dependencies]
//! sonde-bench = "0.1"
//!
//! [[bench]]
//! name = "seed"
//! harness = false
//! ```
//!
//! ```no_run
//! // benches/seed.rs
//! use sonde_bench::{B, black_box};
//!
//! fn fibonacci(n: u32) -> u64 {
//!     if n < 2 { n as u64 } else { fibonacci(n - 1) + fibonacci(n - 2) }
//! }
//!
//! fn fibonacci_20(b: &mut B) {
//!     b.iter(|| fibonacci(black_box(20)));
//! }
//!
//! sonde_bench::main!(fibonacci_20);
//! ```
//!
//! `cargo bench --bench seed -- --benchmem` then prints what `go test -bench .
//! -benchmem` prints (tabs shown as spaces). Name the bench target (`--bench
//! seed`) when the crate has a library: a bare `cargo bench -- --benchmem` also
//! starts the library's libtest harness, which stops at the flag it does not
//! know (`Unrecognized option: 'benchmem'`); or set `bench = false` under
//! `[lib]` in Cargo.toml so that `cargo bench` runs only your benchmarks.
//!
//! ```text
//! goos: linux
//! goarch: amd64
//! pkg: seed
//! cpu: AMD EPYC 7B13
//! BenchmarkFibonacci20-2        48290         24640 ns/op           0 B/op           0 allocs/op
//! PASS
//! ok      seed    1.351s
//! ```
//!
//! How it measures: each benchmark is probed, calibrated so that one sample
//! lasts about a millisecond, then sampled until the median time per
//! iteration is known to within ±1% (95% confidence) or `--benchtime` (default
//! 1s) is spent. Samples during which the thread was preempted (it got less CPU
//! time than wall-clock time) are set aside when enough others ran
//! undisturbed, so a busy machine slows the run, not the figures. `ns/op` is
//! that median; the iterations column counts the iterations of the samples used.
//!
//! Flags (`cargo bench -- --help`): `--bench REGEX`, `--benchtime 1s|100x`,
//! `--count N`, `--benchmem`, `--cpu 1,2,4`, `--cpuprofile FILE`,
//! `--memprofile FILE`, `--json`, `--list`.
//!
//! The map of the crate:
//!
//! * The harness (feature `harness`): `driver` (selection, calibration,
//!   sampling, printing), `bencher` (`B` and `PB`, what a benchmark
//!   function sees), `flags` (Go's `-bench` flags), `profiles` (`--cpuprofile`
//!   and `--memprofile`, with feature `profiles`).
//! * [`benchfmt`]: Go's results format, read and written, one
//!   [`benchfmt::Result`] per line.
//! * [`stats`]: medians, confidence intervals, the Mann-Whitney U test.
//! * [`benchstat`]: `sonde benchstat`'s comparison of results files.

#![deny(missing_docs)]

#[cfg(feature = "harness")]
mod bencher;
pub mod benchfmt;
pub mod benchstat;
#[cfg(feature = "harness")]
mod driver;
#[cfg(feature = "harness")]
mod flags;
#[cfg(feature = "harness")]
mod profiles;
pub mod stats;

/// The results writer's former path: writing is now part of [`benchfmt`],
/// which reads results too, with one [`benchfmt::Result`] for both.
pub mod report {
    pub use crate::benchfmt::{Result, header, with_procs};
}

#[cfg(feature = "harness")]
pub use bencher::{B, PB};
#[cfg(feature = "harness")]
pub use driver::{Benchmark, main, run_with};
pub use std::hint::black_box;

/// Used by [`main!`]; not part of the API.
#[cfg(feature = "harness")]
#[doc(hidden)]
pub mod __private {
    pub use sonde::heap::Sampled;
}

/// Defines `main` for a `harness = false` benchmark target: installs sonde's
/// counting allocator (for `B/op` and `allocs/op`) as the global allocator and
/// runs the listed benchmark functions, each `fn(&mut B)`, named the Go way
/// (`fibonacci_20` reports as `BenchmarkFibonacci20`).
///
/// A program with its own global allocator cannot use this macro; wrap that
/// allocator in `sonde::heap::Sampled` and call [`main()`] (or [`run_with`])
/// from your own `main` with a list of [`Benchmark`]s.
#[cfg(feature = "harness")]
#[macro_export]
macro_rules! main {
    ($($bench:path),+ $(,)?) => {
        #[global_allocator]
        static __SONDE_BENCH_ALLOCATOR: $crate::__private::Sampled<::std::alloc::System> =
            $crate::__private::Sampled::new(::std::alloc::System);

        fn main() {
            $crate::main(
                ::std::env!("CARGO_PKG_NAME"),
                &[$($crate::Benchmark::new(::std::stringify!($bench), $bench)),+],
            )
        }
    };
}
