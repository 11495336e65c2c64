// Command cpu writes a CPU profile of the seed article's Example 2: an expensive
// operation that burns CPU and a quick one that only sleeps. It adds a recursive
// function, an inlined helper and pprof labels so the fixture exercises recursion,
// inlined frames and tag filters.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

var sink int

func square(i int) int { return i * i } // small enough to be inlined

//go:noinline
func expensiveOperation() {
	sum := 0
	for i := 0; i < 30000000; i++ {
		sum += square(i)
	}
	sink += sum
}

func quickOperation() {
	time.Sleep(10 * time.Millisecond)
}

//go:noinline
func fibonacci(n int) int {
	if n <= 1 {
		return n
	}
	return fibonacci(n-1) + fibonacci(n-2)
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	defer pprof.StopCPUProfile()

	ctx := context.Background()
	for i := 0; i < 100; i++ {
		pprof.Do(ctx, pprof.Labels("phase", "expensive"), func(context.Context) {
			expensiveOperation()
		})
		quickOperation()
		if i%10 == 0 {
			pprof.Do(ctx, pprof.Labels("phase", "fib"), func(context.Context) {
				sink += fibonacci(32)
			})
		}
	}
	fmt.Println("Profiling complete")
}
