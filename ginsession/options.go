package ginsession

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"
)

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

// Options sets the cookie attributes of this store's sessions. Unlike in the
// other gin-contrib stores, which replace them, o is merged: a zero field
// keeps the current value, so Options{SameSite: http.SameSiteLaxMode} keeps
// Max-Age and Path. HttpOnly and Secure cannot be switched off, SameSite None
// is dropped with a warning and a negative MaxAge is ignored;
// docs/cookie-options.md lists every case. With Config.CookieName set, it
// panics with an ErrConfig error when o would make that name unusable: call
// it at startup. It is safe to call while serving.
func (s *Store) Options(o sessions.Options) {
	merged, dropped := storeOptions(s.defaults(), o.ToGorillaOptions())
	for _, opt := range dropped {
		s.warnDropped("store.Options", opt)
	}
	if s.cfg.CookieName != "" {
		if err := checkName(s.cfg.CookieName, merged); err != nil {
			panic(fmt.Errorf("ginsession: store.Options: %w", err))
		}
	}
	s.opts.Store(&merged)
}

// defaults returns the cookie attributes sessions start with.
func (s *Store) defaults() gsessions.Options { return *s.opts.Load() }
