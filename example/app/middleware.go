package app

import (
	"log/slog"
	"net/http"
	"runtime/debug"
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
