package ginsession

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	gsessions "github.com/gorilla/sessions"
)

// cookieLen is the exact length of a cookie value: the 43-character ID, a
// dot and the 43-character base64url HMAC-SHA256 of it.
const cookieLen = idLen + 1 + idLen

// sign returns the cookie value for id: the ID and an HMAC-SHA256 over the
// cookie name and the ID with the newest cookie key.
func (s *Store) sign(name, id string) string {
	mac := s.cookieMAC(0, name, id)
	buf := make([]byte, 0, cookieLen)
	buf = append(buf, id...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, mac[:])
	return string(buf)
}

// macState is a pooled HMAC with a scratch buffer for its input: hmac.New
// allocates, and so does every slice passed to a hash.Hash.
type macState struct {
	h   hash.Hash
	buf []byte
	out [sha256.Size]byte
}

func newMACPool(key []byte) *sync.Pool {
	return &sync.Pool{New: func() any {
		return &macState{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
	}}
}

// sum returns the HMAC-SHA256 of the parts, separated by zero bytes.
func (m *macState) sum(parts ...string) [sha256.Size]byte {
	m.buf = m.buf[:0]
	for i, p := range parts {
		if i > 0 {
			m.buf = append(m.buf, 0)
		}
		m.buf = append(m.buf, p...)
	}
	m.h.Reset()
	m.h.Write(m.buf)
	m.h.Sum(m.out[:0])
	return m.out
}

// cookieValue returns the value of the session cookie called name in r's
// Cookie headers, as net/http's r.Cookie finds it: a name matches only
// exactly, after trimming ASCII space and tab (never Unicode spaces, so
// "\u2000__Host-id" is another cookie, which net/http skips as an invalid
// name); cookies with an invalid name or value are skipped; surrounding
// double quotes are dropped. Of several cookies with the name, the first
// valid one in header order wins. Browsers send the one with the longer
// Path first and, for equal paths, the older one first (RFC 6265, section
// 5.4), so the first is the most specific and oldest: a cookie planted
// later for the same Path comes after the real one. verify then checks the
// value's exact form.
func cookieValue(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// cookieMAC returns the HMAC-SHA256 of the cookie name and the ID with
// cookie key k.
func (s *Store) cookieMAC(k int, name, id string) [sha256.Size]byte {
	m := s.macs[k].Get().(*macState)
	out := m.sum(name, id)
	s.macs[k].Put(m)
	return out
}

// verify checks a cookie value and returns the session ID it carries. It
// touches nothing but the value (no Redis): a cookie of the wrong length or
// alphabet, or whose MAC matches no key, is rejected. stale reports
// that an older key verified it, so the next write or guarded read
// (RequireAuth) re-signs it.
func (s *Store) verify(name, value string) (id string, stale, ok bool) {
	if len(value) != cookieLen || value[idLen] != '.' {
		return "", false, false
	}
	var raw [idBytes]byte
	if n, err := b64.Strict().Decode(raw[:], []byte(value[:idLen])); err != nil || n != idBytes {
		return "", false, false
	}
	var mac [sha256.Size]byte
	if n, err := b64.Strict().Decode(mac[:], []byte(value[idLen+1:])); err != nil || n != sha256.Size {
		return "", false, false
	}
	id = value[:idLen]
	for i := range s.cookieKeys {
		want := s.cookieMAC(i, name, id)
		if hmac.Equal(want[:], mac[:]) {
			return id, i > 0, true
		}
	}
	return "", false, false
}

// defaultOptions are the hardened cookie attributes of a store. MaxAge 0
// is a browser-session cookie (Config.BrowserSessionCookie).
func defaultOptions(cfg *Config) gsessions.Options {
	o := gsessions.Options{
		Path:     "/",
		Domain:   cfg.Domain,
		MaxAge:   int(cfg.AbsoluteTimeout / time.Second),
		Secure:   !cfg.Insecure,
		HttpOnly: true,
		SameSite: cfg.SameSite,
	}
	if cfg.BrowserSessionCookie {
		o.MaxAge = 0
	}
	return o
}

// The cookie options that store.Options or session.Options may ask to
// weaken, as the warnings name them.
const (
	optPath     = "Path"
	optDomain   = "Domain"
	optMaxAge   = "MaxAge"
	optSameSite = "SameSite"
)

// storeOptions returns the store's cookie attributes after
// store.Options(o), which is configuration: a zero field keeps the current
// value; a Path, a Domain, a positive MaxAge and SameSite Strict or Lax are
// taken; HttpOnly and Secure cannot be switched off (Config.Insecure
// drops Secure); SameSite None (or the attribute without a value) is
// dropped and named in dropped.
func storeOptions(cur gsessions.Options, o *gsessions.Options) (e gsessions.Options, dropped []string) {
	e = cur
	if o.Path != "" {
		e.Path = o.Path
	}
	if o.Domain != "" {
		e.Domain = o.Domain
	}
	if o.MaxAge > 0 {
		e.MaxAge = o.MaxAge
	}
	e.Secure = cur.Secure || o.Secure
	e.HttpOnly = true
	switch o.SameSite {
	case 0:
	case http.SameSiteStrictMode, http.SameSiteLaxMode:
		e.SameSite = o.SameSite
	default:
		dropped = append(dropped, optSameSite)
	}
	return e, dropped
}

// requestOptions returns the attributes a session's cookie is sent with
// when request code set o through session.Options: o can never weaken the
// store's attributes d. A zero field keeps d's. Taken: a Path within d's
// Path, d's own Domain, a MaxAge no longer than d's (a negative one
// destroys the session on Save), SameSite Strict, and Secure and
// Partitioned switched on. Dropped and named in dropped: a Path outside
// d's, any other Domain (it would widen the cookie), a longer MaxAge (or
// any MaxAge on a browser-session cookie), SameSite Lax when d is Strict,
// None, or the attribute without a value. HttpOnly is always set.
func requestOptions(d gsessions.Options, o *gsessions.Options) (e gsessions.Options, dropped []string) {
	if o == nil {
		return d, nil
	}
	e = d
	if o.Path != "" && o.Path != d.Path {
		if within(o.Path, d.Path) {
			e.Path = o.Path
		} else {
			dropped = append(dropped, optPath)
		}
	}
	if o.Domain != "" && !strings.EqualFold(o.Domain, d.Domain) {
		dropped = append(dropped, optDomain)
	}
	switch {
	case o.MaxAge < 0 || (o.MaxAge > 0 && d.MaxAge > 0 && o.MaxAge <= d.MaxAge):
		e.MaxAge = o.MaxAge
	case o.MaxAge > 0 && o.MaxAge != d.MaxAge:
		dropped = append(dropped, optMaxAge)
	}
	e.Secure = d.Secure || o.Secure
	e.HttpOnly = true
	e.Partitioned = d.Partitioned || o.Partitioned
	switch o.SameSite {
	case 0, d.SameSite:
	case http.SameSiteStrictMode:
		e.SameSite = o.SameSite
	default:
		dropped = append(dropped, optSameSite)
	}
	return e, dropped
}

// within reports whether the cookie path p is base or below it.
func within(p, base string) bool {
	if p == base || base == "/" && strings.HasPrefix(p, "/") {
		return true
	}
	return strings.HasPrefix(p, strings.TrimSuffix(base, "/")+"/")
}

// sessionOptions returns the attributes a session's cookie is sent with
// (see requestOptions), and warns about what it dropped.
func (s *Store) sessionOptions(o *gsessions.Options) gsessions.Options {
	e, dropped := requestOptions(s.defaults(), o)
	for _, opt := range dropped {
		s.warnDropped("session.Options", opt)
	}
	return e
}

// warnDropped logs, at Warn level and once per Store, source and option,
// that a cookie option was dropped because it would weaken the cookie. The
// line names the option, never a value.
func (s *Store) warnDropped(source, opt string) {
	if !s.firstWarning(source + " " + opt) {
		return
	}
	s.log.Warn("ginsession: cookie option dropped: it would weaken the session cookie (see docs/cookie-options.md)",
		slog.String("source", source), slog.String("option", opt))
}

// checkName enforces the rules browsers apply to prefixed cookie names, so
// that a misconfiguration fails with an error instead of a cookie the
// browser silently drops.
func checkName(name string, o gsessions.Options) error {
	switch {
	case hasPrefixFold(name, "__Host-"):
		if !o.Secure || o.Path != "/" || o.Domain != "" {
			return fmt.Errorf("%w: cookie name %q needs Secure, Path=/ and no Domain (Insecure is %v, Path %q, Domain %q)%s",
				ErrConfig, name, !o.Secure, o.Path, o.Domain, plainHTTPHint(name, len("__Host-"), o))
		}
	case hasPrefixFold(name, "__Secure-"):
		if !o.Secure {
			return fmt.Errorf("%w: cookie name %q needs Secure; Insecure is set%s",
				ErrConfig, name, plainHTTPHint(name, len("__Secure-"), o))
		}
	}
	return nil
}

// plainHTTPHint says what to do when a prefixed name meets Insecure, the
// plain-http development setting: give sessions.Sessions the name without
// its prefix. It returns "" when the options are Secure.
func plainHTTPHint(name string, prefixLen int, o gsessions.Options) string {
	if o.Secure {
		return ""
	}
	bare := name[prefixLen:]
	if bare == "" {
		bare = "id"
	}
	return fmt.Sprintf("; for plain-http development, use a name without the prefix, such as %q, in sessions.Sessions (and Config.CookieName)", bare)
}

// hasPrefixFold reports whether name starts with prefix, ignoring case, as
// browsers match cookie-name prefixes (RFC 6265bis).
func hasPrefixFold(name, prefix string) bool {
	return len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix)
}

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
