// The Go baseline for bench/sync_bench.cpp: ns per hand-off for two goroutines ping-ponging
// through unbuffered channels, on one OS thread (GOMAXPROCS=1, like one ringo io_context), and
// through a buffered channel of capacity 1 as a stream.
//
// Run: go run bench/go/pingpong.go
package main

import (
	"fmt"
	"runtime"
	"time"
)

const handoffs = 1000000

func pingpong() float64 {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for i := 0; i < handoffs; i++ {
			pong <- <-ping
		}
	}()
	start := time.Now()
	for i := 0; i < handoffs; i++ {
		ping <- i
		<-pong
	}
	return float64(time.Since(start).Nanoseconds()) / float64(2*handoffs)
}

func stream() float64 {
	q := make(chan int, 1)
	done := make(chan bool)
	go func() {
		sum := 0
		for i := 0; i < handoffs; i++ {
			sum += <-q
		}
		done <- sum >= 0
	}()
	start := time.Now()
	for i := 0; i < handoffs; i++ {
		q <- i
	}
	<-done
	return float64(time.Since(start).Nanoseconds()) / float64(handoffs)
}

func best(f func() float64) float64 {
	b := 1e300
	for r := 0; r < 5; r++ {
		if v := f(); v < b {
			b = v
		}
	}
	return b
}

func main() {
	runtime.GOMAXPROCS(1)
	fmt.Printf("Go %s, GOMAXPROCS=1\n", runtime.Version())
	fmt.Printf("hand-off, unbuffered chan ping-pong: %6.1f ns\n", best(pingpong))
	fmt.Printf("item, chan int (capacity 1) stream:   %6.1f ns\n", best(stream))
}
