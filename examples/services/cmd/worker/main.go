// Command worker is the example's background worker: it needs the API
// (devrun starts it once the API is ready), and serves its status. An
// edit here rebuilds and swaps the worker alone.
package main

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/services/internal/greeting"
)

// version is the worker's own; edit it and save.
const version = "worker v1"

func main() {
	api := cmp.Or(os.Getenv("API"), "http://127.0.0.1:8080")
	if err := waitFor(api+"/healthz", 10*time.Second); err != nil {
		log.Fatalf("the API at %s does not answer: %v", api, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s from %s\n", greeting.Text, version)
	})
	srv := &http.Server{Addr: cmp.Or(os.Getenv("ADDR"), "127.0.0.1:8081"), Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	log.Printf("%s listening on %s, using the API at %s", version, srv.Addr, api)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// waitFor waits until url answers, for up to timeout. devrun starts the
// worker once the API is ready, but an edit of the shared package swaps
// both at once, and the API may be between its versions then: as any
// service that needs another, the worker tries again for a while.
func waitFor(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
