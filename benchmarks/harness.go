package benchmarks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionshield/sessionshield/ginsession"
)

// UserAgent is the browser every benchmark request comes from.
const UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// otherUserAgent is a different browser, for the mismatch checks.
const otherUserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

// users hands out user IDs that no earlier login of this process used, so
// that each login starts a fresh user (and, for sessionshield, index).
var users atomic.Int64

// NextUser returns a user ID no earlier call returned.
func NextUser(kind string) string {
	return kind + "-" + strconv.FormatInt(users.Add(1), 10)
}

// browserHeader is what a browser sends with a same-origin fetch.
func browserHeader(ua string) http.Header {
	return http.Header{
		"User-Agent":      {ua},
		"Accept":          {"application/json"},
		"Accept-Language": {"en-US,en;q=0.9"},
		"Accept-Encoding": {"gzip, deflate, br"},
	}
}

// newRequest builds a request as the server sees it, without the cost of
// httptest.NewRequest's parsing in the measured loop.
func newRequest(method, target string, h http.Header) *http.Request {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	return &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       "example.com",
		RemoteAddr: "192.0.2.10:52100",
		RequestURI: target,
	}
}

// serve runs one request through h; each call gets its own shallow copy
// of tmpl, since session libraries replace the request's context in place.
func serve(h http.Handler, tmpl *http.Request) *httptest.ResponseRecorder {
	r := new(http.Request)
	*r = *tmpl
	r = r.WithContext(context.Background())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// Login logs user in from a browser with User-Agent ua and returns the
// Cookie header the browser would send next.
func (t *Target) Login(user, ua string) (string, error) {
	rec := serve(t.Handler, newRequest(http.MethodPost, loginPath+"?user="+url.QueryEscape(user), browserHeader(ua)))
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("login: status %d: %s", rec.Code, rec.Body)
	}
	var parts []string
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge >= 0 && c.Value != "" {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("login: no cookie in %q", rec.Header().Values("Set-Cookie"))
	}
	return strings.Join(parts, "; "), nil
}

// ReadRequest returns the GET /profile request of a browser with User-Agent
// ua that sends cookie.
func ReadRequest(cookie, ua string) *http.Request {
	h := browserHeader(ua)
	h.Set("Cookie", cookie)
	return newRequest(http.MethodGet, readPath, h)
}

// Profile runs GET /profile and returns the status and body.
func (t *Target) Profile(cookie, ua string) (int, string) {
	rec := serve(t.Handler, ReadRequest(cookie, ua))
	return rec.Code, rec.Body.String()
}

// reportCounts reports the Redis commands and round trips per operation.
func reportCounts(b *testing.B, t *Target, before Counts) {
	if t.Counter == nil {
		b.ReportMetric(0, "cmds/op")
		b.ReportMetric(0, "roundtrips/op")
		return
	}
	d := t.Counter.Snapshot().Sub(before)
	b.ReportMetric(float64(d.Cmds)/float64(b.N), "cmds/op")
	b.ReportMetric(float64(d.RoundTrips)/float64(b.N), "roundtrips/op")
}

// Parallelism is the b.SetParallelism factor of the parallel benchmarks:
// Parallelism × GOMAXPROCS client goroutines (8 on a 2-core machine).
func Parallelism() int {
	return 4
}

// BenchRead measures GET /profile with the cookie of one login. With
// parallel, 4×GOMAXPROCS goroutines send it at once. Every response must
// be 200: a benchmark of refused requests would measure nothing.
func BenchRead(b *testing.B, t *Target, parallel bool) {
	cookie, err := t.Login(NextUser("reader"), UserAgent)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := ReadRequest(cookie, UserAgent)
	// Warm up the script cache and, with as many goroutines as the parallel
	// run uses, the connection pool: dialing is not what is measured.
	var wg sync.WaitGroup
	var warmErr atomic.Value
	for range Parallelism() * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			own := ReadRequest(cookie, UserAgent)
			for range 10 {
				if rec := serve(t.Handler, own); rec.Code != http.StatusOK {
					warmErr.Store(fmt.Sprintf("profile: status %d: %s", rec.Code, rec.Body))
				}
			}
		})
	}
	wg.Wait()
	if msg := warmErr.Load(); msg != nil {
		b.Fatal(msg)
	}
	before := t.Counter.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for b.Loop() {
			if rec := serve(t.Handler, tmpl); rec.Code != http.StatusOK {
				b.Fatalf("profile: status %d: %s", rec.Code, rec.Body)
			}
		}
	} else {
		b.SetParallelism(Parallelism())
		b.RunParallel(func(pb *testing.PB) {
			own := ReadRequest(cookie, UserAgent) // no header map shared between goroutines
			for pb.Next() {
				if rec := serve(t.Handler, own); rec.Code != http.StatusOK {
					b.Errorf("profile: status %d: %s", rec.Code, rec.Body)
					return
				}
			}
		})
	}
	b.StopTimer()
	reportCounts(b, t, before)
}

// BenchLogin measures POST /login from a browser with no cookie yet, for
// 1024 users in turn (user IDs are built with the timer stopped). Each user
// logs in at most ginsession.DefaultMaxSessionsPerUser times, so every
// login is one below the per-user cap, the common case; the cost of a login
// beyond the cap is ginsession's BenchmarkLoginBeyondCap.
func BenchLogin(b *testing.B, t *Target) {
	if _, err := t.Login(NextUser("warm"), UserAgent); err != nil {
		b.Fatal(err)
	}
	h := browserHeader(UserAgent)
	names := make([]string, 0, 1024)
	for range cap(names) {
		names = append(names, NextUser("login"))
	}
	before := t.Counter.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i > 0 && i%(len(names)*ginsession.DefaultMaxSessionsPerUser) == 0 {
			b.StopTimer()
			for j := range names {
				names[j] = NextUser("login")
			}
			b.StartTimer()
		}
		rec := serve(t.Handler, newRequest(http.MethodPost, loginPath+"?user="+names[i%len(names)], h))
		if rec.Code != http.StatusOK {
			b.Fatalf("login: status %d: %s", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	reportCounts(b, t, before)
}

// Memory is what one login leaves in Redis.
type Memory struct {
	Keys         int   // keys the login created
	SessionBytes int64 // MEMORY USAGE of the session key(s) alone
	TotalBytes   int64 // the same over every key, indexes included
}

// MemoryUserID is the user ID of the login MeasureMemory measures: ten
// bytes, like a typical numeric or short string user ID.
const MemoryUserID = "user-12345"

// MeasureMemory logs MemoryUserID in on a fresh target of c, whose key
// prefix is as long as the production default "sess:", and sums MEMORY
// USAGE (SAMPLES 0: exact) over every key the login created.
func MeasureMemory(ctx context.Context, env *Env, c Contender) (Memory, error) {
	var m Memory
	if !c.Redis {
		return m, nil
	}
	prefix, err := env.ShortPrefix(ctx)
	if err != nil {
		return m, err
	}
	t, err := c.New(ctx, env, prefix)
	if err != nil {
		return m, err
	}
	defer t.Close()
	if _, err := t.Login(MemoryUserID, UserAgent); err != nil {
		return m, err
	}
	keys, err := env.Keys(ctx, t.Prefix)
	if err != nil {
		return m, err
	}
	for _, k := range keys {
		n, err := env.Admin.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			return m, fmt.Errorf("MEMORY USAGE %s: %w", k, err)
		}
		m.Keys++
		m.TotalBytes += n
		if t.IsIndex == nil || !t.IsIndex(k) {
			m.SessionBytes += n
		}
	}
	return m, nil
}

// ReportMemory reports m as benchmark metrics.
func ReportMemory(b *testing.B, m Memory) {
	b.ReportMetric(float64(m.SessionBytes), "redis-bytes/session")
	b.ReportMetric(float64(m.TotalBytes), "redis-bytes/session+index")
}
