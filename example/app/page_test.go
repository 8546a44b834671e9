package app

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPageSecurityHeaders reads the raw headers of the page and of each
// asset it loads.
func TestPageSecurityHeaders(t *testing.T) {
	e := newTestEnv(t, nil)
	cases := []struct{ path, contentType string }{
		{"/", "text/html; charset=utf-8"},
		{"/assets/app.js", "text/javascript; charset=utf-8"},
		{"/assets/app.css", "text/css; charset=utf-8"},
		{"/assets/icon.svg", "image/svg+xml"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			r := e.do(http.MethodGet, tc.path, "")
			require.Equal(t, http.StatusOK, r.status, r.body)
			assert.Equal(t, tc.contentType, r.header.Get("Content-Type"))
			assert.Equal(t, []string{"default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"},
				r.header.Values("Content-Security-Policy"))
			assert.Equal(t, []string{"nosniff"}, r.header.Values("X-Content-Type-Options"))
			assert.Equal(t, []string{"no-referrer"}, r.header.Values("Referrer-Policy"))
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			assert.Empty(t, r.cookies, "serving the page starts no session")
			assert.NotEmpty(t, r.body)
		})
	}
	assert.Empty(t, e.sessionKeys())

	r := e.do(http.MethodGet, "/assets/secret.txt", "")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, errorBody("not found"), r.body)
	r = e.do(http.MethodGet, "/assets/..%2fpage.go", "")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.NotContains(t, r.body, "package app")
}

// TestPageHasNoInlineCodeOrExternalAssets: the CSP forbids inline script
// and style, so the page must not need them, and it loads nothing from
// another origin.
func TestPageHasNoInlineCodeOrExternalAssets(t *testing.T) {
	e := newTestEnv(t, nil)
	page := e.do(http.MethodGet, "/", "").body
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1)
	require.Equal(t, []string{`<script src="/assets/app.js" defer>`}, scripts)
	assert.Contains(t, page, `<script src="/assets/app.js" defer></script>`, "the script element is empty")
	assert.NotContains(t, page, "<style")
	assert.NotRegexp(t, `\sstyle=`, page)
	assert.NotRegexp(t, `\son[a-z]+=`, page, "no inline event handlers")
	assert.NotRegexp(t, `(src|href|action)="(https?:)?//`, page, "no other origin")
	assert.Contains(t, page, `<link rel="stylesheet" href="/assets/app.css">`)
	assert.Contains(t, page, `data-cookie="id"`)
	for _, id := range []string{"signup-form", "login-form", "sessions", "logout", "logout-others", "logout-all", "password-form", "delete-form"} {
		assert.Contains(t, page, `id="`+id+`"`)
	}
	js := e.do(http.MethodGet, "/assets/app.js", "").body
	for _, route := range []string{`"/signup"`, `"/login"`, `"/logout"`, `"/logout-others"`, `"/logout-all"`, `"/profile"`, `"/sessions"`, `"/password"`, `"/account"`} {
		assert.Contains(t, js, route, "the script calls %s", route)
	}
	assert.NotContains(t, js, "eval(")
	assert.NotContains(t, js, "innerHTML", "text from the server is set as text, never parsed as HTML")

	prod := newTestEnv(t, func(c *Config) { c.Env = EnvProduction })
	page = prod.do(http.MethodGet, "/", "").body
	assert.Contains(t, page, `data-cookie="__Host-id"`)
	assert.Contains(t, page, "Production mode")
}
