package ginsession_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/ginsession"
	"github.com/sessionshield/sessionshield/internal/redistest"
)

// A store refuses to start with a configuration that is not safe.
func ExampleNewStore() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	_, err := ginsession.NewStore(rdb, ginsession.Config{Secrets: [][]byte{[]byte("too short")}})
	fmt.Println(err)
	fmt.Println(errors.Is(err, ginsession.ErrShortSecret))

	_, err = ginsession.NewStore(rdb, ginsession.Config{
		Secrets:  [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
		SameSite: http.SameSiteNoneMode,
	})
	fmt.Println(err)
	// Output:
	// ginsession: each secret in Config.Secrets must be at least 32 bytes: secret 0 is 9 bytes; generate one with: openssl rand -base64 48
	// true
	// ginsession: invalid configuration: SameSite=None is refused: it sends the session cookie on cross-site requests; use Strict or Lax
}

// newApp is the router of the examples: a login route and a guarded group.
func newApp(rdb redis.UniversalClient, prefix string) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets:   [][]byte{[]byte("a secret of at least thirty-two bytes, from a vault")},
		KeyPrefix: prefix,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("__Host-id", store))
	r.POST("/login", func(c *gin.Context) {
		// Check the credentials first; then:
		if err := ginsession.Login(c, "alice"); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})
	api := r.Group("/api", ginsession.RequireAuth())
	api.GET("/profile", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
	})
	api.POST("/logout", func(c *gin.Context) {
		_ = ginsession.Logout(c)
		c.JSON(http.StatusOK, gin.H{"message": "Logged out"})
	})
	return r
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

func send(app http.Handler, method, path, ua, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("User-Agent", ua)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	app.ServeHTTP(w, req)
	return w
}

// Login issues a new session ID bound to the browser and sets a hardened
// cookie.
func ExampleLogin() {
	rdb, prefix, done := redistest.ExampleClient()
	defer done()
	app := newApp(rdb, prefix)

	w := send(app, "POST", "/login", firefox, "")
	c, _ := http.ParseSetCookie(w.Header().Get("Set-Cookie"))
	fmt.Println(w.Code, w.Body.String())
	fmt.Println(c.Name, c.HttpOnly, c.Secure, c.SameSite == http.SameSiteStrictMode, c.Path, c.MaxAge)

	w = send(app, "GET", "/api/profile", firefox, c.Name+"="+c.Value)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 200 {"message":"Logged in"}
	// __Host-id true true true / 86400
	// 200 {"userId":"alice"}
}

// RequireAuth lets only logged-in sessions through, and destroys a session
// whose cookie comes back from another browser.
func ExampleRequireAuth() {
	rdb, prefix, done := redistest.ExampleClient()
	defer done()
	app := newApp(rdb, prefix)

	w := send(app, "GET", "/api/profile", firefox, "")
	fmt.Println(w.Code, w.Body.String(), w.Header().Get("Cache-Control"))

	c, _ := http.ParseSetCookie(send(app, "POST", "/login", firefox, "").Header().Get("Set-Cookie"))
	cookie := c.Name + "=" + c.Value

	curl := "curl/8.5.0" // the stolen cookie, replayed by a script
	w = send(app, "GET", "/api/profile", curl, cookie)
	fmt.Println(w.Code, w.Body.String(), strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0"))

	w = send(app, "GET", "/api/profile", firefox, cookie)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 401 {"error":"not logged in"} no-store
	// 401 {"error":"session invalid"} true
	// 401 {"error":"not logged in"}
}

// Logout destroys the session in Redis and expires the cookie, so a saved
// copy of the cookie is worthless.
func ExampleLogout() {
	rdb, prefix, done := redistest.ExampleClient()
	defer done()
	app := newApp(rdb, prefix)

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
