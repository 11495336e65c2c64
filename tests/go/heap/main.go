// Command heap writes heap profiles of the seed article's Example 3: a function
// that leaks 1 MB per call into a global and one whose 1 MB allocations are
// garbage. It writes a snapshot halfway (heap_before) and at the end (heap, the
// same as heap_after), and the allocs profile, so that -base shows the growth.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

var globalLeak [][]byte
var smallLeak [][]byte

func createMemory() {
	data := make([]byte, 1024*1024) // 1MB
	globalLeak = append(globalLeak, data)
}

func temporaryAllocation() {
	data := make([]byte, 1024*1024) // 1MB
	_ = data
}

func cacheEntries(n int) {
	for i := 0; i < n; i++ {
		smallLeak = append(smallLeak, make([]byte, 100))
	}
}

func writeHeap(path string) {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		panic(err)
	}
}

func main() {
	// A finer sampling rate than Go's default makes the fixture's numbers stable.
	runtime.MemProfileRate = 4096
	dir := os.Args[1]
	for i := 0; i < 10; i++ {
		createMemory()
		temporaryAllocation()
		cacheEntries(1000)
		time.Sleep(10 * time.Millisecond)
		if i == 4 {
			writeHeap(dir + "/heap_before.pb.gz")
		}
	}
	writeHeap(dir + "/heap.pb.gz")
	writeHeap(dir + "/heap_after.pb.gz")
	f, err := os.Create(dir + "/allocs.pb.gz")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		panic(err)
	}
	fmt.Printf("Leaked %d MB\n", len(globalLeak))
}
