//go:build unix

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Through the proxy, no request fails across 20 swaps: 8 clients on
// 127.0.0.1 ask without pause while the app is rebuilt and restarted 20
// times; each swap's new version is served; the app got its port from
// devrun in PORT.
func TestProxyLosesNoRequestAcross20Swaps(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v0")})
	p.start("--proxy.listen", fmt.Sprint(p.port))
	p.waitBody("v0")

	var failed, total atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				resp, err := client.Get(p.url())
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s", resp.Status)
					}
				}
				total.Add(1)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
			}
		}()
	}
	for i := 1; i <= 20; i++ {
		p.write("version.go", version(fmt.Sprintf("v%d", i)))
		p.waitBody(fmt.Sprintf("v%d", i))
	}
	close(stop)
	wg.Wait()
	p.waitLog(`started in`, 21)
	p.stop(os.Interrupt)
	slices.Sort(lat)
	if len(lat) > 0 {
		t.Logf("%d requests through the proxy during 20 swaps: p50 %s, p99 %s, max %s", total.Load(),
			lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed through the proxy (first: %v)", n, total.Load(), firstErr.Load())
	}
	if p.countLog(`proxy: http://127.0.0.1:\d+/ → the app`) != 1 {
		t.Errorf("devrun did not say where its proxy listens:\n%s", p.log())
	}
}
