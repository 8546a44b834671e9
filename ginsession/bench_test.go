package ginsession

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// benchApp is a store and router for benchmarks, driven in-process so the
// numbers are the library's cost, not the network's.
func benchApp(b *testing.B) (*harness, http.Handler, string) {
	b.Helper()
	rdb := redistest.Client(b) // no counting hook: it allocates
	h := newHarnessOn(b, rdb, &redistest.Counter{}, rdb, func(c *Config) { c.Logger = discardLogger })
	c := h.login(chromeWin, "user-1234")
	require.Equal(b, http.StatusOK, c.do("POST", "/set?k=cart&v=3").status)
	return h, h.engine, c.cookie
}

// benchRequest returns a request whose context is cancelled, as a server's
// is, when the returned function is called after ServeHTTP.
func benchRequest(method, path, cookie string) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, method, path, nil)
	req.Header.Set("User-Agent", chromeWin)
	req.Header.Set("Cookie", cookieName+"="+cookie)
	return req, cancel
}

func serve(app http.Handler, method, path, cookie string) *httptest.ResponseRecorder {
	req, done := benchRequest(method, path, cookie)
	defer done()
	w := httptest.NewRecorder()
	app.ServeHTTP(w, req)
	return w
}

// BenchmarkGuardedRead is a request through RequireAuth: cookie check, one
// Redis round trip that loads the session and slides its expiry, timeout and
// fingerprint checks.
func BenchmarkGuardedRead(b *testing.B) {
	_, app, cookie := benchApp(b)
	b.ReportAllocs()
	for b.Loop() {
		w := serve(app, "GET", "/api/profile", cookie)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

// BenchmarkGuardedReadParallel is BenchmarkGuardedRead from 4 goroutines
// per CPU, all on one session.
func BenchmarkGuardedReadParallel(b *testing.B) {
	_, app, cookie := benchApp(b)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := serve(app, "GET", "/api/profile", cookie)
			if w.Code != http.StatusOK {
				b.Error(w.Code)
				return
			}
		}
	})
}

// BenchmarkLoadAndRead is sessions.Default(c).Get on an existing session.
func BenchmarkLoadAndRead(b *testing.B) {
	_, app, cookie := benchApp(b)
	b.ReportAllocs()
	for b.Loop() {
		w := serve(app, "GET", "/get?k=cart", cookie)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkSave loads a session and saves one changed value: two round trips.
func BenchmarkSave(b *testing.B) {
	h, app, cookie := benchApp(b)
	h.handler = func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("n").(int)
		s.Set("n", n+1)
		if err := s.Save(); err != nil {
			c.Status(http.StatusInternalServerError)
			return
		}
		c.Status(http.StatusNoContent)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := serve(app, "POST", "/hook", cookie)
		if w.Code != http.StatusNoContent {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkLogin is a login on a request without a session: one round trip.
// Each user logs in at most DefaultMaxSessionsPerUser times, so no login
// goes beyond the cap.
func BenchmarkLogin(b *testing.B) {
	_, app, _ := benchApp(b)
	benchLogins(b, app, func(i int) string { return "bench-" + strconv.Itoa(i/DefaultMaxSessionsPerUser) })
}

// BenchmarkLoginBeyondCap is a login of a user who already has
// DefaultMaxSessionsPerUser sessions: Login ends the oldest, in three round
// trips.
func BenchmarkLoginBeyondCap(b *testing.B) {
	_, app, _ := benchApp(b)
	for range DefaultMaxSessionsPerUser {
		require.Equal(b, http.StatusOK, serve(app, "POST", "/login?user=bench-cap", "").Code)
	}
	benchLogins(b, app, func(int) string { return "bench-cap" })
}

func benchLogins(b *testing.B, app http.Handler, user func(i int) string) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/login?user="+user(i), nil)
		req.Header.Set("User-Agent", chromeWin)
		app.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
		i++
	}
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkCookieValue is finding the session cookie in a Cookie header
// that also carries a few other cookies, as a browser sends it.
func BenchmarkCookieValue(b *testing.B) {
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "theme=dark; lang=en-GB; "+cookieName+"="+strings.Repeat("A", idLen)+"."+strings.Repeat("B", idLen)+"; _ga=GA1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := cookieValue(req, cookieName); !ok {
			b.Fatal("not found")
		}
	}
}
