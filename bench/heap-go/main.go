// The leak scenarios of bench/heap-accuracy.sh in Go, at Go's default
// MemProfileRate (512 KiB): the baseline for sonde's heap profiler accuracy.
//
//	seed:  createMemory leaks 1 MiB ten times, temporaryAllocation drops 1 MiB ten times
//	small: leakSmall leaks 100,000 blocks of 100 bytes among 1 GB of churn
//	mixed: the same next to 100 MB of 200-byte blocks that holdLive keeps
//
// Usage: go run . seed|small|mixed OUT.pb.gz SEED
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
)

var leak [][]byte
var keep [][]byte
var sink []byte

//go:noinline
func createMemory() { leak = append(leak, make([]byte, 1<<20)) }

//go:noinline
func temporaryAllocation() { sink = make([]byte, 1<<20); sink = nil }

//go:noinline
func leakSmall() { leak = append(leak, make([]byte, 100)) }

//go:noinline
func holdLive() {
	for i := 0; i < 500000; i++ {
		keep = append(keep, make([]byte, 200))
	}
}

//go:noinline
func churn(bytes uint64, x *uint64, window *[][]byte) {
	done := uint64(0)
	for done < bytes {
		*x ^= *x << 13
		*x ^= *x >> 7
		*x ^= *x << 17
		size := 8 + int(*x%505)
		if len(*window) == 64 {
			i := *x % 64
			(*window)[i] = (*window)[63]
			*window = (*window)[:63]
		}
		*window = append(*window, make([]byte, size))
		done += uint64(size)
	}
}

func main() {
	seed, _ := strconv.ParseUint(os.Args[3], 10, 64)
	x := seed | 1
	leak = make([][]byte, 0, 100000)
	switch os.Args[1] {
	case "seed":
		for i := 0; i < 10; i++ {
			createMemory()
			temporaryAllocation()
		}
	case "small", "mixed":
		if os.Args[1] == "mixed" {
			holdLive()
		}
		window := make([][]byte, 0, 64)
		for i := 0; i < 100000; i++ {
			leakSmall()
			churn(10000, &x, &window)
		}
	}
	runtime.GC()
	f, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		panic(err)
	}
	f.Close()
	runtime.KeepAlive(leak)
	runtime.KeepAlive(keep)
}
