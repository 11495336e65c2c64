//! The seed article's benchmarks, written for sonde-bench:
//!
//! ```sh
//! cargo bench -p sonde-bench --bench seed -- --benchmem
//! ```
//!
//! Go: `go test -bench=. -benchmem` (the same functions are under
//! `bench/harness/go`).

#[path = "workloads/benchmarks.rs"]
mod benchmarks;
mod workloads;

use benchmarks::*;

sonde_bench::main!(
    fibonacci_10,
    fibonacci_20,
    concat_plus,
    concat_builder,
    concat_builder_prealloc,
    slice_without_prealloc,
    slice_with_prealloc,
    processing,
    parallel,
    empty,
);
