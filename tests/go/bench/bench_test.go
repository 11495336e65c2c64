// Benchmarks whose output (go test -bench . -benchmem) sonde-bench's format is
// held against: every kind of column Go prints (ns/op at each magnitude, MB/s,
// custom metrics, B/op and allocs/op) and the name widths with sub-benchmarks
// and -cpu suffixes. See crates/sonde-bench/tests/go_format.rs.
package bench

import "testing"

var sink []byte

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func BenchmarkFib10(b *testing.B) {
	for i := 0; i < b.N; i++ {
		fib(10)
	}
}

func BenchmarkBytes(b *testing.B) {
	src := make([]byte, 1024)
	dst := make([]byte, 1024)
	b.SetBytes(1024)
	for i := 0; i < b.N; i++ {
		copy(dst, src)
	}
}

func BenchmarkMetric(b *testing.B) {
	for i := 0; i < b.N; i++ {
		fib(5)
	}
	b.ReportMetric(2.5, "widgets/op")
}

func BenchmarkAlloc(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink = make([]byte, 64)
	}
}

func BenchmarkSub(b *testing.B) {
	b.Run("a_rather_long_sub_benchmark_name", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fib(3)
		}
	})
	b.Run("x", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fib(12)
		}
	})
}

func BenchmarkEmpty(b *testing.B) {
	for i := 0; i < b.N; i++ {
	}
}
