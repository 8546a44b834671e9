package ginsession

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The start of the warnings' messages, as they appear in the JSON log.
const (
	plainHTTPWarning  = "a Secure session cookie was sent over plain http"
	cookieNameWarning = "is not Config.CookieName"
)

// issueCookies sends the requests that set a live session's cookie: two
// logins, a save that creates an anonymous session, and a login over it.
func issueCookies(t *testing.T, h *harness, headers map[string]string) {
	t.Helper()
	browser := func() *client {
		c := h.client(chromeWin)
		for k, v := range headers {
			c.headers[k] = v
		}
		if h.srv.TLS != nil {
			c.http = h.srv.Client()
		}
		return c
	}
	for range 2 {
		c := browser()
		require.Equal(t, http.StatusOK, c.do("POST", "/login?user=una").status)
		require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
		anon := browser()
		r := anon.do("POST", "/set?k=cart&v=1")
		require.Equal(t, http.StatusOK, r.status)
		require.NotNil(t, r.cookie(t), "Save created a session")
		require.Equal(t, http.StatusOK, anon.do("POST", "/login?user=una").status)
		assert.NotContains(t, h.logs.String(), c.cookie[:idLen])
	}
}

// TestPlainHTTPWarning checks that a Secure cookie issued on a plain-http
// request for a name browsers do not treat as secure is logged at Warn,
// once per Store over several cookie-issuing requests, and that https,
// loopback names, a proxy that says https, and Insecure are not.
func TestPlainHTTPWarning(t *testing.T) {
	cases := []struct {
		name     string
		insecure bool
		tls      bool
		headers  map[string]string
		want     int
	}{
		{"plain http on a public name", false, false, map[string]string{"Host": "app.example:8080"}, 1},
		{"plain http on an address", false, false, map[string]string{"Host": "192.0.2.10"}, 1},
		{"a proxy says http", false, false, map[string]string{"Host": "app.example", "X-Forwarded-Proto": "http"}, 1},
		{"a loopback proxy says https", false, false, map[string]string{"Host": "app.example", "X-Forwarded-Proto": "https"}, 0},
		{"https", false, true, map[string]string{"Host": "app.example"}, 0},
		{"localhost", false, false, map[string]string{"Host": "localhost:8080"}, 0},
		{"a name under .localhost", false, false, map[string]string{"Host": "app.localhost"}, 0},
		{"127.0.0.1", false, false, nil, 0},
		{"::1", false, false, map[string]string{"Host": "[::1]:8080"}, 0},
		{"Insecure", true, false, map[string]string{"Host": "app.example"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Insecure = tc.insecure })
			if tc.tls {
				h.srv.Close()
				h.srv = httptest.NewTLSServer(h.engine)
				t.Cleanup(h.srv.Close)
			}
			issueCookies(t, h, tc.headers)
			logs := h.logs.String()
			assert.Equal(t, tc.want, strings.Count(logs, plainHTTPWarning), logs)
			if tc.want > 0 {
				assert.Contains(t, logs, `"level":"WARN"`)
				assert.Contains(t, logs, "serve the application over https")
				assert.Contains(t, logs, "Config.Insecure")
			}
		})
	}
}

// TestPlainHTTPWarningBelievesGinsTrustedProxies sends requests from a
// public peer address with X-Forwarded-Proto: https. Login believes the
// header when Gin trusts the peer as a proxy, and warns when it does not;
// Save, which gets no gin.Context, believes it only from a loopback or
// private address.
func TestPlainHTTPWarningBelievesGinsTrustedProxies(t *testing.T) {
	cases := []struct {
		name    string
		trusted []string
		path    string
		want    int
	}{
		{"Login behind a proxy Gin trusts", []string{"203.0.113.0/24"}, "/login?user=una", 0},
		{"Login behind a proxy Gin does not trust", nil, "/login?user=una", 1},
		{"Save from a public address", []string{"203.0.113.0/24"}, "/set?k=cart&v=1", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Insecure = false })
			engine := h.router(cookieName, h.store)
			require.NoError(t, engine.SetTrustedProxies(tc.trusted))
			for range 3 {
				req := httptest.NewRequest("POST", tc.path, nil)
				req.Host = "app.example"
				req.RemoteAddr = "203.0.113.5:40000"
				req.Header.Set("User-Agent", chromeWin)
				req.Header.Set("X-Forwarded-Proto", "https")
				req.Header.Set("X-Forwarded-For", "198.51.100.7")
				w := httptest.NewRecorder()
				engine.ServeHTTP(w, req)
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				require.NotEmpty(t, w.Header().Values("Set-Cookie"))
			}
			assert.Equal(t, tc.want, strings.Count(h.logs.String(), plainHTTPWarning))
		})
	}
}

// TestPlainHTTPWarningOnResign checks the third way a live session's
// cookie is set: RequireAuth re-signing, after a key rotation, a cookie
// that an older secret signed.
func TestPlainHTTPWarningOnResign(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Insecure = false })
	c := h.login(chromeWin, "una") // on 127.0.0.1: no warning
	require.NotContains(t, h.logs.String(), plainHTTPWarning)
	logs := &syncBuffer{}
	st, err := NewStore(h.rdb, Config{Secrets: [][]byte{[]byte("the newer secret, 32 bytes or longer"), []byte(testSecret)},
		KeyPrefix: h.prefix, Now: h.clock.Now, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	r := gin.New()
	r.Use(sessions.Sessions(cookieName, st))
	r.GET("/p", RequireAuth(), func(c *gin.Context) { c.String(http.StatusOK, UserID(c)) })
	req := httptest.NewRequest("GET", "/p", nil) // Host example.com, from 192.0.2.1
	req.Header.Set("User-Agent", chromeWin)
	req.Header.Set("Cookie", cookieName+"="+c.cookie)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code)
	ck, err := http.ParseSetCookie(w.Header().Get("Set-Cookie"))
	require.NoError(t, err)
	assert.True(t, ck.Secure)
	assert.Equal(t, 1, strings.Count(logs.String(), plainHTTPWarning))
	assert.NotContains(t, logs.String(), c.cookie[:idLen])
	assert.NotContains(t, logs.String(), ck.Value[:idLen])
}

// TestCookieNameWarning checks that a Config.CookieName other than the
// name given to sessions.Sessions is logged once over several requests,
// naming both, and that a matching name is not.
func TestCookieNameWarning(t *testing.T) {
	for _, tc := range []struct {
		configured string
		want       int
	}{{"other", 1}, {cookieName, 0}} {
		t.Run(tc.configured, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.CookieName = tc.configured })
			c := h.login(chromeWin, "una")
			for range 3 {
				require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
			}
			logs := h.logs.String()
			assert.Equal(t, tc.want, strings.Count(logs, cookieNameWarning), logs)
			if tc.want > 0 {
				assert.Contains(t, logs, `"name":"id","config_cookie_name":"other"`)
			}
		})
	}
}
