package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/ginsession"
)

// holdLogin makes the next login wait between its password check and
// ginsession.Login. held is closed when a login waits there; release lets
// it go on. Later logins, the one of POST /password included, are not held.
func (e *testEnv) holdLogin() (held <-chan struct{}, release func()) {
	h, r := make(chan struct{}), make(chan struct{})
	var taken atomic.Bool // not a sync.Once, whose later callers would wait
	e.app.beforeLogin = func() {
		if taken.CompareAndSwap(false, true) {
			close(h)
			<-r
		}
	}
	var released sync.Once
	return h, func() { released.Do(func() { close(r) }) }
}

// unthrottled lifts the login throttle's limits, for tests that log one
// account in many times.
func unthrottled(c *Config) { c.AccountLimit, c.IPLimit, c.SuccessLimit = 1<<20, 1<<20, 1<<20 }

// refOf returns the reference of the session of cookie c (sent with ua),
// as GET /sessions marks it current.
func (e *testEnv) refOf(c *http.Cookie, ua string) string {
	e.t.Helper()
	r := e.do(http.MethodGet, "/sessions", "", withCookie(c), withUA(ua))
	require.Equal(e.t, http.StatusOK, r.status, r.body)
	var list struct{ Sessions []ginsession.SessionInfo }
	require.NoError(e.t, json.Unmarshal([]byte(r.body), &list))
	for _, s := range list.Sessions {
		if s.Current {
			return s.Ref
		}
	}
	e.t.Fatal("no session is marked current")
	return ""
}

// listed returns the references of the sessions UserSessions lists for id.
func (e *testEnv) listed(id string) []string {
	e.t.Helper()
	list, err := e.app.store.UserSessions(e.t.Context(), id, "")
	require.NoError(e.t, err)
	refs := make([]string, 0, len(list))
	for _, s := range list {
		refs = append(refs, s.Ref)
	}
	return refs
}

// TestLoginHeldAcrossRevocation holds a login with the old password after
// its password check, while the owner changes the password, deletes the
// account or signs out the other devices; then lets it go on. Its Login
// must be refused (401, log in again) and leave no session, no cookie and
// no index entry behind.
func TestLoginHeldAcrossRevocation(t *testing.T) {
	const email, oldPW, newPW = "nina@example.com", "nina's old password", "nina's new password"
	cases := []struct {
		name   string
		action func(e *testEnv, owner *http.Cookie) response
		left   int // sessions left: the owner's, or none
	}{
		{"password change", func(e *testEnv, owner *http.Cookie) response {
			return e.do(http.MethodPost, "/password", passwordBody(oldPW, newPW), withCookie(owner))
		}, 1},
		{"account deletion", func(e *testEnv, owner *http.Cookie) response {
			return e.do(http.MethodDelete, "/account", deleteBody(oldPW), withCookie(owner))
		}, 0},
		{"sign out other devices", func(e *testEnv, owner *http.Cookie) response {
			return e.do(http.MethodPost, "/logout-others", "", withCookie(owner))
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			id := e.signup(email, oldPW)
			owner := e.login(email, oldPW)
			held, release := e.holdLogin()
			t.Cleanup(release)
			attempt := make(chan response, 1)
			failed := make(chan error, 1)
			go func() {
				r, err := e.send(http.MethodPost, "/login", creds(email, oldPW), withUA(firefoxUA))
				if err != nil {
					failed <- err
					return
				}
				attempt <- r
			}()
			select {
			case <-held:
			case r := <-attempt:
				t.Fatalf("the login was not held: %d %s", r.status, r.body)
			case err := <-failed:
				t.Fatal(err)
			}

			r := tc.action(e, owner)
			require.Equal(t, http.StatusOK, r.status, r.body)
			release()
			var a response
			select {
			case a = <-attempt:
			case err := <-failed:
				t.Fatal(err)
			}
			assert.Equal(t, http.StatusUnauthorized, a.status)
			assert.JSONEq(t, errorBody(staleLogin), a.body)
			assert.Empty(t, a.cookies, "no session cookie for the refused login")

			assert.Len(t, e.sessionKeys(), tc.left)
			assert.Len(t, e.listed(id), tc.left)
			if tc.left == 0 {
				e.assertOnlyMark(id)
				return
			}
			if len(r.cookies) == 1 { // the password change's new cookie
				owner = r.cookies[0]
			}
			assert.Equal(t, []string{e.refOf(owner, chromeUA)}, e.listed(id), "only the owner's session is listed")
		})
	}
}

// TestOldPasswordLoginsRacingRevocation runs one loop of logins with the
// old password while the owner changes it, or deletes the account, in
// several trials each. Afterwards no session of the loop may be alive:
// each of its cookies gets 401 on /profile and on /sessions. After a
// password change only the owner's new session is listed; after a
// deletion no session key is left and the user's index holds only the
// revocation mark.
func TestOldPasswordLoginsRacingRevocation(t *testing.T) {
	const trials = 6
	const oldPW, newPW = "olga's old password", "olga's new password"
	cases := []struct {
		name   string
		action func(e *testEnv, owner *http.Cookie) response
	}{
		{"password change", func(e *testEnv, owner *http.Cookie) response {
			return e.do(http.MethodPost, "/password", passwordBody(oldPW, newPW), withCookie(owner))
		}},
		{"account deletion", func(e *testEnv, owner *http.Cookie) response {
			return e.do(http.MethodDelete, "/account", deleteBody(oldPW), withCookie(owner))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, unthrottled)
			survived, sessions := 0, 0
			for i := range trials {
				email := fmt.Sprintf("olga%d@example.com", i)
				id := e.signup(email, oldPW)
				owner := e.login(email, oldPW)
				cookies, r := e.loginLoopDuring(email, oldPW, func() response { return tc.action(e, owner) })
				require.Equal(t, http.StatusOK, r.status, r.body)

				alive := 0
				for _, c := range cookies {
					p := e.do(http.MethodGet, "/profile", "", withCookie(c), withUA(firefoxUA))
					s := e.do(http.MethodGet, "/sessions", "", withCookie(c), withUA(firefoxUA))
					if p.status != http.StatusUnauthorized || s.status != http.StatusUnauthorized {
						alive++
					}
				}
				if alive > 0 {
					survived++
					sessions += alive
				}
				if len(r.cookies) == 1 && r.cookies[0].Value != "" { // the owner's new session
					assert.Equal(t, []string{e.refOf(r.cookies[0], chromeUA)}, e.listed(id), "trial %d: only the owner's new session is listed", i+1)
				} else {
					assert.Empty(t, e.sessionKeys(), "trial %d: no session key is left", i+1)
					e.assertOnlyMark(id)
				}
				t.Logf("trial %d: %d attacker sessions, %d alive after the %s", i+1, len(cookies), alive, tc.name)
			}
			t.Logf("%d of %d trials left an attacker session alive (%d sessions in all)", survived, trials, sessions)
			assert.Zero(t, survived, "no attacker session outlives the %s", tc.name)
		})
	}
}

// loginLoopDuring logs in with email and password again and again from
// another goroutine (a Firefox User-Agent), runs action once the loop has
// logged in at least once, stops the loop when action returns and waits
// for its last login. It returns the session cookies the loop got and
// action's response.
func (e *testEnv) loginLoopDuring(email, password string, action func() response) ([]*http.Cookie, response) {
	e.t.Helper()
	stop, first, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var cookies []*http.Cookie
	var loopErr error
	go func() {
		defer close(done)
		var once sync.Once
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := e.send(http.MethodPost, "/login", creds(email, password), withUA(firefoxUA))
			if err != nil {
				loopErr = err
				return
			}
			if r.status == http.StatusOK && len(r.cookies) == 1 {
				cookies = append(cookies, r.cookies[0])
				once.Do(func() { close(first) })
			}
		}
	}()
	select {
	case <-first: // the loop is logging in: act now
	case <-done:
		require.NoError(e.t, loopErr)
		e.t.Fatal("the login loop stopped before any login")
	}
	r := action()
	close(stop)
	<-done
	require.NoError(e.t, loopErr)
	return cookies, r
}

// TestLogoutOthers: POST /logout-others ends every session of the caller's
// account but the caller's, which keeps its cookie, and is refused like
// every state-changing request from another site.
func TestLogoutOthers(t *testing.T) {
	const email, pw = "otto@example.com", "otto's password"
	e := newTestEnv(t, nil)
	id := e.signup(email, pw)
	laptop := e.login(email, pw)
	phone := e.login(email, pw, withUA(firefoxUA))
	tablet := e.login(email, pw, withUA(firefoxUA))

	refusals := []struct {
		name   string
		opts   []reqOpt
		status int
	}{
		{"not logged in", nil, http.StatusUnauthorized},
		{"text/plain", []reqOpt{withCookie(laptop), withHeader("Content-Type", "text/plain")}, http.StatusForbidden},
		{"cross-site Origin", []reqOpt{withCookie(laptop), withHeader("Origin", "https://evil.example")}, http.StatusForbidden},
		{"Sec-Fetch-Site cross-site", []reqOpt{withCookie(laptop), withHeader("Sec-Fetch-Site", "cross-site")}, http.StatusForbidden},
		{"GET", []reqOpt{withCookie(laptop)}, http.StatusMethodNotAllowed},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodPost
			if tc.name == "GET" {
				method = http.MethodGet
			}
			r := e.do(method, "/logout-others", "", tc.opts...)
			assert.Equal(t, tc.status, r.status, r.body)
			assert.Contains(t, r.body, `"error"`)
			assert.Empty(t, r.cookies)
		})
	}
	require.Len(t, e.listed(id), 3, "no refusal ended a session")

	r := e.do(http.MethodPost, "/logout-others", "", withCookie(laptop))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"message":"Logged out on every other device","revoked":2}`, r.body)
	assert.Empty(t, r.cookies, "the caller keeps its cookie")
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(laptop)).status)
	for _, c := range []*http.Cookie{phone, tablet} {
		assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(c), withUA(firefoxUA)).status)
	}
	assert.Len(t, e.sessionKeys(), 1)
	assert.Equal(t, []string{e.refOf(laptop, chromeUA)}, e.listed(id))

	// A login after it is not refused: the mark is older than its check.
	e.login(email, pw, withUA(firefoxUA))
	assert.Len(t, e.listed(id), 2)
}

// TestLogoutOthersRacingLogin sends POST /logout-others while a login of
// the same user is under way, in several rounds: in half of them as the
// login starts, in the others as it is about to call ginsession.Login
// (after its password check). The caller stays logged in, the sessions
// that existed before get 401, and the racing login ends one of three
// ways: refused (401, log in again, no cookie), logged in and then ended
// (its cookie gets 401), or logged in after the revocation (its cookie
// works). Either way the listed sessions are exactly the live ones.
func TestLogoutOthersRacingLogin(t *testing.T) {
	const rounds = 10
	const email, pw = "pia@example.com", "pia's password"
	e := newTestEnv(t, unthrottled)
	id := e.signup(email, pw)
	caller := e.login(email, pw)
	outcomes := map[string]int{}
	var others []*http.Cookie // sessions that exist before the round
	for i := range rounds {
		others = append(others, e.login(email, pw, withUA(firefoxUA)))
		reached := make(chan struct{}) // when to send POST /logout-others
		if i%2 == 1 {
			var once atomic.Bool
			e.app.beforeLogin = func() {
				if once.CompareAndSwap(false, true) {
					close(reached)
				}
			}
		} else {
			e.app.beforeLogin = nil
			close(reached)
		}
		var wg sync.WaitGroup
		var login response
		var loginErr error
		wg.Go(func() {
			login, loginErr = e.send(http.MethodPost, "/login", creds(email, pw), withUA(firefoxUA))
		})
		<-reached
		r := e.do(http.MethodPost, "/logout-others", "", withCookie(caller))
		wg.Wait()
		require.NoError(t, loginErr)
		require.Equal(t, http.StatusOK, r.status, r.body)

		assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(caller)).status, "round %d: the caller", i+1)
		for _, c := range others {
			assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(c), withUA(firefoxUA)).status,
				"round %d: a session from before", i+1)
		}
		others = others[:0]
		want := []string{e.refOf(caller, chromeUA)}
		switch login.status {
		case http.StatusUnauthorized:
			outcomes["refused"]++
			assert.JSONEq(t, errorBody(staleLogin), login.body)
			assert.Empty(t, login.cookies)
		case http.StatusOK:
			require.Len(t, login.cookies, 1)
			c := login.cookies[0]
			if e.do(http.MethodGet, "/profile", "", withCookie(c), withUA(firefoxUA)).status == http.StatusOK {
				outcomes["logged in after"]++
				want = append(want, e.refOf(c, firefoxUA))
				others = append(others, c)
			} else {
				outcomes["ended"]++
			}
		default:
			t.Fatalf("round %d: the racing login got %d %s", i+1, login.status, login.body)
		}
		assert.ElementsMatch(t, want, e.listed(id), "round %d: the listed sessions are the live ones", i+1)
		assert.Len(t, e.sessionKeys(), len(want), "round %d", i+1)
	}
	t.Logf("racing logins over %d rounds: %v", rounds, outcomes)
}
