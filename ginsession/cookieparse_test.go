package ginsession

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unicodeSpaces are characters that strings.TrimSpace strips but browsers
// and net/http keep as part of a cookie name (a name with them is not a
// token, so net/http skips the cookie altogether).
var unicodeSpaces = []struct{ name, r string }{
	{"U+0085 next line", "\u0085"},
	{"U+00A0 no-break space", "\u00a0"},
	{"U+1680 ogham space", "\u1680"},
	{"U+2000 en quad", "\u2000"},
	{"U+2003 em space", "\u2003"},
	{"U+200A hair space", "\u200a"},
	{"U+2028 line separator", "\u2028"},
	{"U+2029 paragraph separator", "\u2029"},
	{"U+202F narrow no-break space", "\u202f"},
	{"U+205F math space", "\u205f"},
	{"U+3000 ideographic space", "\u3000"},
	{"vertical tab", "\v"},
	{"form feed", "\f"},
}

// TestCookieNameWithUnicodeSpaceIsAnotherCookie is the review's attack: a
// cookie whose name is the session cookie's name with a Unicode space in
// front, sent first, must not stand in for the real one. The victim's
// cookie comes second and is the one served.
func TestCookieNameWithUnicodeSpaceIsAnotherCookie(t *testing.T) {
	h := newHarness(t, nil)
	mallory := h.client(chromeWin)
	require.Equal(t, http.StatusOK, mallory.do("POST", "/login?user=mallory").status)
	victim := h.client(chromeWin)
	require.Equal(t, http.StatusOK, victim.do("POST", "/login?user=victim").status)
	for _, sp := range unicodeSpaces {
		for _, where := range []string{"before", "after"} {
			t.Run(sp.name+" "+where, func(t *testing.T) {
				planted := sp.r + cookieName
				if where == "after" {
					planted = cookieName + sp.r
				}
				// In process: Go's HTTP client refuses to send the control
				// characters among the vectors, a hand-written client does not.
				req := httptest.NewRequest("GET", "/api/profile", nil)
				req.Header.Set("User-Agent", chromeWin)
				req.Header.Set("Cookie", planted+"="+mallory.cookie+"; "+cookieName+"="+victim.cookie)
				w := httptest.NewRecorder()
				h.engine.ServeHTTP(w, req)
				assert.Equal(t, http.StatusOK, w.Code)
				assert.Equal(t, "victim", jsonField(t, w.Body.String(), "userId"), "the planted name is another cookie")

				// Alone, the planted cookie is no session cookie at all.
				req = httptest.NewRequest("GET", "/api/profile", nil)
				req.Header.Set("User-Agent", chromeWin)
				req.Header.Set("Cookie", planted+"="+mallory.cookie)
				w = httptest.NewRecorder()
				h.engine.ServeHTTP(w, req)
				assert.Equal(t, http.StatusUnauthorized, w.Code)
			})
		}
	}
}

// TestCookieValue checks cookieValue against the cookie
// parsing of net/http and of browsers: names match exactly after trimming
// ASCII space and tab only, invalid names and values are skipped, and of
// several cookies with the name the first valid one in header order wins.
func TestCookieValue(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string
		found   bool
	}{
		{"only", []string{"id=abc"}, "abc", true},
		{"among others", []string{"theme=dark; id=abc; lang=en"}, "abc", true},
		{"no spaces", []string{"a=1;id=abc;b=2"}, "abc", true},
		{"ASCII spaces and tabs around a name are trimmed", []string{"a=1; \t id \t=abc \t; b=2"}, "abc", true},
		{"a longer name is another cookie", []string{"xid=nope; idx=nope; id=abc"}, "abc", true},
		{"names are case-sensitive", []string{"ID=nope; Id=nope; id=abc"}, "abc", true},
		// Browsers send the cookie with the longer Path first, then the
		// older one (RFC 6265 section 5.4): the first is the most specific.
		{"first of two (browser order: longer Path, then older)", []string{"id=first; id=second"}, "first", true},
		{"first of two headers (HTTP/2 splits cookies)", []string{"id=first", "id=second"}, "first", true},
		{"second header", []string{"a=1", "id=abc"}, "abc", true},
		{"quoted", []string{`id="abc"`}, "abc", true},
		{"invalid value skipped for the next", []string{`id=a"b; id=abc`}, "abc", true},
		{"invalid name skipped", []string{"i d=nope; id=abc"}, "abc", true},
		{"empty value", []string{"id="}, "", true},
		{"name without value", []string{"id"}, "", true},
		{"missing", []string{"a=1; b=2"}, "", false},
		{"no header", nil, "", false},
	}
	for _, sp := range unicodeSpaces {
		tests = append(tests,
			struct {
				name    string
				headers []string
				want    string
				found   bool
			}{"planted " + sp.name, []string{sp.r + "id=mallory; id=victim"}, "victim", true},
			struct {
				name    string
				headers []string
				want    string
				found   bool
			}{"only planted " + sp.name, []string{"id" + sp.r + "=mallory"}, "", false},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range tc.headers {
				r.Header.Add("Cookie", h)
			}
			got, found := cookieValue(r, "id")
			assert.Equal(t, tc.found, found)
			assert.Equal(t, tc.want, got)
			c, err := r.Cookie("id")
			if assert.Equal(t, tc.found, err == nil, "agrees with net/http") && found {
				assert.Equal(t, c.Value, got, "agrees with net/http")
			}
		})
	}
}
