package ginsession_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/ginsession"
)

// The examples run against miniredis, an in-process Redis, so that they
// run anywhere; in an application, point redis.NewClient at your Redis
// server instead. The secret is written out only to keep the examples
// short: load yours from a secret store (openssl rand -base64 48 makes
// one).

// The browsers of the examples; the session is bound to the User-Agent.
const (
	firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	chrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// send sends one request to app from a browser with userAgent, with cookie
// ("name=value", or "" for none) as its Cookie header, and returns the
// response.
func send(app http.Handler, method, target, userAgent, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	req.Header.Set("User-Agent", userAgent)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	app.ServeHTTP(w, req)
	return w
}

// A store refuses to start with a configuration that is not safe. NewStore
// does not contact Redis.
func ExampleNewStore() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	_, err := ginsession.NewStore(rdb, ginsession.Config{Secrets: [][]byte{[]byte("too short")}})
	fmt.Println(err)
	fmt.Println(errors.Is(err, ginsession.ErrShortSecret))

	_, err = ginsession.NewStore(rdb, ginsession.Config{Secrets: [][]byte{[]byte(strings.Repeat("x", 32))}})
	fmt.Println(errors.Is(err, ginsession.ErrWeakSecret))

	_, err = ginsession.NewStore(rdb, ginsession.Config{
		Secrets:  [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
		SameSite: http.SameSiteNoneMode,
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, ginsession.ErrConfig))
	// Output:
	// ginsession: invalid configuration: each secret in Config.Secrets must be at least 32 bytes: secret 0 is 9 bytes; generate one with: openssl rand -base64 48
	// true
	// true
	// ginsession: invalid configuration: SameSite=None is refused: it sends the session cookie on cross-site requests; use Strict or Lax
	// true
}

// Login issues a new session ID bound to the browser and sets a hardened
// cookie: HttpOnly, Secure, SameSite=Strict, Path=/, Max-Age of the
// absolute timeout.
func ExampleLogin() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
	})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.Sessions("__Host-id", store))
	app.POST("/login", func(c *gin.Context) {
		// Check the credentials first; then:
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	app.GET("/api/profile", ginsession.RequireAuth(), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
	})

	w := send(app, "POST", "/login", firefox, "")
	fmt.Println(w.Code, w.Body.String())
	c, err := http.ParseSetCookie(w.Header().Get("Set-Cookie"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Replace(w.Header().Get("Set-Cookie"), c.Value, "<session>", 1))

	w = send(app, "GET", "/api/profile", firefox, c.Name+"="+c.Value)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 200 {"message":"Logged in"}
	// __Host-id=<session>; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Strict
	// 200 {"userId":"alice"}
}

// RequireAuth lets only logged-in sessions through, and destroys a session
// whose cookie comes back from another browser.
func ExampleRequireAuth() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
	})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.Sessions("__Host-id", store))
	app.POST("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	api := app.Group("/api", ginsession.RequireAuth())
	api.GET("/profile", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
	})

	w := send(app, "GET", "/api/profile", firefox, "")
	fmt.Println(w.Code, w.Body.String(), w.Header().Get("Cache-Control"))

	c, _ := http.ParseSetCookie(send(app, "POST", "/login", firefox, "").Header().Get("Set-Cookie"))
	cookie := c.Name + "=" + c.Value
	w = send(app, "GET", "/api/profile", firefox, cookie)
	fmt.Println(w.Code, w.Body.String())

	// The stolen cookie, replayed by a script: the session ends for good.
	w = send(app, "GET", "/api/profile", "curl/8.5.0", cookie)
	fmt.Println(w.Code, w.Body.String(), strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0"))
	w = send(app, "GET", "/api/profile", firefox, cookie)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 401 {"error":"not logged in"} no-store
	// 200 {"userId":"alice"}
	// 401 {"error":"session invalid"} true
	// 401 {"error":"not logged in"}
}

// Logout destroys the session in Redis and expires the cookie, so a saved
// copy of the cookie is worthless.
func ExampleLogout() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
	})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.Sessions("__Host-id", store))
	app.POST("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	api := app.Group("/api", ginsession.RequireAuth())
	api.GET("/profile", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
	})
	api.POST("/logout", func(c *gin.Context) {
		if err := ginsession.Logout(c); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged out"})
	})

	c, _ := http.ParseSetCookie(send(app, "POST", "/login", firefox, "").Header().Get("Set-Cookie"))
	cookie := c.Name + "=" + c.Value

	w := send(app, "POST", "/api/logout", firefox, cookie)
	fmt.Println(w.Code, w.Header().Get("Set-Cookie"))
	w = send(app, "GET", "/api/profile", firefox, cookie)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 200 __Host-id=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Strict
	// 401 {"error":"not logged in"}
}

// UserSessions lists a user's live sessions for a "your sessions" page.
// Given the caller's session reference, sessions.Default(c).ID(), it marks
// the caller's own session Current.
func ExampleStore_UserSessions() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	// A fake clock, so that the sessions' order (most recently active
	// first) is the same on every run; leave Now unset in an application.
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
		Now:     func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.Sessions("__Host-id", store))
	app.POST("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	app.GET("/api/sessions", ginsession.RequireAuth(), func(c *gin.Context) {
		list, err := store.UserSessions(c.Request.Context(), ginsession.UserID(c), sessions.Default(c).ID())
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, list)
	})

	send(app, "POST", "/login", chrome, "") // alice on her office PC
	now = now.Add(time.Minute)
	c, _ := http.ParseSetCookie(send(app, "POST", "/login", firefox, "").Header().Get("Set-Cookie"))
	now = now.Add(time.Minute)

	w := send(app, "GET", "/api/sessions", firefox, c.Name+"="+c.Value)
	var list []ginsession.SessionInfo
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Code, len(list), "sessions")
	for _, s := range list {
		fmt.Printf("%s, current: %t, last seen %s\n", s.Device, s.Current, s.LastSeen.Format(time.TimeOnly))
	}
	// Output:
	// 200 2 sessions
	// Firefox on Linux, current: true, last seen 09:02:00
	// Chrome on Windows, current: false, last seen 09:00:00
}

// RevokeSession ends one session of a user, chosen by the Ref that
// UserSessions returns: the "sign out" button next to a device on a "your
// sessions" page. Its cookie gets 401 from RequireAuth from then on; the
// user's other sessions go on.
func ExampleStore_RevokeSession() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
	})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.Sessions("__Host-id", store))
	app.POST("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	app.GET("/api/profile", ginsession.RequireAuth(), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
	})

	c, _ := http.ParseSetCookie(send(app, "POST", "/login", chrome, "").Header().Get("Set-Cookie"))
	onChrome := c.Name + "=" + c.Value
	c, _ = http.ParseSetCookie(send(app, "POST", "/login", firefox, "").Header().Get("Set-Cookie"))
	onFirefox := c.Name + "=" + c.Value

	ctx := context.Background() // in a handler: c.Request.Context()
	list, err := store.UserSessions(ctx, "alice", "")
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range list {
		if s.Device == "Chrome on Windows" {
			fmt.Println("revoke:", store.RevokeSession(ctx, "alice", s.Ref))
			err = store.RevokeSession(ctx, "alice", s.Ref)
			fmt.Println("again:", errors.Is(err, ginsession.ErrUnknownSession))
		}
	}

	fmt.Println("Chrome:", send(app, "GET", "/api/profile", chrome, onChrome).Code)
	fmt.Println("Firefox:", send(app, "GET", "/api/profile", firefox, onFirefox).Code)
	// Output:
	// revoke: <nil>
	// again: true
	// Chrome: 401
	// Firefox: 200
}

// RevokeUser ends every session of a user at once: "log out everywhere",
// a password change, a disabled account. Every cookie of that user gets 401
// from RequireAuth from then on.
func ExampleStore_RevokeUser() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
	})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.Sessions("__Host-id", store))
	app.POST("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	app.GET("/api/profile", ginsession.RequireAuth(), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
	})

	send(app, "POST", "/login", chrome, "")
	c, _ := http.ParseSetCookie(send(app, "POST", "/login", firefox, "").Header().Get("Set-Cookie"))
	old := c.Name + "=" + c.Value

	n, err := store.RevokeUser(context.Background(), "alice") // in a handler: c.Request.Context()
	if err != nil {
		// Wraps ErrStoreUnavailable; the sessions not ended are still
		// listed, so calling RevokeUser again ends them.
		log.Fatal(err)
	}
	fmt.Println("ended:", n)

	w := send(app, "GET", "/api/profile", firefox, old)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// ended: 2
	// 401 {"error":"not logged in"}
}

// RequireFreshAuth guards a sensitive route, such as a password change,
// behind RequireAuth: it lets a request through only when the user logged
// in recently, and otherwise answers 401 "reauthentication required" so
// that the client asks for the password again.
func ExampleRequireFreshAuth() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	// A fake clock, so that the example need not wait ten minutes; leave
	// Now unset in an application.
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
		Now:     func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.Sessions("__Host-id", store))
	app.POST("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	api := app.Group("/api", ginsession.RequireAuth())
	api.GET("/profile", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
	})
	api.POST("/password", ginsession.RequireFreshAuth(5*time.Minute), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"message": "Password changed"})
	})

	c, _ := http.ParseSetCookie(send(app, "POST", "/login", firefox, "").Header().Get("Set-Cookie"))
	cookie := c.Name + "=" + c.Value
	w := send(app, "POST", "/api/password", firefox, cookie)
	fmt.Println("just logged in:", w.Code, w.Body.String())

	now = now.Add(10 * time.Minute)
	w = send(app, "GET", "/api/profile", firefox, cookie)
	fmt.Println("10 minutes later, profile:", w.Code)
	w = send(app, "POST", "/api/password", firefox, cookie)
	fmt.Println("10 minutes later, password:", w.Code, w.Body.String())

	// The user enters the password again: a new login, a new session.
	c, _ = http.ParseSetCookie(send(app, "POST", "/login", firefox, cookie).Header().Get("Set-Cookie"))
	w = send(app, "POST", "/api/password", firefox, c.Name+"="+c.Value)
	fmt.Println("after logging in again:", w.Code, w.Body.String())
	// Output:
	// just logged in: 200 {"message":"Password changed"}
	// 10 minutes later, profile: 200
	// 10 minutes later, password: 401 {"error":"reauthentication required"}
	// after logging in again: 200 {"message":"Password changed"}
}

// Authenticate lets a public page know who is logged in: the same checks
// as RequireAuth, but the page is served either way. A cookie replayed
// from another browser ends the session and the page is served
// anonymously.
func ExampleAuthenticate() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
	})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.Sessions("__Host-id", store))
	app.POST("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	app.GET("/", ginsession.Authenticate(), func(c *gin.Context) {
		if user := ginsession.UserID(c); user != "" {
			c.String(http.StatusOK, "Welcome back, %s", user)
			return
		}
		c.String(http.StatusOK, "Welcome, guest")
	})

	w := send(app, "GET", "/", firefox, "")
	fmt.Println(w.Code, w.Body.String())
	c, _ := http.ParseSetCookie(send(app, "POST", "/login", firefox, "").Header().Get("Set-Cookie"))
	cookie := c.Name + "=" + c.Value
	w = send(app, "GET", "/", firefox, cookie)
	fmt.Println(w.Code, w.Body.String())
	w = send(app, "GET", "/", chrome, cookie) // the cookie, replayed from another browser
	fmt.Println(w.Code, w.Body.String(), w.Header().Get("Set-Cookie") != "")
	w = send(app, "GET", "/", firefox, cookie)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 200 Welcome, guest
	// 200 Welcome back, alice
	// 200 Welcome, guest true
	// 200 Welcome, guest
}

// Behind sessions.SessionsMany, UseSession names the session that Login,
// Logout, RequireAuth, RequireFreshAuth and Authenticate work on. Here the shop and its
// back office have separate logins, each with its own cookie: logging in
// to one does not log in to the other.
func ExampleUseSession() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
	})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.SessionsMany([]string{"__Host-shop", "__Host-admin"}, store))
	for _, area := range []struct{ path, cookie, user string }{
		{"/shop", "__Host-shop", "alice"},
		{"/admin", "__Host-admin", "root"},
	} {
		g := app.Group(area.path, ginsession.UseSession(area.cookie))
		g.POST("/login", func(c *gin.Context) {
			if err := ginsession.Login(c, area.user); err != nil {
				c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
				return
			}
			c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
		})
		g.GET("/whoami", ginsession.RequireAuth(), func(c *gin.Context) {
			c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
		})
	}

	c, _ := http.ParseSetCookie(send(app, "POST", "/shop/login", firefox, "").Header().Get("Set-Cookie"))
	shop := c.Name + "=" + c.Value
	fmt.Println("shop login sets", c.Name)
	fmt.Println("shop:", send(app, "GET", "/shop/whoami", firefox, shop).Body.String())
	fmt.Println("admin:", send(app, "GET", "/admin/whoami", firefox, shop).Body.String())

	c, _ = http.ParseSetCookie(send(app, "POST", "/admin/login", firefox, shop).Header().Get("Set-Cookie"))
	both := shop + "; " + c.Name + "=" + c.Value
	fmt.Println("admin login sets", c.Name)
	fmt.Println("shop:", send(app, "GET", "/shop/whoami", firefox, both).Body.String())
	fmt.Println("admin:", send(app, "GET", "/admin/whoami", firefox, both).Body.String())
	// Output:
	// shop login sets __Host-shop
	// shop: {"userId":"alice"}
	// admin: {"error":"not logged in"}
	// admin login sets __Host-admin
	// shop: {"userId":"alice"}
	// admin: {"userId":"root"}
}

// Options changes the cookie attributes of every session of the store. It
// is configuration, called once at startup: here it relaxes SameSite to
// Lax, so that a link from another site (an email, a search result) arrives
// logged in, and shortens Max-Age to 12 hours. HttpOnly and Secure cannot
// be switched off.
func ExampleStore_Options() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
	})
	if err != nil {
		log.Fatal(err)
	}
	store.Options(sessions.Options{SameSite: http.SameSiteLaxMode, MaxAge: 12 * 3600})

	gin.SetMode(gin.TestMode)
	app := gin.New()
	app.Use(sessions.Sessions("__Host-id", store))
	app.POST("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})

	w := send(app, "POST", "/login", firefox, "")
	c, err := http.ParseSetCookie(w.Header().Get("Set-Cookie"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Replace(w.Header().Get("Set-Cookie"), c.Value, "<session>", 1))
	fmt.Println(c.SameSite == http.SameSiteLaxMode, c.MaxAge, c.HttpOnly, c.Secure)
	// Output:
	// __Host-id=<session>; Path=/; Max-Age=43200; HttpOnly; Secure; SameSite=Lax
	// true 43200 true true
}

// CheckRedis checks at startup that Redis never evicts live sessions
// (maxmemory-policy noeviction). miniredis has no CONFIG command, so here
// CheckRedis cannot read the setting and says so with ErrStoreUnavailable,
// as it does against a managed Redis that disables CONFIG; against a Redis
// whose policy is volatile-lru, say, it returns ErrEvictionPolicy instead.
func ExampleStore_CheckRedis() {
	mr, err := miniredis.Run() // an in-process Redis; use your server's address
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets: [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
	})
	if err != nil {
		log.Fatal(err)
	}

	switch err := store.CheckRedis(context.Background()); {
	case err == nil:
		fmt.Println("Redis keeps live sessions under memory pressure")
	case errors.Is(err, ginsession.ErrEvictionPolicy):
		// Redis may evict sessions and log users out at random: refuse to
		// start, or at least warn.
		log.Fatal(err)
	case errors.Is(err, ginsession.ErrStoreUnavailable):
		// CONFIG GET failed or Redis is down: check the setting by hand.
		fmt.Println("could not read maxmemory-policy; make sure it is noeviction")
	}
	// Output:
	// could not read maxmemory-policy; make sure it is noeviction
}
