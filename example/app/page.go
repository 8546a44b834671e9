package app

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"
)

// web holds the page: its template and the files it loads. They are
// compiled into the binary; nothing is built or fetched at run time.
//
//go:embed web/index.html web/app.js web/app.css web/icon.svg
var web embed.FS

// pageTemplate is parsed when the package loads, so a broken template
// fails every test and the build of the example, never a request.
var pageTemplate = template.Must(template.ParseFS(web, "web/index.html"))

// assets are the files the page loads from /assets/, with their types.
var assets = map[string]string{
	"app.js":   "text/javascript; charset=utf-8",
	"app.css":  "text/css; charset=utf-8",
	"icon.svg": "image/svg+xml",
}

// pageData is what the template shows besides the static text.
type pageData struct {
	MinPasswordChars int
	MaxPasswordBytes int
	Production       bool
	CookieName       string
}

// routePage serves the page at / and its assets under /assets/, with the
// security headers.
func (a *App) routePage(r *gin.Engine) {
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, pageData{
		MinPasswordChars: MinPasswordChars,
		MaxPasswordBytes: MaxPasswordBytes,
		Production:       a.cfg.Production(),
		CookieName:       a.cfg.CookieName(),
	})
	if err != nil {
		panic(err) // the template and its data are fixed: a programming error
	}
	page := buf.Bytes()
	g := r.Group("/", securityHeaders())
	g.GET("/", func(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", page) })
	g.GET("/assets/:name", func(c *gin.Context) {
		name := c.Param("name")
		typ, ok := assets[name]
		if !ok {
			fail(c, http.StatusNotFound, "not found")
			return
		}
		b, err := web.ReadFile("web/" + name)
		if err != nil {
			panic(err) // every name in assets is embedded
		}
		c.Data(http.StatusOK, typ, b)
	})
}

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
