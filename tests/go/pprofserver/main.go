// pprofserver is a Go service with net/http/pprof, for the tests of sonde's
// URL inputs against a real Go server: it listens on 127.0.0.1 (port 0, the
// system picks), prints "listening on ADDR", keeps one goroutine busy and
// another allocating, and exits when its standard input closes (the test
// ends) or after two minutes.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

var sink [][]byte

//go:noinline
func busyLoop() uint64 {
	var sum uint64
	for i := uint64(0); i < 50_000_000; i++ {
		sum += i * i
	}
	return sum
}

//go:noinline
func allocateBlocks() {
	for i := 0; i < 64; i++ {
		sink = append(sink, make([]byte, 64<<10))
	}
	if len(sink) > 4096 {
		sink = sink[:0]
	}
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	go func() {
		for {
			busyLoop()
		}
	}()
	go func() {
		for {
			allocateBlocks()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	go func() {
		time.Sleep(2 * time.Minute)
		os.Exit(0)
	}()
	http.Serve(ln, nil)
}
