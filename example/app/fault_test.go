//go:build faults

// The fault tests take real time (a Redis that hangs 8 s, one that is down
// 10 s), so they run only with the faults build tag, once in CI:
//
//	go test -tags faults -count=1 -run Fault -v ./example/app/
//
// Each prints a greppable "FAULT example-..." line with what it measured.

package app

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9/logging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// faultClients is how many logged-in clients load the application.
const faultClients = 20

// outcome is one request of the load: when it started and ended, its
// status (0 for a transport error, which includes a client-side timeout),
// whether its body showed another client's user, and for an answer other
// than 200 the error it gave.
type outcome struct {
	start, end time.Time
	status     int
	wrongUser  bool
	reason     string
}

func (o outcome) took() time.Duration { return o.end.Sub(o.start) }

// loggedIn is one client of the load: its user and session cookie.
type loggedIn struct {
	id     string
	cookie *http.Cookie
}

// quietLogs silences, for the rest of the test, what go-redis and
// gin-contrib/sessions print on every failed dial and load during a fault:
// thousands of lines that would bury a failure's message.
func quietLogs(t *testing.T) {
	logging.Disable()
	log.SetOutput(io.Discard)
	t.Cleanup(func() {
		logging.Enable()
		log.SetOutput(os.Stderr)
	})
}

// faultEnv starts the application with Open on a Redis of the test's own,
// with the example's default client options, and logs faultClients users
// in.
func faultEnv(t *testing.T, addr string) (*testEnv, []loggedIn) {
	t.Helper()
	quietLogs(t)
	e := openEnv(t, Config{RedisURL: "redis://" + addr, SignupLimit: 10 * faultClients, IPLimit: 10 * faultClients})
	clients := make([]loggedIn, faultClients)
	for i := range clients {
		email := fmt.Sprintf("user%02d@example.com", i)
		clients[i].id = e.signup(email, "a fine password")
		clients[i].cookie = e.login(email, "a fine password")
	}
	return e, clients
}

// load sends GET /profile for every client, each in its own goroutine, one
// request after the other (20 ms apart) until stop is closed, at most 2000
// requests each, and returns every outcome. The HTTP client gives up after
// 15 s, so a hung request shows as status 0 instead of hanging the test.
func load(e *testEnv, clients []loggedIn, stop <-chan struct{}) []outcome {
	hc := &http.Client{Timeout: 15 * time.Second}
	var (
		mu  sync.Mutex
		all []outcome
		wg  sync.WaitGroup
	)
	for _, c := range clients {
		wg.Go(func() {
			var mine []outcome
			for range 2000 {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
					return
				default:
				}
				o := outcome{start: time.Now()}
				req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/profile", nil)
				req.Header.Set("User-Agent", chromeUA)
				req.AddCookie(&http.Cookie{Name: c.cookie.Name, Value: c.cookie.Value})
				res, err := hc.Do(req)
				if err == nil {
					body, _ := io.ReadAll(res.Body)
					_ = res.Body.Close()
					o.status = res.StatusCode
					if o.status == http.StatusOK {
						var p struct{ UserID string }
						o.wrongUser = json.Unmarshal(body, &p) != nil || p.UserID != c.id
					} else {
						var p struct{ Error string }
						_ = json.Unmarshal(body, &p)
						o.reason = p.Error
					}
				}
				o.end = time.Now()
				mine = append(mine, o)
				time.Sleep(20 * time.Millisecond)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all
}

// reasons counts the answers other than 200 by status and error, for a
// failure message.
func reasons(os []outcome) map[string]int {
	n := map[string]int{}
	for _, o := range os {
		if o.status != http.StatusOK {
			n[fmt.Sprintf("%d %s", o.status, o.reason)]++
		}
	}
	return n
}

// statusCounts counts outcomes by status.
func statusCounts(os []outcome) map[int]int {
	n := map[int]int{}
	for _, o := range os {
		n[o.status]++
	}
	return n
}

// percentile returns the q-quantile (0 < q <= 1) of how long os took, by
// the nearest-rank method, or 0 for none.
func percentile(os []outcome, q float64) time.Duration {
	if len(os) == 0 {
		return 0
	}
	d := make([]time.Duration, len(os))
	for i, o := range os {
		d[i] = o.took()
	}
	slices.Sort(d)
	return d[int(math.Ceil(q*float64(len(d))))-1]
}

// between returns the outcomes that started in [from, to).
func between(os []outcome, from, to time.Time) []outcome {
	var out []outcome
	for _, o := range os {
		if !o.start.Before(from) && o.start.Before(to) {
			out = append(out, o)
		}
	}
	return out
}

// firstAfter returns the first outcome that started at or after t with a
// status for which ok is true.
func firstAfter(os []outcome, t time.Time, ok func(int) bool) (outcome, bool) {
	var first outcome
	found := false
	for _, o := range os {
		if !o.start.Before(t) && ok(o.status) && (!found || o.end.Before(first.end)) {
			first, found = o, true
		}
	}
	return first, found
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// TestFaultExampleHang: 20 logged-in clients load guarded routes while
// Redis sleeps 8 s (DEBUG SLEEP, on a server of the test's own). Every
// request that meets the hang must answer 503 within about a second (p99
// <= 1.5 s), none 500, none hang, and the clients are served again right
// after the sleep ends.
func TestFaultExampleHang(t *testing.T) {
	srv := redistest.StartServer(t)
	e, clients := faultEnv(t, srv.Addr)

	// The load runs in a goroutine of its own; this one drives the fault,
	// so that the helpers that fail the test run on the test's goroutine.
	stop, results := make(chan struct{}), make(chan []outcome, 1)
	go func() { results <- load(e, clients, stop) }()
	time.Sleep(time.Second)
	// Hang returns once Redis is asleep (a PING got no reply within 250
	// ms), so the sleep began at most about that long before this moment.
	woke := srv.Hang(t, 8*time.Second)
	sleepStart := time.Now()
	<-woke
	sleepEnd := time.Now()
	time.Sleep(3 * time.Second)
	close(stop)
	all := <-results

	// The requests that started well inside the sleep met a hung Redis.
	during := between(all, sleepStart.Add(100*time.Millisecond), sleepEnd.Add(-1500*time.Millisecond))
	counts, duringCounts := statusCounts(all), statusCounts(during)
	wrong := 0
	for _, o := range all {
		if o.wrongUser {
			wrong++
		}
	}
	first, recovered := firstAfter(all, sleepEnd, func(s int) bool { return s == http.StatusOK })
	recovery := first.end.Sub(sleepEnd)
	p50, p99, worst := percentile(during, .5), percentile(during, .99), percentile(during, 1)
	t.Logf("FAULT example-hang: requests=%d during=%d 200=%d 503=%d 500=%d errors=%d wrong_user=%d p50=%dms p99=%dms max=%dms recovery=%dms",
		len(all), len(during), counts[200], duringCounts[503], counts[500], counts[0], wrong, ms(p50), ms(p99), ms(worst), ms(recovery))

	require.NotEmpty(t, during)
	assert.Zero(t, counts[http.StatusInternalServerError], "never 500")
	assert.Zero(t, counts[0], "never a hang or a transport error")
	assert.Zero(t, wrong, "never another client's user")
	assert.Equal(t, len(during), duringCounts[http.StatusServiceUnavailable], "every request during the hang fails closed with 503: %v", duringCounts)
	assert.LessOrEqual(t, p99, 1500*time.Millisecond, "503 p99")
	require.True(t, recovered, "served again after the sleep")
	assert.Less(t, recovery, 2*time.Second, "served again within about a second")
	for _, c := range clients {
		r := e.do(http.MethodGet, "/profile", "", withCookie(c.cookie))
		assert.Equal(t, http.StatusOK, r.status, "every session survived the hang")
	}
}

// TestFaultExampleRestart: 20 logged-in clients load guarded routes while
// Redis is stopped for 10 s and restarted empty on the same port. While it
// is down every request answers 503 (none 500, none 200); once it is back
// the application serves again within about a second, without a restart
// of its own, and the old sessions, gone with the data, answer 401.
func TestFaultExampleRestart(t *testing.T) {
	srv := redistest.StartServer(t)
	e, clients := faultEnv(t, srv.Addr)

	stop, results := make(chan struct{}), make(chan []outcome, 1)
	go func() { results <- load(e, clients, stop) }()
	time.Sleep(time.Second)
	downAt := time.Now()
	srv.Stop()
	time.Sleep(10 * time.Second)
	srv.Restart(t)
	upAt := time.Now()
	time.Sleep(3 * time.Second)
	close(stop)
	all := <-results

	down := between(all, downAt.Add(100*time.Millisecond), upAt.Add(-500*time.Millisecond))
	after := between(all, upAt, time.Now())
	counts, downCounts, afterCounts := statusCounts(all), statusCounts(down), statusCounts(after)
	first, recovered := firstAfter(all, upAt, func(s int) bool { return s != http.StatusServiceUnavailable && s != 0 })
	recovery := first.end.Sub(upAt)
	p99 := percentile(down, .99)
	t.Logf("FAULT example-restart: requests=%d down=%d 503=%d 500=%d errors=%d down_200=%d p99=%dms recovery=%dms after_401=%d after_200=%d",
		len(all), len(down), downCounts[503], counts[500], counts[0], downCounts[200], ms(p99), ms(recovery), afterCounts[401], afterCounts[200])

	require.NotEmpty(t, down)
	assert.Zero(t, counts[http.StatusInternalServerError], "never 500")
	assert.Zero(t, counts[0], "never a hang or a transport error")
	assert.Equal(t, len(down), downCounts[http.StatusServiceUnavailable], "every request while Redis is down fails closed with 503: %v", downCounts)
	assert.LessOrEqual(t, p99, 1500*time.Millisecond, "503 p99 while down")
	require.True(t, recovered, "served again after the restart")
	assert.Less(t, recovery, 2*time.Second, "served again within about a second")
	assert.Zero(t, afterCounts[http.StatusOK], "the sessions went with the data: never 200 for an old cookie")

	// The same application, never restarted, signs up and logs in again.
	e.signupLoginProfile("again@example.com")
}
