// Command loginlatency measures what a flood of correct-password logins on
// one account does to the login time of other users of the example app
// (example/app). It builds the app in process on the Redis that REDIS_URL
// names (default redis://127.0.0.1:6379/0), under a key prefix of its own
// that it deletes at the end, serves it on a loopback socket
// (httptest.NewServer) and logs in over real HTTP:
//
//  1. quiet: -logins sequential logins, spread round robin over -accounts
//     victim accounts, nothing else running;
//  2. attack: the same, while -attackers goroutines log in to one other
//     account with its correct password in a closed loop, each sending its
//     next login as soon as the last is answered (after one second of
//     warm-up);
//  3. quiet again, to show how much the machine itself drifted.
//
// It prints the median, p99 and max of the victims' login time in each
// phase, and what the attackers got. It stops by itself: each phase ends
// after -logins logins or after -phase, and the whole run at -deadline.
//
//	cd benchmarks && go run ./cmd/loginlatency
//
// The clients run in the same process as the server, so the attackers'
// own HTTP work takes CPU from the server too, which a remote attacker's
// would not.
//
// The victims use several accounts so that they stay under the example's
// per-account success limit; all clients sign up from 127.0.0.1, so the
// per-IP signup limit is lifted, as the load test does.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/benchmarks"
	"github.com/sessionshield/sessionshield/example/app"
)

const password = "correct horse battery staple"

func main() {
	logins := flag.Int("logins", 200, "victim logins per phase")
	accounts := flag.Int("accounts", 100, "victim accounts the logins are spread over")
	attackers := flag.Int("attackers", 8, "attacker loops of correct-password logins on one account")
	phaseMax := flag.Duration("phase", 35*time.Second, "each phase stops after this long")
	deadline := flag.Duration("deadline", 115*time.Second, "the whole run stops after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	if err := run(ctx, *logins, *accounts, *attackers, *phaseMax); err != nil {
		fmt.Fprintln(os.Stderr, "loginlatency:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logins, accounts, attackers int, phaseMax time.Duration) error {
	env, err := benchmarks.NewEnv(ctx)
	if err != nil {
		return err
	}
	defer env.Close()
	opt, err := redis.ParseURL(env.URL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	prefix := env.Prefix("loginlatency")
	defer func() { _ = env.Cleanup(context.Background(), prefix) }()

	gin.SetMode(gin.ReleaseMode)
	a, err := app.New(app.Config{
		Secret:      []byte("loginlatency-secret-0123456789abcdef"),
		KeyPrefix:   prefix,
		SignupLimit: 1 << 20,
		Logger:      slog.New(slog.DiscardHandler),
	}, rdb)
	if err != nil {
		return err
	}
	h, err := a.Router()
	if err != nil {
		return err
	}
	srv := httptest.NewServer(h) // 127.0.0.1 only
	defer srv.Close()
	conns := attackers + 2
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	c := &client{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, base: srv.URL}

	victims := make([]string, accounts)
	for i := range victims {
		victims[i] = fmt.Sprintf("victim-%d@example.com", i)
		if s, err := c.post(ctx, "/signup", victims[i]); err != nil || s != http.StatusCreated {
			return fmt.Errorf("signup %d: status %d, %v", i, s, err)
		}
	}
	const target = "target@example.com"
	if s, err := c.post(ctx, "/signup", target); err != nil || s != http.StatusCreated {
		return fmt.Errorf("signup of the target: status %d, %v", s, err)
	}

	fmt.Printf("%s, %d CPUs (GOMAXPROCS %d), %s, %s at %s\n", runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(),
		runtime.GOMAXPROCS(0), runtime.Version(), env.ServerInfo(ctx), env.URL)
	fmt.Printf("%d victim logins per phase over %d accounts; %d attacker loops on one account\n\n", logins, accounts, attackers)
	fmt.Println("| phase | victim logins | median | p99 | max | victim errors | attacker answers |")
	fmt.Println("|---|--:|--:|--:|--:|--:|---|")

	quiet := c.victimLogins(ctx, victims, logins, phaseMax)
	fmt.Println(quiet.row("quiet", ""))

	// The attack: closed loops, each sending the next login as soon as
	// the last one is answered. A second of warm-up first, so the victims
	// are measured in the attack's steady state.
	actx, stop := context.WithCancel(ctx)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
		total atomic.Int64
	)
	start := time.Now()
	for range attackers {
		wg.Go(func() {
			local := map[int]int{}
			for actx.Err() == nil {
				s, _ := c.post(actx, "/login", target)
				if actx.Err() == nil {
					local[s]++
					total.Add(1)
				}
			}
			mu.Lock()
			for k, v := range local {
				codes[k] += v
			}
			mu.Unlock()
		})
	}
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
	}
	attack := c.victimLogins(ctx, victims, logins, phaseMax)
	stop()
	wg.Wait()
	elapsed := time.Since(start)
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(codes)) {
		parts = append(parts, fmt.Sprintf("%d x %d", codes[k], k))
	}
	fmt.Println(attack.row("attack", fmt.Sprintf("%s (%.0f/s; status 0: transport error)", strings.Join(parts, ", "), float64(total.Load())/elapsed.Seconds())))
	again := c.victimLogins(ctx, victims, logins, phaseMax)
	fmt.Println(again.row("quiet again", ""))
	if quiet.median() > 0 {
		fmt.Printf("\nattack / first quiet: median %.2fx, p99 %.2fx, max %.2fx\n",
			ratio(attack.median(), quiet.median()), ratio(attack.p99(), quiet.p99()), ratio(attack.max(), quiet.max()))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("stopped at the deadline: %w", ctx.Err())
	}
	return nil
}

// client sends the JSON requests of the example's API.
type client struct {
	hc   *http.Client
	base string
}

// post sends {email, password} to path and returns the status (0 for a
// transport error).
func (c *client) post(ctx context.Context, path, email string) (int, error) {
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", benchmarks.UserAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// phase is what one phase measured.
type phase struct {
	latencies []time.Duration // sorted
	errors    int
}

// victimLogins logs in n times, one after the other, round robin over
// victims, and times each login. It stops early after d.
func (c *client) victimLogins(ctx context.Context, victims []string, n int, d time.Duration) phase {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var p phase
	for i := 0; i < n && ctx.Err() == nil; i++ {
		t0 := time.Now()
		s, err := c.post(ctx, "/login", victims[i%len(victims)])
		d := time.Since(t0)
		if ctx.Err() != nil {
			break // cut off by the phase's end, not answered
		}
		if err != nil || s != http.StatusOK {
			p.errors++
			continue
		}
		p.latencies = append(p.latencies, d)
	}
	slices.Sort(p.latencies)
	return p
}

// quantile is the nearest-rank q-quantile, 0 for no samples.
func (p phase) quantile(q float64) time.Duration {
	if len(p.latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(p.latencies))+0.999999) - 1
	return p.latencies[min(max(i, 0), len(p.latencies)-1)]
}

func (p phase) median() time.Duration { return p.quantile(0.5) }
func (p phase) p99() time.Duration    { return p.quantile(0.99) }
func (p phase) max() time.Duration    { return p.quantile(1) }

func (p phase) row(name, attackers string) string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	if attackers == "" {
		attackers = "none"
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %d | %s |", name, len(p.latencies), ms(p.median()), ms(p.p99()), ms(p.max()), p.errors, attackers)
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
