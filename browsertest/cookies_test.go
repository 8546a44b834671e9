package browsertest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signUp signs up through the page's form, which logs in right after, and
// waits for the outcome: the logged-in view when wantUser, else a message.
func (e *env) signUp(ctx context.Context, email, password string, wantUser bool) {
	e.t.Helper()
	e.open(ctx, e.base+"/")
	e.clearMessage(ctx)
	e.fill(ctx, "#signup-email", email)
	e.fill(ctx, "#signup-password", password)
	e.click(ctx, "#signup-button")
	if wantUser {
		e.waitState(ctx, "user")
		return
	}
	e.waitFor(ctx, `document.getElementById("message").textContent !== ""`)
}

// assertSessionCookie checks the session cookie as the browser stored it:
// HttpOnly, SameSite=Strict, Path=/, host-only (a cookie with a Domain
// attribute is stored with a leading dot), persistent for the absolute
// timeout, Secure exactly when wantSecure.
func assertSessionCookie(t *testing.T, all []*network.Cookie, name string, wantSecure bool) {
	t.Helper()
	var found []*network.Cookie
	for _, c := range all {
		if strings.HasSuffix(c.Name, "id") {
			found = append(found, c)
		}
	}
	require.Len(t, found, 1, "one session cookie in the browser")
	c := found[0]
	assert.Equal(t, name, c.Name)
	assert.True(t, c.HTTPOnly, "HttpOnly")
	assert.Equal(t, wantSecure, c.Secure, "Secure")
	assert.Equal(t, network.CookieSameSiteStrict, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.Equal(t, appHost, c.Domain, "host-only: no Domain attribute")
	assert.False(t, c.Session, "persistent (Max-Age)")
	left := time.Until(time.Unix(int64(c.Expires), 0))
	assert.Greater(t, left, 23*time.Hour, "expires with the absolute timeout (24 h)")
	assert.LessOrEqual(t, left, 24*time.Hour+time.Minute)
}

// assertScriptCannotSeeSession checks that document.cookie shows a cookie
// the page sets itself, and never the session cookie.
func (e *env) assertScriptCannotSeeSession(ctx context.Context, name string) {
	e.t.Helper()
	got := eval[string](e, ctx, `document.cookie = "probe=visible; path=/; SameSite=Strict" + (location.protocol === "https:" ? "; Secure" : ""), document.cookie`)
	assert.Contains(e.t, got, "probe=visible", "document.cookie works on this page")
	assert.NotContains(e.t, got, name+"=", "document.cookie shows the session cookie")
}

func TestDevelopmentCookieInTheBrowser(t *testing.T) {
	e := newEnv(t, false, false)
	ctx := e.device("browser", "")
	e.signUp(ctx, "dev@example.com", "dev's password", true)
	assertSessionCookie(t, e.cookies(ctx), "id", false)
	e.assertScriptCannotSeeSession(ctx, "id")
	e.screenshot(ctx, "logged-in")
}

func TestProductionCookieOverTLS(t *testing.T) {
	e := newEnv(t, true, true)
	require.True(t, strings.HasPrefix(e.base, "https://"))
	ctx := e.device("browser", "")
	e.signUp(ctx, "prod@example.com", "prod's password", true)
	assertSessionCookie(t, e.cookies(ctx), "__Host-id", true)
	e.assertScriptCannotSeeSession(ctx, "__Host-id")
	e.screenshot(ctx, "logged-in")
}

// TestProductionCookieRefusedOverPlainHTTP: a __Host- cookie needs Secure,
// which Chromium refuses to store from plain http on a host that is not
// localhost. /login still answers 200, so the page says what happened
// instead of pretending to be logged in.
func TestProductionCookieRefusedOverPlainHTTP(t *testing.T) {
	e := newEnv(t, true, false)
	ctx := e.device("browser", "")
	e.signUp(ctx, "plain@example.com", "plain's password", false)
	e.waitMessage(ctx, "this browser did not keep the session cookie (__Host-id needs https)")
	e.screenshot(ctx, "cookie-refused")
	h, ok := e.rec.last(http.MethodPost, "/login")
	require.True(t, ok)
	assert.Equal(t, http.StatusOK, h.Status, "the server logged in")
	for _, c := range e.cookies(ctx) {
		assert.NotEqual(t, "__Host-id", c.Name, "the browser stored the cookie")
	}
	assert.Equal(t, "anon", eval[string](e, ctx, `document.body.dataset.state`))
}
