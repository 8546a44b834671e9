package ginsession

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

const (
	testSecret  = "0123456789abcdef0123456789abcdef-test-secret"
	cookieName  = "id"
	chromeWin   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
	chromeWin2  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxLinx = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

func init() { gin.SetMode(gin.TestMode) }

// clock is an injectable, settable time source.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// harness is a Gin app on a real socket with a Store on the test Redis.
type harness struct {
	t       testing.TB
	rdb     redis.UniversalClient // the store's client, counting its commands
	count   *redistest.Counter
	raw     redis.UniversalClient // a separate client to inspect Redis
	store   *Store
	prefix  string
	clock   *clock
	srv     *httptest.Server
	engine  *gin.Engine
	logs    *syncBuffer
	mu      sync.Mutex
	events  []Event
	handler func(c *gin.Context) // set by tests for /hook
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t testing.TB, mutate func(*Config)) *harness {
	t.Helper()
	rdb, count := redistest.CountingClient(t)
	return newHarnessOn(t, rdb, count, redistest.Client(t), mutate)
}

// newHarnessOn builds the harness on a given client (a ClusterClient, say);
// count must be installed on rdb, and raw is used to inspect Redis.
func newHarnessOn(t testing.TB, rdb redis.UniversalClient, count *redistest.Counter, raw redis.UniversalClient, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, prefix: redistest.Prefix(t), clock: newClock(), logs: &syncBuffer{}}
	h.rdb, h.count, h.raw = rdb, count, raw
	cfg := Config{
		Secrets:   [][]byte{[]byte(testSecret)},
		KeyPrefix: h.prefix,
		Insecure:  true,
		Now:       h.clock.Now,
		Logger:    slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnEvent: func(e Event) {
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	st, err := NewStore(h.rdb, cfg)
	require.NoError(t, err)
	h.store = st
	// Load the scripts, as a running server has them after its first
	// request, so that round-trip counts do not depend on test order (a
	// first EVALSHA on a fresh server costs one more round trip, once).
	for _, s := range []*luaScript{loadScript, createScript, updateScript, indexScript, revokeScript, unindexScript, endScript} {
		require.NoError(t, h.raw.ScriptLoad(context.Background(), s.src).Err()) // on a ClusterClient: every master
	}
	h.engine = h.router(cookieName, st)
	h.srv = httptest.NewServer(h.engine)
	t.Cleanup(h.srv.Close)
	return h
}

// router serves the routes the tests drive.
func (h *harness) router(name string, st *Store) *gin.Engine {
	r := gin.New()
	_ = r.SetTrustedProxies(nil)
	r.Use(sessions.Sessions(name, st))
	r.GET("/get", func(c *gin.Context) {
		s := sessions.Default(c)
		c.JSON(http.StatusOK, gin.H{"value": s.Get(c.Query("k")), "id": s.ID()})
	})
	r.POST("/set", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set(c.Query("k"), c.Query("v"))
		saveOr500(c, s)
	})
	r.POST("/delete", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Delete(c.Query("k"))
		saveOr500(c, s)
	})
	r.POST("/destroy", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Options(sessions.Options{MaxAge: -1})
		saveOr500(c, s)
	})
	r.POST("/login", func(c *gin.Context) {
		var opts []LoginOption
		if c.Query("remember") == "1" {
			opts = append(opts, Remember())
		}
		if err := Login(c, c.Query("user"), opts...); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := Logout(c); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged out"})
	})
	r.Any("/hook", func(c *gin.Context) { h.handler(c) })
	api := r.Group("/api", RequireAuth())
	api.GET("/profile", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"userId": UserID(c)}) })
	api.GET("/fresh", RequireFreshAuth(time.Minute), func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) })
	api.GET("/sessions", func(c *gin.Context) {
		list, err := st.UserSessions(c.Request.Context(), UserID(c), sessions.Default(c).ID())
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
			return
		}
		c.JSON(http.StatusOK, list)
	})
	return r
}

func saveOr500(c *gin.Context, s sessions.Session) {
	if err := s.Save(); err != nil {
		c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

// clearAndSave is a handler that empties the request's session with
// session.Clear and saves it, answering 500 with the error.
func clearAndSave(c *gin.Context) {
	s := sessions.Default(c)
	s.Clear()
	saveOr500(c, s)
}

// reply is one HTTP exchange as the tests see it.
type reply struct {
	status     int
	body       string
	setCookies []string // raw Set-Cookie headers
	header     http.Header
}

// cookie returns the parsed Set-Cookie of the session cookie, or nil.
// It reports an unparsable Set-Cookie with t.Errorf, not require, since
// tests call it from goroutines too (through client.do).
func (r reply) cookie(t testing.TB) *http.Cookie {
	t.Helper()
	for _, raw := range r.setCookies {
		c, err := http.ParseSetCookie(raw)
		if err != nil {
			t.Errorf("unparsable Set-Cookie %q: %v", raw, err)
			continue
		}
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

// client is one browser: its User-Agent, its other headers and its cookie,
// copied by hand (no cookiejar, whose Secure handling on loopback varies).
type client struct {
	h       *harness
	ua      string
	headers map[string]string
	cookie  string
	http    *http.Client
}

func (h *harness) client(ua string) *client {
	return &client{h: h, ua: ua, headers: map[string]string{}, http: &http.Client{Timeout: 10 * time.Second}}
}

// do sends one request and returns the reply (status 0 when it could not
// be sent). It reports failures with t.Errorf, never require, which would
// call t.FailNow: tests call do from goroutines of their own.
func (c *client) do(method, path string) reply {
	c.h.t.Helper()
	req, err := http.NewRequest(method, c.h.srv.URL+path, nil)
	if err != nil {
		c.h.t.Errorf("%s %s: %v", method, path, err)
		return reply{}
	}
	req.Header.Set("User-Agent", c.ua)
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	if host := c.headers["Host"]; host != "" {
		req.Host = host // net/http sends req.Host, not a Host header
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", cookieName+"="+c.cookie)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.h.t.Errorf("%s %s: %v", method, path, err)
		return reply{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, body: string(b), setCookies: resp.Header.Values("Set-Cookie"), header: resp.Header}
	if ck := r.cookie(c.h.t); ck != nil {
		if ck.MaxAge < 0 {
			c.cookie = ""
		} else {
			c.cookie = ck.Value
		}
	}
	return r
}

// keyOf returns the Redis key of the session behind a cookie value.
func (h *harness) keyOf(cookieValue string) string {
	return h.prefix + atRestName(cookieValue[:idLen])
}

// sessionKeys returns every session key under the test's prefix (SCAN),
// leaving out indexes and tombstones (see endScript).
func (h *harness) sessionKeys() []string {
	h.t.Helper()
	var keys []string
	iter := h.raw.Scan(context.Background(), 0, h.prefix+"*", 100).Iterator()
	for iter.Next(context.Background()) {
		if strings.HasPrefix(iter.Val(), h.prefix+"u:") {
			continue
		}
		if tomb, err := h.raw.HExists(context.Background(), iter.Val(), "_t").Result(); err == nil && tomb {
			continue
		}
		keys = append(keys, iter.Val())
	}
	require.NoError(h.t, iter.Err())
	return keys
}

func (h *harness) exists(key string) bool {
	n, err := h.raw.Exists(context.Background(), key).Result()
	require.NoError(h.t, err)
	return n == 1
}

// isSession reports whether key holds a session (not a tombstone).
func (h *harness) isSession(key string) bool {
	ok, err := h.raw.HExists(context.Background(), key, metaCreated).Result()
	require.NoError(h.t, err)
	return ok
}

func (h *harness) eventsOf(t EventType) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, e := range h.events {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

func jsonField(t testing.TB, body, field string) any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), body)
	return m[field]
}

// concurrentSets sends n concurrent requests with the same session cookie,
// each setting its own key to value, then checks that every key holds
// value in Redis: field-level saves never lose a concurrent write.
func (h *harness) concurrentSets(cookie string, n int, value string) {
	h.t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := h.client(chromeWin)
			cl.cookie = cookie
			assert.Equal(h.t, http.StatusOK, cl.do("POST", fmt.Sprintf("/set?k=k%d&v=%s", i, value)).status)
		}()
	}
	wg.Wait()
	all, err := h.raw.HGetAll(context.Background(), h.keyOf(cookie)).Result()
	require.NoError(h.t, err)
	for i := range n {
		require.Equal(h.t, "s"+value, all[fmt.Sprintf("k%d", i)], "key %d", i)
	}
}

// atRestName returns the at-rest name of the session with ID id.
func atRestName(id string) string {
	name := atRest(id)
	return string(name[:])
}
