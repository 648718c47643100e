// Command realapp is the benchmark's app of real size: a main package
// over large libraries (Kubernetes' client-go, the AWS and Google Cloud
// SDKs, database drivers, HTTP and RPC frameworks: about 1,600 packages,
// a binary of about 100 MB) and a tree of its own in which internal/core
// is imported by every model and, through them, by every service. It
// serves its version and core's: the benchmark edits version.go (a
// main-package edit) or internal/core/version.go (a deep edit).
package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"example.com/realapp/internal/core"
	"example.com/realapp/internal/svc/s00"
	"example.com/realapp/internal/svc/s01"
	"example.com/realapp/internal/svc/s02"
	"example.com/realapp/internal/svc/s03"
	"example.com/realapp/internal/svc/s04"
	"example.com/realapp/internal/svc/s05"
	"example.com/realapp/internal/svc/s06"
	"example.com/realapp/internal/svc/s07"
	"example.com/realapp/internal/svc/s08"
	"example.com/realapp/internal/svc/s09"
	"example.com/realapp/internal/svc/s10"
	"example.com/realapp/internal/svc/s11"
	"example.com/realapp/internal/svc/s12"
	"example.com/realapp/internal/svc/s13"
	"example.com/realapp/internal/svc/s14"
	"example.com/realapp/internal/svc/s15"
	"example.com/realapp/internal/svc/s16"
	"example.com/realapp/internal/svc/s17"
	"example.com/realapp/internal/svc/s18"
	"example.com/realapp/internal/svc/s19"
)

func main() {
	services := strings.Join([]string{
		s00.Describe(),
		s01.Describe(),
		s02.Describe(),
		s03.Describe(),
		s04.Describe(),
		s05.Describe(),
		s06.Describe(),
		s07.Describe(),
		s08.Describe(),
		s09.Describe(),
		s10.Describe(),
		s11.Describe(),
		s12.Describe(),
		s13.Describe(),
		s14.Describe(),
		s15.Describe(),
		s16.Describe(),
		s17.Describe(),
		s18.Describe(),
		s19.Describe(),
	}, "\n")
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:" + os.Getenv("PORT")
	}
	fmt.Println("realapp", version, "listening on", addr)
	err := http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/services" {
			fmt.Fprintln(w, services)
			return
		}
		fmt.Fprintln(w, version, core.Version)
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
