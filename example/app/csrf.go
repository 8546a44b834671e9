package app

import (
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

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
