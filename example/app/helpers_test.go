package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// The browsers of the tests: different families, so the default
// fingerprint (User-Agent, hard) tells them apart.
const (
	chromeUA  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// testSecret is a fixed 32-byte secret: tests never generate one.
var testSecret = []byte("example-app test secret, 32 bytes or more")

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// clock is a settable clock for Config.Now. Like a real clock, it never
// reads the same instant twice: each reading is 1 µs after the last, so a
// Login right after a RevokeUser counts as checked after it (see
// ginsession.CheckedAt), as it does on a real clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Microsecond)
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects log output for assertions on what is never logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv is one application on its own key prefix, served on a real
// socket.
type testEnv struct {
	t      *testing.T
	app    *App
	srv    *httptest.Server
	rdb    *redis.Client
	prefix string
	clock  *clock
	logs   *logBuffer
}

// newTestEnv builds an application on the test Redis (REDIS_URL, else
// 127.0.0.1:6379, else miniredis; see internal/redistest) under a random
// key prefix that is deleted with SCAN+UNLINK when the test ends. edit, when
// set, changes the Config before New.
func newTestEnv(t *testing.T, edit func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{
		t:      t,
		rdb:    redistest.Client(t),
		prefix: redistest.Prefix(t),
		clock:  &clock{t: time.Now()},
		logs:   &logBuffer{},
	}
	cfg := Config{
		Env:       EnvDevelopment,
		Secret:    testSecret,
		KeyPrefix: e.prefix,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       e.clock.Now,
		// Throttled answers wait 1 ms, not the default second; the
		// tests of the hold set their own.
		RefusalDelay: time.Millisecond,
		// A request waits for a hashing slot up to a minute, not the
		// default 2 s: tests that send parallel signups or logins queue
		// for the slots (two on a 2-core machine), and with -race on a
		// busy machine 8 parallel signups took more than 2 s, so one got
		// 503 in TestSignupRace. The wait bound is tested on its own
		// (TestHashQueueAcquire) and its default in
		// TestThrottleAndHashSettings.
		HashMaxWait: time.Minute,
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := New(cfg, e.rdb)
	require.NoError(t, err)
	e.serve(a)
	return e
}

// serve makes a the application of e and serves its router on a real
// socket until the test ends.
func (e *testEnv) serve(a *App) {
	e.t.Helper()
	e.app = a
	e.t.Cleanup(a.Close)
	router, err := a.Router()
	require.NoError(e.t, err)
	e.srv = httptest.NewServer(router)
	e.t.Cleanup(e.srv.Close)
}

// response is what a test looks at: status, body, headers and the parsed
// Set-Cookie lines.
type response struct {
	status  int
	body    string
	header  http.Header
	cookies []*http.Cookie
}

// reqOpt changes a request before it is sent.
type reqOpt func(*http.Request)

func withCookie(c *http.Cookie) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value}) }
}

func withUA(ua string) reqOpt { return func(r *http.Request) { r.Header.Set("User-Agent", ua) } }

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// do sends a request with a Chrome User-Agent and, for state-changing
// methods, Content-Type: application/json; cookies only when given
// (no cookie jar). It fails the test on a transport error, so call it from
// the test's goroutine only; other goroutines use send.
func (e *testEnv) do(method, path, body string, opts ...reqOpt) response {
	e.t.Helper()
	r, err := e.send(method, path, body, opts...)
	require.NoError(e.t, err)
	return r
}

// send is do for any goroutine: it returns the error instead of failing
// the test.
func (e *testEnv) send(method, path, body string, opts ...reqOpt) (response, error) {
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("User-Agent", chromeUA)
	if stateChanging(method) {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	out := response{status: res.StatusCode, body: string(b), header: res.Header}
	for _, line := range res.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			return response{}, fmt.Errorf("Set-Cookie %q: %w", line, err)
		}
		out.cookies = append(out.cookies, c)
	}
	return out, nil
}

// sendAll sends n requests at once, request i built by body(i), and
// returns how many got each status. Transport errors fail the test.
func (e *testEnv) sendAll(n int, method, path string, body func(i int) string) map[int]int {
	e.t.Helper()
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := e.send(method, path, body(i))
			statuses[i], errs[i] = r.status, err
		})
	}
	wg.Wait()
	require.NoError(e.t, errors.Join(errs...))
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	return count
}

// creds returns a /signup or /login body.
func creds(email, password string) string {
	b, _ := json.Marshal(credentials{Email: email, Password: password})
	return string(b)
}

// signup registers a user and fails the test unless it gets 201.
func (e *testEnv) signup(email, password string) string {
	e.t.Helper()
	r := e.do(http.MethodPost, "/signup", creds(email, password))
	require.Equal(e.t, http.StatusCreated, r.status, r.body)
	var out struct{ ID string }
	require.NoError(e.t, json.Unmarshal([]byte(r.body), &out))
	return out.ID
}

// login logs in and returns the session cookie, failing the test unless it
// gets 200 and exactly one cookie.
func (e *testEnv) login(email, password string, opts ...reqOpt) *http.Cookie {
	e.t.Helper()
	r := e.do(http.MethodPost, "/login", creds(email, password), opts...)
	require.Equal(e.t, http.StatusOK, r.status, r.body)
	require.Len(e.t, r.cookies, 1)
	return r.cookies[0]
}

// sessionKeys returns the session keys (not the user indexes, nor the
// tombstones of ended recent logins) under the
// test's prefix, found with SCAN (never KEYS).
func (e *testEnv) sessionKeys() []string {
	e.t.Helper()
	ctx := e.t.Context()
	sp := e.prefix + "sess:"
	var keys []string
	iter := e.rdb.Scan(ctx, 0, sp+"*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if strings.HasPrefix(k, sp+"u:") {
			continue
		}
		if f, err := e.rdb.HKeys(ctx, k).Result(); err == nil && len(f) == 1 && f[0] == "_t" {
			continue // a tombstone: where an ended recent login's write must not land
		}
		keys = append(keys, k)
	}
	require.NoError(e.t, iter.Err())
	return keys
}

// errorBody returns the JSON body {"error": msg}, as the server sends it.
func errorBody(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b)
}
