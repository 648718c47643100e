// Command web is devrun's example web app: HTML pages from templates the
// binary embeds, a stylesheet served from disk, and a form. Run it with
// devrun's proxy in front (its devrun.yaml does): every saved edit reloads
// the page once the new version answers, a broken edit shows the
// compiler's errors over the page, and an edit of static/site.css
// restyles the page without a reload.
package main

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

//go:embed templates
var templates embed.FS

var pages = template.Must(template.ParseFS(templates, "templates/*.html"))

// guestbook is what the form has been sent, newest first.
var guestbook struct {
	sync.Mutex
	names []string
}

func main() {
	// devrun's proxy gives the app its port in PORT.
	addr := "127.0.0.1:" + os.Getenv("PORT")
	if os.Getenv("PORT") == "" {
		addr = "127.0.0.1:8080"
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.Dir("static"))))
	mux.HandleFunc("GET /{$}", home)
	mux.HandleFunc("POST /sign", sign)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("web listening on http://%s", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// home shows the page: a greeting, the form, and who signed.
func home(w http.ResponseWriter, _ *http.Request) {
	guestbook.Lock()
	names := append([]string(nil), guestbook.names...)
	guestbook.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, "home.html", map[string]any{"Title": title, "Names": names}); err != nil {
		log.Print(err)
	}
}

// sign takes the form, and sends the browser back to the page.
func sign(w http.ResponseWriter, r *http.Request) {
	if name := r.FormValue("name"); name != "" {
		guestbook.Lock()
		guestbook.names = append([]string{name}, guestbook.names...)
		guestbook.Unlock()
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
