// Command goroutine writes a goroutine profile of the seed article's leak case
// study: job goroutines that block forever on a channel, labelled by worker pool.
package main

import (
	"context"
	"os"
	"runtime/pprof"
	"time"
)

var never = make(chan struct{})

func processJob(id int) {
	<-never // blocks forever: the leak
}

func worker(jobs <-chan int) {
	for j := range jobs {
		go processJob(j)
	}
}

func idle() {
	select {}
}

func main() {
	jobs := make(chan int)
	ctx := context.Background()
	pprof.Do(ctx, pprof.Labels("pool", "jobs"), func(context.Context) {
		go worker(jobs)
	})
	for i := 0; i < 50; i++ {
		jobs <- i
	}
	pprof.Do(ctx, pprof.Labels("pool", "idle"), func(context.Context) {
		for i := 0; i < 3; i++ {
			go idle()
		}
	})
	time.Sleep(100 * time.Millisecond)
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := pprof.Lookup("goroutine").WriteTo(f, 0); err != nil {
		panic(err)
	}
}
