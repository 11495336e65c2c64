// The reference benchmarks of bench/harness.sh in Go (go test -bench . -benchmem),
// the same functions as crates/sonde-bench/benches/workloads.
package harness

import (
	"strings"
	"sync"
	"testing"
)

func fibonacci(n int) int {
	if n < 2 {
		return n
	}
	return fibonacci(n-1) + fibonacci(n-2)
}

var sinkS string
var sinkV []int
var sinkI int

func BenchmarkFibonacci10(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkI = fibonacci(10)
	}
}

func BenchmarkFibonacci20(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkI = fibonacci(20)
	}
}

func BenchmarkConcatPlus(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s := ""
		for j := 0; j < 1000; j++ {
			s += "a"
		}
		sinkS = s
	}
}

func BenchmarkConcatBuilder(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var sb strings.Builder
		for j := 0; j < 1000; j++ {
			sb.WriteString("a")
		}
		sinkS = sb.String()
	}
}

func BenchmarkConcatBuilderPrealloc(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var sb strings.Builder
		sb.Grow(1000)
		for j := 0; j < 1000; j++ {
			sb.WriteString("a")
		}
		sinkS = sb.String()
	}
}

func BenchmarkSliceWithoutPrealloc(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s := []int{}
		for j := 0; j < 1000; j++ {
			s = append(s, j)
		}
		sinkV = s
	}
}

func BenchmarkSliceWithPrealloc(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s := make([]int, 0, 1000)
		for j := 0; j < 1000; j++ {
			s = append(s, j)
		}
		sinkV = s
	}
}

func BenchmarkProcessing(b *testing.B) {
	b.Run("Size1000", func(b *testing.B) {
		data := make([]int, 1000)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := range data {
				data[j] = j * 2
			}
		}
	})
}

func BenchmarkParallel(b *testing.B) {
	var mu sync.RWMutex
	m := make(map[uint64]uint64, 1024)
	for i := uint64(0); i < 1024; i++ {
		m[i] = i * i
	}
	b.RunParallel(func(pb *testing.PB) {
		i := uint64(0)
		for pb.Next() {
			key := (i * 0x9e3779b97f4a7c15) % 1024
			if i%64 == 0 {
				mu.Lock()
				m[key]++
				mu.Unlock()
			} else {
				mu.RLock()
				sinkI = int(m[key])
				mu.RUnlock()
			}
			i++
		}
	})
}

func BenchmarkEmpty(b *testing.B) {
	for i := 0; i < b.N; i++ {
	}
}
