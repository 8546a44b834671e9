package app

import (
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// noStore marks every response uncacheable: they carry user data
// or Set-Cookie, and a shared cache must not keep them.
func noStore() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		c.Next()
	}
}

// limitBody caps every request body at n bytes; reading past it fails and
// decodeJSON answers 413.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// stateChanging reports whether a method can change state on the server.
func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// csrf refuses cross-site state-changing requests with 403. A
// state-changing request must say Content-Type: application/json, which an
// HTML form or a "simple" cross-site fetch cannot send without a CORS
// preflight (and this server answers no preflight). It must not carry
// Sec-Fetch-Site: cross-site, nor an Origin whose host differs from the
// request's Host ("null" included). A client that sends neither header
// (curl, a server) is served: browsers always send at least one of them on
// a cross-site POST. SameSite=Strict on the cookie is defense in depth.
//
// Behind a proxy that rewrites Host, or for a front end on another origin,
// list the origins to accept in allowed (Config.AllowedOrigins); Gin does
// not read X-Forwarded-Host, and neither does this check.
func csrf(allowed []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		r := c.Request
		if !stateChanging(r.Method) {
			c.Next()
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			fail(c, http.StatusForbidden, "content type must be application/json")
			return
		}
		if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") {
			fail(c, http.StatusForbidden, "cross-site request refused")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !sameHost(o, r.Host) && !originIn(o, allowed) {
			fail(c, http.StatusForbidden, "cross-site request refused")
			return
		}
		c.Next()
	}
}

// sameHost reports whether origin (scheme://host[:port]) names host. The
// scheme is not compared: behind a TLS-terminating proxy the server cannot
// know it, and SameSite and the __Host- cookie already require https.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// originIn reports whether origin is one of allowed, compared without
// regard to case (scheme and host are case-insensitive).
func originIn(origin string, allowed []string) bool {
	for _, a := range allowed {
		if strings.EqualFold(origin, a) {
			return true
		}
	}
	return false
}

// recovery turns a panic into 500 {"error":"internal error"} and logs the
// panic and its stack, but never the request (gin.Recovery dumps the
// request headers, Cookie included).
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // net/http compares it with ==
					panic(v)
				}
				log.Error("panic", "route", c.FullPath(), "panic", v, "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					fail(c, http.StatusInternalServerError, "internal error")
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}

// requestLog logs one line per request: method, route pattern, status,
// duration and client IP. It never logs headers, cookies, bodies or query
// strings.
func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "(no route)"
		}
		log.Info("request", "method", c.Request.Method, "route", route,
			"status", c.Writer.Status(), "duration", time.Since(start).Round(time.Microsecond), "ip", c.ClientIP())
	}
}

// fail aborts the request with status and {"error": msg}.
func fail(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}
