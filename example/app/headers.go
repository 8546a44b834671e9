package app

import "github.com/gin-gonic/gin"

// contentSecurityPolicy lets the page load its script, style sheet and
// icon from its own origin and nothing else: no inline script or style, no
// eval, no other site's resources; fetch() may reach only this origin. No
// site may frame the page (clickjacking), forms may submit only here, and
// a <base> element cannot redirect relative URLs.
const contentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// securityHeaders sets the headers every HTML response and static asset
// carries: the Content-Security-Policy above, X-Content-Type-Options:
// nosniff (a file is only ever what its Content-Type says) and
// Referrer-Policy: no-referrer (no URL of this site leaves in a Referer).
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		c.Next()
	}
}
