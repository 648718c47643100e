// Command hello is the example app for devrun: a small HTTP server that
// answers with a greeting and its version, and shuts down gracefully on
// SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version is what the server answers with; edit it and save to see devrun swap the app.
const version = "v1"

func main() {
	// ADDR, or PORT (as devrun's proxy and many platforms give it), or 8080.
	addr := os.Getenv("ADDR")
	if addr == "" && os.Getenv("PORT") != "" {
		addr = "127.0.0.1:" + os.Getenv("PORT")
	}
	if addr == "" {
		addr = ":8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", version)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()

	log.Printf("hello %s listening on http://%s", version, addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
