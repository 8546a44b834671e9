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
