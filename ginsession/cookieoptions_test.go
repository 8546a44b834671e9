package ginsession

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// optionCase is one case of TestCookieOptionsTable. row is the row of the
// table in docs/cookie-options.md it proves: "Option|Set via".
type optionCase struct {
	row   string
	name  string
	cfg   func(*Config)     // on top of a Secure harness
	store *sessions.Options // passed to store.Options
	req   *sessions.Options // passed to session.Options in the handler
	check func(t *testing.T, ck *http.Cookie, raw string)
	warn  string             // the option warned about, with its source, or ""
	run   func(t *testing.T) // instead of the request, for startup checks
}

func optionCases() []optionCase {
	lax, none, dflt := http.SameSiteLaxMode, http.SameSiteNoneMode, http.SameSiteDefaultMode
	has := func(attr string) func(*testing.T, *http.Cookie, string) {
		return func(t *testing.T, _ *http.Cookie, raw string) { assert.Contains(t, raw, attr) }
	}
	lacks := func(attr string) func(*testing.T, *http.Cookie, string) {
		return func(t *testing.T, _ *http.Cookie, raw string) { assert.NotContains(t, raw, attr) }
	}
	all := func(fs ...func(*testing.T, *http.Cookie, string)) func(*testing.T, *http.Cookie, string) {
		return func(t *testing.T, ck *http.Cookie, raw string) {
			for _, f := range fs {
				f(t, ck, raw)
			}
		}
	}
	maxAge := func(n int) func(*testing.T, *http.Cookie, string) {
		return func(t *testing.T, ck *http.Cookie, _ string) { assert.Equal(t, n, ck.MaxAge) }
	}
	insecure := func(c *Config) { c.Insecure = true }
	return []optionCase{
		{row: "HttpOnly|Config", name: "default", check: has("; HttpOnly")},
		{row: "HttpOnly|store.Options", name: "false ignored", store: &sessions.Options{HttpOnly: false, MaxAge: 60}, check: all(has("; HttpOnly"), maxAge(60))},
		{row: "HttpOnly|session.Options", name: "false ignored", req: &sessions.Options{HttpOnly: false, MaxAge: 60}, check: all(has("; HttpOnly"), maxAge(60))},

		{row: "Secure|Config", name: "default", check: has("; Secure")},
		{row: "Secure|Config", name: "Insecure", cfg: insecure, check: lacks("Secure")},
		{row: "Secure|store.Options", name: "false ignored", store: &sessions.Options{Secure: false, MaxAge: 60}, check: has("; Secure")},
		{row: "Secure|store.Options", name: "true with Insecure", cfg: insecure, store: &sessions.Options{Secure: true}, check: has("; Secure")},
		{row: "Secure|session.Options", name: "false ignored", req: &sessions.Options{Secure: false, MaxAge: 60}, check: has("; Secure")},
		{row: "Secure|session.Options", name: "true with Insecure", cfg: insecure, req: &sessions.Options{Secure: true}, check: has("; Secure")},

		{row: "SameSite|Config", name: "Strict by default", check: has("; SameSite=Strict")},
		{row: "SameSite|Config", name: "Lax", cfg: func(c *Config) { c.SameSite = lax }, check: has("; SameSite=Lax")},
		{row: "SameSite|Config", name: "None refused", run: newStoreFails(func(c *Config) { c.SameSite = none }, "SameSite=None is refused")},
		{row: "SameSite|Config", name: "default mode refused", run: newStoreFails(func(c *Config) { c.SameSite = dflt }, "SameSite must be")},
		{row: "SameSite|store.Options", name: "Lax keeps Max-Age", store: &sessions.Options{SameSite: lax}, check: all(has("; SameSite=Lax"), maxAge(86400))},
		{row: "SameSite|store.Options", name: "None dropped", store: &sessions.Options{SameSite: none}, check: has("; SameSite=Strict"), warn: "store.Options SameSite"},
		{row: "SameSite|store.Options", name: "default mode dropped", store: &sessions.Options{SameSite: dflt}, check: has("; SameSite=Strict"), warn: "store.Options SameSite"},
		{row: "SameSite|session.Options", name: "Lax from Strict dropped", req: &sessions.Options{SameSite: lax}, check: has("; SameSite=Strict"), warn: "session.Options SameSite"},
		{row: "SameSite|session.Options", name: "None dropped", req: &sessions.Options{SameSite: none}, check: has("; SameSite=Strict"), warn: "session.Options SameSite"},
		{row: "SameSite|session.Options", name: "default mode dropped", cfg: func(c *Config) { c.SameSite = lax }, req: &sessions.Options{SameSite: dflt}, check: has("; SameSite=Lax"), warn: "session.Options SameSite"},
		{row: "SameSite|session.Options", name: "Strict from Lax taken", cfg: func(c *Config) { c.SameSite = lax }, req: &sessions.Options{SameSite: http.SameSiteStrictMode}, check: has("; SameSite=Strict")},
		{row: "SameSite|session.Options", name: "Lax on a Lax store", cfg: func(c *Config) { c.SameSite = lax }, req: &sessions.Options{SameSite: lax, MaxAge: 60}, check: all(has("; SameSite=Lax"), maxAge(60))},

		{row: "Domain|Config", name: "none by default", check: lacks("Domain=")},
		{row: "Domain|Config", name: "set", cfg: func(c *Config) { c.Domain = "example.test" }, check: has("; Domain=example.test")},
		{row: "Domain|store.Options", name: "taken", store: &sessions.Options{Domain: "example.test"}, check: all(has("; Domain=example.test"), maxAge(86400))},
		{row: "Domain|session.Options", name: "widening dropped", req: &sessions.Options{Domain: "example.test", MaxAge: 60}, check: all(lacks("Domain="), maxAge(60)), warn: "session.Options Domain"},
		{row: "Domain|session.Options", name: "another dropped", cfg: func(c *Config) { c.Domain = "app.example.test" }, req: &sessions.Options{Domain: "example.test"}, check: has("; Domain=app.example.test"), warn: "session.Options Domain"},
		{row: "Domain|session.Options", name: "the store's own", cfg: func(c *Config) { c.Domain = "example.test" }, req: &sessions.Options{Domain: "example.test", MaxAge: 60}, check: all(has("; Domain=example.test"), maxAge(60))},

		{row: "Path|Config", name: "slash", check: has("; Path=/;")},
		{row: "Path|store.Options", name: "taken", store: &sessions.Options{Path: "/app"}, check: all(has("; Path=/app"), maxAge(86400))},
		{row: "Path|session.Options", name: "below the store's taken", store: &sessions.Options{Path: "/app"}, req: &sessions.Options{Path: "/app/admin"}, check: has("; Path=/app/admin")},
		{row: "Path|session.Options", name: "outside the store's dropped", store: &sessions.Options{Path: "/app"}, req: &sessions.Options{Path: "/"}, check: has("; Path=/app;"), warn: "session.Options Path"},
		{row: "Path|session.Options", name: "a prefix that is not a parent dropped", store: &sessions.Options{Path: "/app"}, req: &sessions.Options{Path: "/application"}, check: has("; Path=/app;"), warn: "session.Options Path"},

		{row: "Max-Age|Config", name: "absolute timeout", check: maxAge(86400)},
		{row: "Max-Age|Config", name: "browser-session cookie", cfg: func(c *Config) { c.BrowserSessionCookie = true }, check: all(maxAge(0), lacks("Max-Age"), lacks("Expires"))},
		{row: "Max-Age|store.Options", name: "taken", store: &sessions.Options{MaxAge: 600}, check: maxAge(600)},
		{row: "Max-Age|store.Options", name: "capped at the absolute timeout", store: &sessions.Options{MaxAge: 7 * 86400}, check: maxAge(86400)},
		{row: "Max-Age|store.Options", name: "0 keeps it", store: &sessions.Options{MaxAge: 0, Path: "/"}, check: maxAge(86400)},
		{row: "Max-Age|store.Options", name: "negative ignored", store: &sessions.Options{MaxAge: -1}, check: maxAge(86400)},
		{row: "Max-Age|store.Options", name: "persistent on a browser-session store", cfg: func(c *Config) { c.BrowserSessionCookie = true }, store: &sessions.Options{MaxAge: 600}, check: maxAge(600)},
		{row: "Max-Age|session.Options", name: "shorter taken", req: &sessions.Options{MaxAge: 60}, check: maxAge(60)},
		{row: "Max-Age|session.Options", name: "longer dropped", req: &sessions.Options{MaxAge: 2 * 86400}, check: maxAge(86400), warn: "session.Options MaxAge"},
		{row: "Max-Age|session.Options", name: "on a browser-session cookie dropped", cfg: func(c *Config) { c.BrowserSessionCookie = true }, req: &sessions.Options{MaxAge: 60}, check: lacks("Max-Age"), warn: "session.Options MaxAge"},
		{row: "Max-Age|session.Options", name: "0 keeps the store's", req: &sessions.Options{MaxAge: 0, Path: "/"}, check: maxAge(86400)},
		{row: "Max-Age|session.Options", name: "negative destroys", run: testNegativeMaxAgeDestroys},

		{row: "Cookie name|Config", name: "checked by NewStore", run: testCookieNameInConfig},
		{row: "Cookie name|store.Options", name: "panics when it breaks the name", run: testStoreOptionsBreakingTheName},
		{row: "Cookie name|sessions.Sessions", name: "an unchecked name fails at its first request", run: testUncheckedCookieName},
	}
}

// TestCookieOptionsTable proves each row of the table in
// docs/cookie-options.md: for every option and every place it can be set
// (Config, store.Options, session.Options), the Set-Cookie the browser
// gets, and the once-per-Store warning for what request code may not have.
func TestCookieOptionsTable(t *testing.T) {
	for _, tc := range optionCases() {
		t.Run(tc.row+"/"+tc.name, func(t *testing.T) {
			if tc.run != nil {
				tc.run(t)
				return
			}
			h := newHarness(t, func(c *Config) {
				c.Insecure = false
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			if tc.store != nil {
				h.store.Options(*tc.store)
			}
			h.handler = func(c *gin.Context) {
				s := sessions.Default(c)
				s.Set("a", 1)
				if tc.req != nil {
					s.Options(*tc.req)
				}
				saveOr500(c, s)
			}
			for i := range 2 { // twice: the warning comes once
				r := h.client(chromeWin).do("POST", "/hook")
				require.Equal(t, http.StatusOK, r.status, r.body)
				require.Len(t, r.setCookies, 1)
				ck := r.cookie(t)
				require.NotNil(t, ck)
				assert.Len(t, ck.Value, cookieLen, "request %d", i)
				tc.check(t, ck, r.setCookies[0])
			}
			logs := h.logs.String()
			const msg = "ginsession: cookie option dropped"
			if tc.warn == "" {
				assert.NotContains(t, logs, msg)
				return
			}
			source, opt, _ := strings.Cut(tc.warn, " ")
			assert.Equal(t, 1, strings.Count(logs, msg), "once per Store and option: %s", logs)
			assert.Contains(t, logs, `"level":"WARN","msg":"`+msg)
			assert.Contains(t, logs, `"source":"`+source+`","option":"`+opt+`"`)
		})
	}
}

// TestCookieOptionsDocMatchesTheTests checks that every row of the table in
// docs/cookie-options.md has a case in TestCookieOptionsTable, and every
// case a row.
func TestCookieOptionsDocMatchesTheTests(t *testing.T) {
	doc, err := os.ReadFile("../docs/cookie-options.md")
	require.NoError(t, err)
	rows := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.TrimSpace(cells[1]) == "Option" || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		rows[strings.TrimSpace(cells[1])+"|"+strings.TrimSpace(cells[2])] = true
	}
	require.NotEmpty(t, rows)
	tested := map[string]bool{}
	for _, tc := range optionCases() {
		tested[tc.row] = true
		assert.True(t, rows[tc.row], "case %q has no row in docs/cookie-options.md", tc.row)
	}
	for row := range rows {
		assert.True(t, tested[row], "row %q of docs/cookie-options.md has no case", row)
	}
}

func newStoreFails(mutate func(*Config), msg string) func(*testing.T) {
	return func(t *testing.T) {
		cfg := Config{Secrets: [][]byte{[]byte(testSecret)}}
		mutate(&cfg)
		s, err := NewStore(redistest.Client(t), cfg)
		assert.Nil(t, s)
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), msg)
	}
}

func testNegativeMaxAgeDestroys(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=a&v=1").status)
	key := h.keyOf(c.cookie)
	require.True(t, h.exists(key))
	r := c.do("POST", "/destroy") // session.Options(sessions.Options{MaxAge: -1}) and Save
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.False(t, h.isSession(key), "the Redis key is deleted")
	require.Len(t, r.setCookies, 1)
	assert.Contains(t, r.setCookies[0], "Max-Age=0")
	assert.NotContains(t, h.logs.String(), "cookie option dropped")
}

func testCookieNameInConfig(t *testing.T) {
	rdb := redistest.Client(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"__Host- with Insecure", Config{CookieName: "__Host-id", Insecure: true}, `cookie name "__Host-id" needs Secure, Path=/ and no Domain (Insecure is true, Path "/", Domain ""); for plain-http development, use a name without the prefix, such as "id", in sessions.Sessions (and Config.CookieName)`},
		{"__Host- with a Domain", Config{CookieName: "__Host-id", Domain: "example.test"}, `Domain "example.test"`},
		{"__host- in any case", Config{CookieName: "__host-id", Insecure: true}, "needs Secure"},
		{"__Secure- with Insecure", Config{CookieName: "__Secure-sid", Insecure: true}, `cookie name "__Secure-sid" needs Secure; Insecure is set; for plain-http development, use a name without the prefix, such as "sid"`},
	} {
		tc.cfg.Secrets = [][]byte{[]byte(testSecret)}
		s, err := NewStore(rdb, tc.cfg)
		assert.Nil(t, s, tc.name)
		require.ErrorIs(t, err, ErrConfig, tc.name)
		assert.Contains(t, err.Error(), tc.msg, tc.name)
	}
	// The plain-http hint is for Insecure only: a Domain is not fixed by
	// dropping the prefix's Secure requirement.
	_, err := NewStore(rdb, Config{Secrets: [][]byte{[]byte(testSecret)}, CookieName: "__Host-id", Domain: "example.test"})
	require.ErrorIs(t, err, ErrConfig)
	assert.NotContains(t, err.Error(), "plain-http")
	for _, cfg := range []Config{
		{CookieName: "__Host-id"},
		{CookieName: "__Secure-id", Domain: "example.test"},
		{CookieName: "id", Insecure: true},
	} {
		cfg.Secrets = [][]byte{[]byte(testSecret)}
		_, err := NewStore(rdb, cfg)
		assert.NoError(t, err, cfg.CookieName)
	}
}

func testStoreOptionsBreakingTheName(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Insecure, c.CookieName = false, "__Host-id" })
	for _, o := range []sessions.Options{{Domain: "example.test"}, {Path: "/app"}} {
		func() {
			defer func() {
				err, _ := recover().(error)
				require.ErrorIs(t, err, ErrConfig, "store.Options(%+v) panics", o)
				assert.Contains(t, err.Error(), `cookie name "__Host-id" needs Secure, Path=/ and no Domain`)
			}()
			h.store.Options(o)
		}()
	}
	assert.Equal(t, defaultOptions(&h.store.cfg), h.store.defaults(), "the refused options are not applied")
	assert.NotPanics(t, func() { h.store.Options(sessions.Options{SameSite: http.SameSiteLaxMode, MaxAge: 3600}) })
}

func testUncheckedCookieName(t *testing.T) {
	get := func(s *Store, name string) error {
		_, err := s.Get(httptest.NewRequest("GET", "/", nil), name)
		return err
	}
	h := newHarness(t, nil) // Insecure
	assert.ErrorIs(t, get(h.store, "__Host-id"), ErrConfig)
	assert.ErrorIs(t, get(h.store, "__Secure-id"), ErrConfig)
	assert.NoError(t, get(h.store, "id"))
	secure := newHarness(t, func(c *Config) { c.Insecure = false })
	assert.NoError(t, get(secure.store, "__Host-id"))
	secure.store.Options(sessions.Options{Domain: "example.test"}) // no Config.CookieName: allowed
	assert.ErrorIs(t, get(secure.store, "__Host-id"), ErrConfig, "checks the current options")
}
