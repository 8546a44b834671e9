package browsertest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/example/app"
)

// sessionRow is one row of the page's sessions list.
type sessionRow struct {
	Device     string `json:"device"`
	Current    bool   `json:"current"`
	Remembered bool   `json:"remembered"`
	Times      string `json:"times"`
}

// rows reads the sessions list as the page shows it.
func (e *env) rows(ctx context.Context) []sessionRow {
	e.t.Helper()
	return eval[[]sessionRow](e, ctx, `Array.from(document.querySelectorAll("#sessions li")).map(li => ({
		device: li.querySelector(".device").textContent,
		current: li.querySelector(".this-device") !== null,
		remembered: li.querySelector(".remembered") !== null,
		times: li.querySelector(".times").textContent,
	}))`)
}

// text returns the text of the element with id.
func (e *env) text(ctx context.Context, id string) string {
	e.t.Helper()
	return eval[string](e, ctx, `document.getElementById(`+js(id)+`).textContent`)
}

// clearMessage empties the page's message, so the next wait sees the
// answer to the next action, even when it reads the same.
func (e *env) clearMessage(ctx context.Context) {
	e.t.Helper()
	eval[bool](e, ctx, `(document.getElementById("message").textContent = "") === ""`)
}

// TestPageAsAPersonUsesIt walks through every feature of the page with
// the mouse and keyboard, on two devices (two browser contexts), and checks
// each step in Redis.
func TestPageAsAPersonUsesIt(t *testing.T) {
	e := newEnv(t, false, false)
	const email = "pat@example.com"
	const pw1, pw2 = "pat's first password", "pat's second password"

	laptop := e.device("laptop", "")
	e.open(laptop, e.base+"/")
	e.waitState(laptop, "anon")
	assert.Equal(t, "Not logged in.", e.text(laptop, "status"))
	e.screenshot(laptop, "logged-out")

	// Sign up: the page logs in right after.
	e.fill(laptop, "#signup-email", email)
	e.fill(laptop, "#signup-password", pw1)
	e.click(laptop, "#signup-button")
	e.waitState(laptop, "user")
	e.waitMessage(laptop, "Account created. You are logged in.")
	assert.Equal(t, email, e.text(laptop, "profile-email"))
	assert.Equal(t, "Logged in as "+email+".", e.text(laptop, "status"))
	userID := e.text(laptop, "profile-id")
	require.Len(t, userID, 32)
	e.waitFor(laptop, `document.querySelectorAll("#sessions li").length === 1`)
	assert.True(t, e.rows(laptop)[0].Current)
	require.Len(t, e.sessionKeys(), 1)

	// Log out and back in.
	e.click(laptop, "#logout")
	e.waitState(laptop, "anon")
	e.waitMessage(laptop, "Logged out.")
	assert.Empty(t, e.sessionKeys())
	e.logIn(laptop, email, pw1)

	// A phone (another browser context, another browser family) logs in.
	phone := e.device("phone", safariUA)
	require.NoError(t, chromedp.Do(phone, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)))
	e.open(phone, e.base+"/")
	e.waitState(phone, "anon")
	e.screenshot(phone, "phone-logged-out")
	e.logIn(phone, email, pw1)
	e.waitFor(phone, `document.querySelectorAll("#sessions li").length === 2`)
	e.screenshot(phone, "phone-logged-in")
	require.Len(t, e.sessionKeys(), 2)

	// The laptop lists both sessions: device, login time, last seen, and
	// which one is this device.
	e.open(laptop, e.base+"/")
	e.waitState(laptop, "user")
	e.waitFor(laptop, `document.querySelectorAll("#sessions li").length === 2`)
	rows := e.rows(laptop)
	require.Len(t, rows, 2)
	current := 0
	for _, r := range rows {
		assert.Contains(t, r.Times, "Logged in ")
		assert.Contains(t, r.Times, "last seen ")
		if r.Current {
			current++
		} else {
			assert.Equal(t, "Safari on iPhone", r.Device, "the phone's row")
		}
	}
	assert.Equal(t, 1, current, "exactly one row is this device")
	e.screenshotPage(laptop, "page.png", 900)
	e.screenshot(laptop, "two-sessions")

	// End the phone's session from the laptop: the phone is logged out.
	e.clearMessage(laptop)
	e.click(laptop, "#sessions li:not(.current) button.end")
	e.waitMessage(laptop, "The session has ended.")
	e.waitFor(laptop, `document.querySelectorAll("#sessions li").length === 1`)
	assert.Len(t, e.sessionKeys(), 1)
	e.open(phone, e.base+"/")
	e.waitState(phone, "anon")

	// The phone logs in again; the laptop changes the password: the phone
	// is logged out, the laptop stays logged in on a new session.
	e.logIn(phone, email, pw1)
	require.Len(t, e.sessionKeys(), 2)
	before := e.sessionKeys()
	e.clearMessage(laptop)
	e.fill(laptop, "#current-password", pw1)
	e.fill(laptop, "#new-password", pw2)
	e.click(laptop, "#password-button")
	e.waitMessage(laptop, "Password changed. Every other session was logged out.")
	e.waitFor(laptop, `document.querySelectorAll("#sessions li").length === 1`)
	e.screenshot(laptop, "password-changed")
	after := e.sessionKeys()
	require.Len(t, after, 1)
	assert.NotContains(t, before, after[0], "the laptop's session has a new ID")
	e.open(laptop, e.base+"/")
	e.waitState(laptop, "user")
	e.open(phone, e.base+"/")
	e.waitState(phone, "anon")

	// The old password stops working at once; the new one works.
	e.clearMessage(phone)
	e.fill(phone, "#login-email", email)
	e.fill(phone, "#login-password", pw1)
	e.click(phone, "#login-button")
	e.waitMessage(phone, "Wrong email or password.")
	e.screenshot(phone, "old-password-refused")
	e.logIn(phone, email, pw2)

	// Log out everywhere, from the laptop: both devices are logged out.
	e.clearMessage(laptop)
	e.click(laptop, "#logout-all")
	e.waitState(laptop, "anon")
	e.waitMessage(laptop, "Logged out everywhere: 2 sessions ended.")
	assert.Empty(t, e.sessionKeys())
	e.open(phone, e.base+"/")
	e.waitState(phone, "anon")

	// Delete the account.
	e.logIn(laptop, email, pw2)
	e.clearMessage(laptop)
	e.fill(laptop, "#delete-password", pw2)
	e.click(laptop, "#delete-confirm")
	e.click(laptop, "#delete-button")
	e.waitMessage(laptop, "Your account has been deleted.")
	e.waitState(laptop, "anon")
	e.screenshot(laptop, "account-deleted")
	assert.Empty(t, e.sessionKeys())
	// The one key left that names the user is its session index, holding
	// the revocation mark alone for at most 6 minutes.
	mark := e.prefix + "sess:u:" + userID
	for _, k := range e.scan(e.prefix + "*") {
		if k != mark {
			assert.NotContains(t, k, userID, "a key still names the deleted user")
		}
	}
	members, err := e.rdb.ZRange(t.Context(), mark, 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"revoked"}, members)
	ttl, err := e.rdb.PTTL(t.Context(), mark).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, ttl, 6*time.Minute)
	n, err := e.rdb.HExists(t.Context(), e.prefix+"app:email", email).Result()
	require.NoError(t, err)
	assert.False(t, n, "the email index still holds the email")

	// The deleted account cannot log in; its email can sign up again.
	e.clearMessage(laptop)
	e.fill(laptop, "#login-email", email)
	e.fill(laptop, "#login-password", pw2)
	e.click(laptop, "#login-button")
	e.waitMessage(laptop, "Wrong email or password.")
	e.fill(laptop, "#signup-email", strings.ToUpper(email))
	e.fill(laptop, "#signup-password", "pat's third password")
	e.click(laptop, "#signup-button")
	e.waitState(laptop, "user")
	assert.NotEqual(t, userID, e.text(laptop, "profile-id"))
	e.click(laptop, "#logout")
	e.waitState(laptop, "anon")

	// Wrong passwords are throttled, and the page says how long to wait.
	for i := range 6 {
		e.clearMessage(laptop)
		e.fill(laptop, "#login-email", email)
		e.fill(laptop, "#login-password", "a wrong guess")
		e.click(laptop, "#login-button")
		e.waitFor(laptop, `document.getElementById("message").textContent !== ""`)
		msg := e.messageNow(laptop)
		if i < 5 {
			assert.Equal(t, "Wrong email or password.", msg, "attempt %d", i+1)
		} else {
			assert.Equal(t, "Too many attempts. Try again in 15 minutes.", msg)
		}
	}
	h, ok := e.rec.last(http.MethodPost, "/login")
	require.True(t, ok)
	assert.Equal(t, http.StatusTooManyRequests, h.Status)
	e.screenshot(laptop, "throttled")
	e.assertNoScriptErrors()
}

// TestPageLogsOutOtherDevices: "Log out other devices" on the laptop ends
// the sessions of the phone and the tablet, keeps the laptop's (the same
// cookie and the same key in Redis) and refreshes the sessions list.
func TestPageLogsOutOtherDevices(t *testing.T) {
	e := newEnv(t, false, false)
	const email, pw = "quinn@example.com", "quinn's password"
	laptop := e.device("laptop", "")
	e.open(laptop, e.base+"/")
	e.waitState(laptop, "anon")
	e.fill(laptop, "#signup-email", email)
	e.fill(laptop, "#signup-password", pw)
	e.click(laptop, "#signup-button")
	e.waitState(laptop, "user")
	cookie := e.cookie(laptop, "id", appHost)
	require.NotNil(t, cookie)
	var others []context.Context
	for _, d := range []struct{ name, ua string }{{"phone", safariUA}, {"tablet", firefoxUA}} {
		ctx := e.device(d.name, d.ua)
		e.open(ctx, e.base+"/")
		e.waitState(ctx, "anon")
		e.logIn(ctx, email, pw)
		others = append(others, ctx)
	}
	before := e.sessionKeys()
	require.Len(t, before, 3)
	e.open(laptop, e.base+"/")
	e.waitState(laptop, "user")
	e.waitFor(laptop, `document.querySelectorAll("#sessions li").length === 3`)

	e.clearMessage(laptop)
	e.click(laptop, "#logout-others")
	e.waitMessage(laptop, "Logged out on every other device: 2 sessions ended.")
	e.waitFor(laptop, `document.querySelectorAll("#sessions li").length === 1`)
	e.screenshot(laptop, "other-devices-logged-out")
	rows := e.rows(laptop)
	require.Len(t, rows, 1)
	assert.True(t, rows[0].Current, "the row left is this device")
	h, ok := e.rec.last(http.MethodPost, "/logout-others")
	require.True(t, ok)
	assert.Equal(t, http.StatusOK, h.Status)
	assert.True(t, h.Cookie, "the request carried the session cookie")
	assert.Equal(t, "application/json", h.ContentType)

	after := e.sessionKeys()
	require.Len(t, after, 1)
	assert.Contains(t, before, after[0], "the laptop keeps its session")
	assert.Equal(t, cookie.Value, e.cookie(laptop, "id", appHost).Value, "and its cookie")
	e.open(laptop, e.base+"/")
	e.waitState(laptop, "user")
	for _, ctx := range others {
		e.open(ctx, e.base+"/")
		e.waitState(ctx, "anon")
	}
	assert.Equal(t, after, e.sessionKeys())
	e.assertNoScriptErrors()
}

// TestPageWhenRedisIsDown: with the store unreachable the page still
// loads (it needs no Redis), shows the logged-out view, and a signup gets
// a plain message for the 503.
func TestPageWhenRedisIsDown(t *testing.T) {
	e := newEnv(t, false, false)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	a, err := app.New(app.Config{Env: app.EnvDevelopment, Secret: testSecret, KeyPrefix: e.prefix, Password: fastPasswords,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, dead)
	require.NoError(t, err)
	router, err := a.Router()
	require.NoError(t, err)
	e.rec.serve(router)

	ctx := e.device("browser", "")
	e.open(ctx, e.base+"/")
	e.waitState(ctx, "anon")
	e.fill(ctx, "#signup-email", "down@example.com")
	e.fill(ctx, "#signup-password", "down's password")
	e.click(ctx, "#signup-button")
	e.waitMessage(ctx, "The service is unavailable right now. Try again in a moment.")
	e.screenshot(ctx, "redis-down")
	h, ok := e.rec.last(http.MethodPost, "/signup")
	require.True(t, ok)
	assert.Equal(t, http.StatusServiceUnavailable, h.Status)
	assert.Equal(t, "anon", eval[string](e, ctx, `document.body.dataset.state`))
}

// TestPageKeepMeSignedIn logs in on two devices, one with "Keep me signed
// in" ticked: the browser stores that device's cookie for 30 days and the
// other's for the store's 24 hours, and the sessions list marks only the
// remembered one.
func TestPageKeepMeSignedIn(t *testing.T) {
	e := newEnv(t, false, false)
	const email, pw = "kim@example.com", "kim's password"
	laptop := e.device("laptop", "")
	e.signUp(laptop, email, pw, true)
	e.click(laptop, "#logout")
	e.waitState(laptop, "anon")
	e.fill(laptop, "#login-email", email)
	e.fill(laptop, "#login-password", pw)
	e.click(laptop, "#login-remember")
	e.click(laptop, "#login-button")
	e.waitState(laptop, "user")
	phone := e.device("phone", safariUA)
	e.open(phone, e.base+"/")
	e.waitState(phone, "anon")
	e.logIn(phone, email, pw)

	left := func(ctx context.Context) time.Duration {
		c := e.cookie(ctx, "id", appHost)
		require.NotNil(t, c)
		require.False(t, c.Session, "persistent")
		return time.Until(time.Unix(int64(c.Expires), 0))
	}
	assert.InDelta(t, (30 * 24 * time.Hour).Hours(), left(laptop).Hours(), 0.1, "remembered: 30 days")
	assert.InDelta(t, (24 * time.Hour).Hours(), left(phone).Hours(), 0.1, "not remembered: the store's 24 hours")
	h, ok := e.rec.last(http.MethodPost, "/login")
	require.True(t, ok)
	assert.Equal(t, http.StatusOK, h.Status)

	e.open(laptop, e.base+"/")
	e.waitState(laptop, "user")
	e.waitFor(laptop, `document.querySelectorAll("#sessions li").length === 2`)
	e.screenshot(laptop, "kept-signed-in")
	for _, r := range e.rows(laptop) {
		assert.Equal(t, r.Current, r.Remembered, "only this device (the laptop) is kept signed in: %+v", r)
	}
}
