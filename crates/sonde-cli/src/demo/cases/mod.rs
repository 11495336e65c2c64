//! The demo's cases, one file each, in the order of the table below (the
//! order `sonde demo --list` shows and the issue lists them): the seed's
//! benchmarks first, then its profiles, then its production patterns.

mod bench;
mod continuous;
mod cpu;
mod growth;
mod heap;
mod http;
mod leaks;
mod logs;
mod mutex;
mod orders;
mod workers;

use anyhow::{Context, Result};

use super::Case;

/// A tokio runtime with two workers (the machine's usual two cores), timers and I/O.
fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting tokio")
}

/// Every case, in order.
pub static ALL: &[Case] = &[
    Case {
        name: "bench",
        title: "Benchmarks: Examples 1, 4, 5, sub-benchmarks, Exercises 1 and 2",
        go: "go test -bench=. -benchmem",
        run: bench::run,
    },
    Case {
        name: "cpu",
        title: "CPU profile: expensive vs sleeping operation (Example 2)",
        go: "go tool pprof cpu.prof   (top10, list expensiveOperation)",
        run: cpu::run,
    },
    Case {
        name: "heap",
        title: "Heap profile: 10 x 1 MiB leak (Example 3)",
        go: "go tool pprof heap.prof",
        run: heap::run,
    },
    Case {
        name: "growth",
        title: "Memory growth over a day: a task leaked per timeout (Case Study 2)",
        go: "curl .../debug/pprof/heap > heap_hour_$i.prof (every hour)\ngo tool pprof -base heap_hour_1.prof heap_hour_24.prof",
        run: growth::run,
    },
    Case {
        name: "leaks",
        title: "Task leaks: unbounded spawning vs a worker pool (Case Study 4)",
        go: "curl -s 'http://localhost:8080/debug/pprof/goroutine?debug=1' | grep goroutine",
        run: leaks::run,
    },
    Case {
        name: "logs",
        title: "String concatenation in a log pipeline (Case Study 5)",
        go: "go test -bench=BenchmarkLogProcessing -cpuprofile=cpu.prof\ngo tool pprof cpu.prof",
        run: logs::run,
    },
    Case {
        name: "mutex",
        title: "Mutex contention: one lock vs 16 shards (Case Study 6, Exercise 3)",
        go: "curl http://localhost:8080/debug/pprof/mutex > mutex.prof\ngo tool pprof mutex.prof",
        run: mutex::run,
    },
    Case {
        name: "workers",
        title: "Worker pool and log aggregator (Exercises 4 and 5)",
        go: "go test -bench=. -cpuprofile=cpu.prof\ngo tool pprof cpu.prof",
        run: workers::run,
    },
    Case {
        name: "http",
        title: "HTTP server profiling over /debug/pprof (Pattern 1, Case Study 1)",
        go: "curl 'http://localhost:8080/debug/pprof/profile?seconds=30' > cpu.prof\ngo tool pprof cpu.prof",
        run: http::run,
    },
    Case {
        name: "continuous",
        title: "Continuous profiling into a local store (Pattern 2)",
        go: "the seed's ContinuousProfiler: pprof.StartCPUProfile / WriteHeapProfile on tickers",
        run: continuous::run,
    },
    Case {
        name: "orders",
        title: "N+1 queries against SQLite: wall clock vs CPU (Case Study 3)",
        go: "(the seed times queries with log.Printf; Go's CPU profile cannot see the waits)",
        run: orders::run,
    },
];
