package benchmarks

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	loadDuration = flag.Duration("load.duration", 30*time.Second, "how long TestLoad drives each server (LOAD=1 only)")
	loadClients  = flag.Int("load.clients", 64, "concurrent clients of TestLoad, each with its own login")
)

// loadResult is what one load run measured.
type loadResult struct {
	requests, errors, crossUser int
	elapsed                     time.Duration
	latencies                   []time.Duration
}

func (r loadResult) String() string {
	slices.Sort(r.latencies)
	q := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	return fmt.Sprintf("%d requests in %v: %.0f req/s, p50 %v, p99 %v, errors %d, other user's data %d",
		r.requests, r.elapsed.Round(time.Millisecond), float64(r.requests)/r.elapsed.Seconds(),
		q(0.50).Round(time.Microsecond), q(0.99).Round(time.Microsecond), r.errors, r.crossUser)
}

// TestLoad serves sessionshield and gin-contrib's Redis store, one after
// the other, on real loopback sockets (httptest.NewServer) and drives each
// with -load.clients clients for -load.duration. Each client logs in as its
// own user and then reads /profile in a loop, checking that the body names
// its own user. It runs only with LOAD=1:
//
//	LOAD=1 go test -run TestLoad -v -load.duration 10s
func TestLoad(t *testing.T) {
	if os.Getenv("LOAD") != "1" {
		t.Skip("set LOAD=1 to run the load test")
	}
	ctx := context.Background()
	env, err := NewEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Close() })
	for _, slug := range []string{"sessionshield", "gincontrib-redis"} {
		c, _ := ContenderBySlug(slug)
		t.Run(slug, func(t *testing.T) {
			target, err := c.New(ctx, env, env.Prefix("load-"+slug))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = target.Close() })
			res := runLoad(t, target.Handler, *loadClients, *loadDuration)
			t.Logf("%s: %s", c.Name, res)
			if res.errors != 0 {
				t.Errorf("%d requests failed", res.errors)
			}
			if res.crossUser != 0 {
				t.Errorf("%d responses showed another client's user", res.crossUser)
			}
			if res.requests == 0 {
				t.Error("no request completed")
			}
		})
	}
}

func runLoad(t *testing.T, h http.Handler, clients int, d time.Duration) loadResult {
	t.Helper()
	srv := httptest.NewServer(h) // listens on 127.0.0.1 only
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	cookies := make([]string, clients)
	users := make([]string, clients)
	for i := range clients {
		users[i] = NextUser("load")
		req, _ := http.NewRequest(http.MethodPost, srv.URL+loginPath+"?user="+users[i], nil)
		req.Header = browserHeader(UserAgent)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login %s: status %d", users[i], resp.StatusCode)
		}
		for _, c := range resp.Cookies() {
			if c.Name == CookieName && c.Value != "" {
				cookies[i] = c.Name + "=" + c.Value
			}
		}
		if cookies[i] == "" {
			t.Fatalf("login %s: no cookie", users[i])
		}
	}

	results := make([]loadResult, clients)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			r := &results[i]
			r.latencies = make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+readPath, nil)
				req.Header = browserHeader(UserAgent)
				req.Header.Set("Cookie", cookies[i])
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					r.errors++
					continue
				}
				var body struct {
					UserID string `json:"userId"`
				}
				err = json.NewDecoder(resp.Body).Decode(&body)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				r.latencies = append(r.latencies, time.Since(t0))
				r.requests++
				switch {
				case resp.StatusCode != http.StatusOK || err != nil:
					r.errors++
				case body.UserID != users[i]:
					r.crossUser++
				}
			}
		})
	}
	wg.Wait()
	total := loadResult{elapsed: time.Since(start)}
	for _, r := range results {
		total.requests += r.requests
		total.errors += r.errors
		total.crossUser += r.crossUser
		total.latencies = append(total.latencies, r.latencies...)
	}
	return total
}
