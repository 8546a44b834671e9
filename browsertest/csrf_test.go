package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attackPage is a page of another origin that tries to change state in
// the application at %[1]s (a JavaScript string) / %[2]s (an HTML
// attribute) with every request a page can send without a CORS preflight:
// fetch with mode no-cors, a text/plain form (twice: one body shaped like
// the JSON of /signup), and navigator.sendBeacon; and one fetch that needs
// a preflight. It sets its title to "done" when all have been sent.
const attackPage = `<!doctype html>
<title>attacking</title>
<iframe name="f1"></iframe><iframe name="f2"></iframe>
<form id="signup" method="post" enctype="text/plain" target="f1" action="%[2]s/signup"><input name='{"email":"csrf-form@example.com","password":"csrf password 123","x":"' value='"}'></form>
<form id="logoutall" method="post" enctype="text/plain" target="f2" action="%[2]s/logout-all"><input name="x" value="y"></form>
<script>
(async () => {
  const t = %[1]s;
  const sent = [
    fetch(t + "/logout-all", {method: "POST", mode: "no-cors", credentials: "include", body: "{}"}),
    fetch(t + "/signup", {method: "POST", mode: "no-cors", credentials: "include",
      headers: {"Content-Type": "text/plain"},
      body: JSON.stringify({email: "csrf-fetch@example.com", password: "csrf password 123"})}),
    fetch(t + "/logout-all", {method: "POST", mode: "cors", credentials: "include",
      headers: {"Content-Type": "application/json"}, body: "{}"}),
  ].map(p => p.catch(() => {}));
  navigator.sendBeacon(t + "/logout-all", "{}");
  const loaded = name => new Promise(r => document.querySelector("iframe[name=" + name + "]").addEventListener("load", r, {once: true}));
  const frames = Promise.all([loaded("f1"), loaded("f2")]);
  document.getElementById("signup").submit();
  document.getElementById("logoutall").submit();
  await Promise.all(sent);
  await Promise.race([frames, new Promise(r => setTimeout(r, 5000))]);
  document.title = "done";
})();
</script>`

// otherSite serves the pages of the other origins: /attack?target=URL
// (attackPage), /link?to=URL (a page with a link to URL) and
// /set?name=N[&domain=D] (sets the cookie N=1 for an hour, with Domain=D
// when given).
func otherSite(t *testing.T, tls bool) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /attack", func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("target")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, attackPage, js(target), target)
	})
	mux.HandleFunc("GET /link", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>link</title><a id="go" href="%s">the application</a>`, r.URL.Query().Get("to"))
	})
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		c := &http.Cookie{Name: r.URL.Query().Get("name"), Value: "1", Path: "/", MaxAge: 3600,
			Domain: r.URL.Query().Get("domain"), SameSite: http.SameSiteLaxMode}
		http.SetCookie(w, c)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>set</title>")
	})
	srv := httptest.NewUnstartedServer(mux)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestCSRFFromOtherOrigins: a logged-in user visits pages of another site,
// of a sibling subdomain (same site) and of the application's own host on
// another port (same site, another origin), each of which fires every
// request a page can send cross-origin. All reach the server, none changes
// anything: the user stays logged in and no account is created. In
// development over http and in production over https, where Chromium also
// sends Sec-Fetch-Site.
func TestCSRFFromOtherOrigins(t *testing.T) {
	for _, mode := range []struct {
		name   string
		https  bool
		cookie string
	}{
		{"development over http", false, "id"},
		{"production over https", true, "__Host-id"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.https, mode.https)
			other := otherSite(t, mode.https)
			ctx := e.device("victim", "")
			e.signUp(ctx, "victim@example.com", "victim's password", true)
			require.Len(t, e.sessionKeys(), 1)
			require.NotNil(t, e.cookie(ctx, mode.cookie, appHost))

			cases := []struct {
				name, host string
				site       string // the Sec-Fetch-Site Chromium sends over https
				cookie     bool   // whether the Strict session cookie goes along
			}{
				{"another site", otherHost, "cross-site", false},
				{"a sibling subdomain", siblingHost, "same-site", true},
				{"the same host on another port", appHost, "same-site", true},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					origin := e.urlFor(other, tc.host)
					e.open(ctx, e.base+"/") // start from the application, as a user would
					require.NoError(t, runNavigate(ctx, origin+"/attack?target="+e.base))
					e.waitFor(ctx, `document.title === "done"`)
					// fetch, the forms and the beacon: five POSTs and one preflight.
					hits := e.waitHits(origin, 6)
					posts := 0
					for _, h := range hits {
						switch h.Method {
						case http.MethodPost:
							posts++
							assert.Equal(t, http.StatusForbidden, h.Status, "%s %s (%s)", h.Method, h.Path, h.ContentType)
							assert.NotEqual(t, "application/json", h.ContentType, "a JSON POST passed the preflight")
							assert.Equal(t, tc.cookie, h.Cookie, "session cookie on %s %s", h.Method, h.Path)
							if mode.https {
								assert.Equal(t, tc.site, h.SecFetchSite, "%s %s", h.Method, h.Path)
							} else {
								// Chromium sends Sec-Fetch-* only to trustworthy
								// origins (https, localhost): over plain http the
								// Origin header is the only sign of where a
								// request came from.
								assert.Empty(t, h.SecFetchSite, "%s %s", h.Method, h.Path)
							}
						case http.MethodOptions:
							assert.GreaterOrEqual(t, h.Status, 400, "the preflight is not answered")
						default:
							t.Errorf("unexpected %s %s from %s", h.Method, h.Path, origin)
						}
					}
					assert.Equal(t, 5, posts, "POSTs from %s", origin)
					t.Logf("%d requests from %s reached the application: %+v", len(hits), origin, hits)

					// Nothing changed: still logged in, no account created.
					e.open(ctx, e.base+"/")
					e.waitState(ctx, "user")
					assert.Len(t, e.sessionKeys(), 1)
					for _, email := range []string{"csrf-form@example.com", "csrf-fetch@example.com"} {
						taken, err := e.rdb.HExists(t.Context(), e.prefix+"app:email", email).Result()
						require.NoError(t, err)
						assert.False(t, taken, "%s was signed up", email)
					}
				})
			}
		})
	}
}

// waitHits waits until the application has seen n requests from origin,
// for at most actionTimeout (a beacon is sent in the background), then
// gives the browser a moment for any request still in flight.
func (e *env) waitHits(origin string, n int) []hit {
	e.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for len(e.rec.from(origin)) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	hits := e.rec.from(origin)
	require.GreaterOrEqual(e.t, len(hits), n, "requests from %s that reached the application: %+v", origin, hits)
	return hits
}

// TestUserAgentSwitchEndsTheSession: the same cookie from a browser that
// now says it is Firefox gets 401, and the session is deleted in Redis.
func TestUserAgentSwitchEndsTheSession(t *testing.T) {
	e := newEnv(t, false, false)
	ctx := e.device("browser", "")
	e.signUp(ctx, "switch@example.com", "switch's password", true)
	require.Len(t, e.sessionKeys(), 1)

	e.setUA(ctx, firefoxUA)
	got := eval[string](e, ctx, `fetch("/profile").then(async r => r.status + " " + await r.text())`)
	assert.Equal(t, `401 {"error":"session invalid"}`, got)
	assert.Equal(t, firefoxUA, eval[string](e, ctx, `navigator.userAgent`), "the override applies to the page")
	assert.Empty(t, e.sessionKeys(), "the session is gone from Redis")
	e.open(ctx, e.base+"/")
	e.waitState(ctx, "anon")
	e.screenshot(ctx, "after-switch")
}

// TestLogoutLeavesOtherCookiesAlone: logging out of the application
// removes its session cookie and nothing else: not another site's cookies,
// not a sibling subdomain's, not a cookie the parent domain shares. Over
// http (development) and https (production): Chromium honours
// Clear-Site-Data only from a secure origin.
func TestLogoutLeavesOtherCookiesAlone(t *testing.T) {
	for _, tc := range []struct {
		name       string
		production bool
		cookie     string
	}{
		{"development over http", false, "id"},
		{"production over https", true, "__Host-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.production, tc.production)
			other := otherSite(t, false)
			ctx := e.device("browser", "")
			for _, set := range []string{
				e.urlFor(other, otherHost) + "/set?name=theirs",
				e.urlFor(other, siblingHost) + "/set?name=sibling",
				e.urlFor(other, siblingHost) + "/set?name=shared&domain=example.test",
			} {
				require.NoError(t, runNavigate(ctx, set))
			}
			want := map[string]string{"theirs": otherHost, "sibling": siblingHost, "shared": ".example.test"}
			assertCookies := func(when string) {
				t.Helper()
				found := map[string]string{}
				for _, c := range e.cookies(ctx) {
					found[c.Name] = c.Domain
				}
				for name, domain := range want {
					assert.Equal(t, domain, found[name], "cookie %s %s", name, when)
				}
			}
			assertCookies("before login")

			e.signUp(ctx, "cookies@example.com", "cookies' password", true)
			require.NotNil(t, e.cookie(ctx, tc.cookie, appHost))
			e.click(ctx, "#logout")
			e.waitState(ctx, "anon")
			h, ok := e.rec.last(http.MethodPost, "/logout")
			require.True(t, ok)
			require.Equal(t, http.StatusOK, h.Status)
			if h.ClearSiteData != "" {
				t.Errorf("Logout sent Clear-Site-Data: %s; Chromium then drops the response's Set-Cookie and, from a secure origin, deletes the cookies of every host of the site", h.ClearSiteData)
			}
			assert.False(t, e.cookie(ctx, tc.cookie, appHost) != nil, "the session cookie is still in the browser")
			assertCookies("after logout")
			names := []string{}
			for _, c := range e.cookies(ctx) {
				names = append(names, c.Name+"@"+c.Domain)
			}
			t.Logf("cookies after logout: %s", strings.Join(names, ", "))
		})
	}
}

// TestArrivingByACrossSiteLink: a logged-in user who follows a link from
// another site gets the page without the SameSite=Strict cookie (the
// browser withholds it from a cross-site navigation), yet the page shows
// the user logged in, because it asks with a same-origin fetch after it
// loads.
func TestArrivingByACrossSiteLink(t *testing.T) {
	e := newEnv(t, false, false)
	other := otherSite(t, false)
	ctx := e.device("browser", "")
	e.signUp(ctx, "linked@example.com", "linked's password", true)

	require.NoError(t, runNavigate(ctx, e.urlFor(other, otherHost)+"/link?to="+e.base+"/"))
	e.click(ctx, "#go")
	e.waitFor(ctx, `location.host === `+js(strings.TrimPrefix(e.base, "http://")))
	e.waitState(ctx, "user")
	e.screenshot(ctx, "arrived-by-link")

	page, ok := e.rec.last(http.MethodGet, "/")
	require.True(t, ok)
	assert.False(t, page.Cookie, "the cross-site navigation carried the Strict cookie")
	profile, ok := e.rec.last(http.MethodGet, "/profile")
	require.True(t, ok)
	assert.True(t, profile.Cookie, "the page's own request carried the cookie")
	assert.Equal(t, http.StatusOK, profile.Status)
}
