package ginsession

import (
	"net/http"
	"strings"
	"time"

	gsessions "github.com/gorilla/sessions"
)

// cookie builds the Set-Cookie for a live session. maxAge is in seconds;
// 0 sends no Max-Age (a browser-session cookie).
func cookie(name, value string, o gsessions.Options, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:        name,
		Value:       value,
		Path:        o.Path,
		Domain:      o.Domain,
		MaxAge:      maxAge,
		Secure:      o.Secure,
		HttpOnly:    true,
		SameSite:    o.SameSite,
		Partitioned: o.Partitioned,
	}
}

// expiredCookie builds the Set-Cookie that removes a session cookie: the
// same name, Path and Domain, Max-Age=0 and an Expires in the past.
func expiredCookie(name string, o gsessions.Options) *http.Cookie {
	c := cookie(name, "", o, -1)
	c.Expires = time.Unix(1, 0).UTC()
	return c
}

// setCookie adds c to the response, replacing any Set-Cookie for the same
// name that this response already carries (a login followed by a save must
// not send two values).
func setCookie(w http.ResponseWriter, c *http.Cookie) {
	h := w.Header()
	if prev := h.Values("Set-Cookie"); len(prev) > 0 {
		kept := prev[:0:0]
		for _, v := range prev {
			if !strings.HasPrefix(v, c.Name+"=") {
				kept = append(kept, v)
			}
		}
		h["Set-Cookie"] = kept
	}
	if v := c.String(); v != "" {
		h.Add("Set-Cookie", v)
	}
}
