// Command contention writes mutex and block profiles of the seed article's
// mutex case study: goroutines hammering one lock-protected map, and a channel
// that makes consumers wait.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

type Cache struct {
	mu   sync.Mutex
	data map[int]int
}

func (c *Cache) Set(k, v int) {
	c.mu.Lock()
	c.data[k] = v
	time.Sleep(50 * time.Microsecond) // hold the lock a while
	c.mu.Unlock()
}

func hammer(c *Cache, wg *sync.WaitGroup, id int) {
	defer wg.Done()
	for i := 0; i < 200; i++ {
		c.Set(id*1000+i, i)
	}
}

func consume(ch <-chan int, wg *sync.WaitGroup) {
	defer wg.Done()
	for range ch {
	}
}

func produce(ch chan<- int) {
	for i := 0; i < 100; i++ {
		time.Sleep(time.Millisecond)
		ch <- i
	}
	close(ch)
}

func write(name, path string) {
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		panic(err)
	}
}

func main() {
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	c := &Cache{data: map[int]int{}}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go hammer(c, &wg, i)
	}
	ch := make(chan int)
	wg.Add(1)
	go consume(ch, &wg)
	produce(ch)
	wg.Wait()
	dir := os.Args[1]
	write("mutex", dir+"/mutex.pb.gz")
	write("block", dir+"/block.pb.gz")
}
