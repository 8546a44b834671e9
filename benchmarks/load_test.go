package benchmarks

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/example/app"
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

// TestLoad serves the example app, sessionshield (cache off and
// LocalCache 1s) and gin-contrib's Redis store, one after the other, on real loopback sockets (httptest.NewServer) and drives each
// with -load.clients clients for -load.duration. Each client logs in as its
// own user and then reads /profile in a loop, checking that the body names
// its own user. It runs only with LOAD=1:
//
//	LOAD=1 go test -run TestLoad -v -load.duration 10s
//
// -run 'TestLoad/^sessionshield' runs the two sessionshield servers only.
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
	for _, slug := range []string{"example-app", "sessionshield", "sessionshield-cache", "gincontrib-redis"} {
		t.Run(slug, func(t *testing.T) {
			var (
				name  string
				h     http.Handler
				login loginFunc
			)
			if slug == "example-app" {
				name = "example app (go run ./example)"
				h = newExampleApp(t, env)
				login = exampleLogin
			} else {
				c, _ := ContenderBySlug(slug)
				target, err := c.New(ctx, env, env.Prefix("load-"+slug))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = target.Close() })
				name, h, login = c.Name, target.Handler, contenderLogin
			}
			res := runLoad(t, h, login, *loadClients, *loadDuration)
			t.Logf("%s: %s", name, res)
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

// loginFunc logs a new client in on the server at base and returns its
// Cookie header and the user ID GET /profile must show it.
type loginFunc func(hc *http.Client, base string) (cookie, userID string, err error)

// contenderLogin logs in to a benchmark contender: POST /login?user=.
func contenderLogin(hc *http.Client, base string) (string, string, error) {
	user := NextUser("load")
	req, _ := http.NewRequest(http.MethodPost, base+loginPath+"?user="+user, nil)
	req.Header = browserHeader(UserAgent)
	cookie, _, err := post(hc, req)
	return cookie, user, err
}

// exampleLogin signs a user up and logs it in on the example app, as its
// README's walk-through does.
func exampleLogin(hc *http.Client, base string) (string, string, error) {
	body := fmt.Sprintf(`{"email":%q,"password":"correct horse battery staple"}`, NextUser("load")+"@example.com")
	req, _ := http.NewRequest(http.MethodPost, base+"/signup", strings.NewReader(body))
	req.Header = browserHeader(UserAgent)
	req.Header.Set("Content-Type", "application/json")
	_, resp, err := post(hc, req)
	if err != nil {
		return "", "", err
	}
	var user struct{ ID string }
	if err := json.Unmarshal(resp, &user); err != nil || user.ID == "" {
		return "", "", fmt.Errorf("signup: unexpected body %q", resp)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(body))
	req.Header = browserHeader(UserAgent)
	req.Header.Set("Content-Type", "application/json")
	cookie, _, err := post(hc, req)
	return cookie, user.ID, err
}

// post sends req and returns the session cookie it set, as a Cookie
// header, and the body; an answer other than 200 or 201 is an error.
func post(hc *http.Client, req *http.Request) (string, []byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", nil, fmt.Errorf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == CookieName && c.Value != "" {
			return c.Name + "=" + c.Value, body, nil
		}
	}
	if req.URL.Path == loginPath {
		return "", nil, fmt.Errorf("login: no %q cookie", CookieName)
	}
	return "", body, nil
}

// newExampleApp builds the example application (example/app) on the
// benchmark's Redis, under its own key prefix, as `go run ./example` runs
// it in development, with its request log discarded.
func newExampleApp(t *testing.T, env *Env) http.Handler {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	opt, err := redis.ParseURL(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	prefix := env.Prefix("load-example")
	t.Cleanup(func() {
		_ = env.Cleanup(context.Background(), prefix)
		_ = rdb.Close()
	})
	// All 64 clients sign up from 127.0.0.1: lift the per-IP signup limit.
	cfg := app.Config{Secret: secret, KeyPrefix: prefix, SignupLimit: 1 << 20, Logger: slog.New(slog.DiscardHandler)}
	a, err := app.New(cfg, rdb)
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.Router()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func runLoad(t *testing.T, h http.Handler, login loginFunc, clients int, d time.Duration) loadResult {
	t.Helper()
	srv := httptest.NewServer(h) // listens on 127.0.0.1 only
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	cookies := make([]string, clients)
	users := make([]string, clients)
	for i := range clients {
		var err error
		if cookies[i], users[i], err = login(hc, srv.URL); err != nil {
			t.Fatalf("client %d: %v", i, err)
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
