package ginsession

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
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

// sendCookie sets the cookie of st's live session, signed with the newest
// key and sent with attributes o, and warns once when a Secure cookie
// answers plain http (c is nil in Save, which has no gin.Context).
func (s *Store) sendCookie(w http.ResponseWriter, r *http.Request, c *gin.Context, st *state, o gsessions.Options, now int64) {
	setCookie(w, cookie(st.name, s.sign(st.name, st.id), o, s.maxAge(o, st, now)))
	st.resign = false
	s.warnPlainHTTP(r, c, o.Secure)
}

// expireCookie expires the cookie of sess with the attributes it was
// sent with.
func (s *Store) expireCookie(w http.ResponseWriter, sess *gsessions.Session, st *state) {
	setCookie(w, expiredCookie(st.name, s.sessionOptions(sess.Options)))
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
