//! Empty: the benchmarks are under benches/.
