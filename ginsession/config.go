package ginsession

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessionshield/sessionshield/fingerprint"
)

// The defaults of Config, chosen to be safe with no configuration (see
// docs/security.md for the reasoning and sources).
const (
	DefaultKeyPrefix       = "sess:"
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 24 * time.Hour
	DefaultMaxSessionBytes = 4096
	// DefaultRememberIdleTimeout and DefaultRememberAbsoluteTimeout are
	// the timeouts of a session started with Login(c, id, Remember()).
	DefaultRememberIdleTimeout     = 7 * 24 * time.Hour
	DefaultRememberAbsoluteTimeout = 30 * 24 * time.Hour
	// DefaultMaxSessionsPerUser is the number of live sessions a user may
	// have when Config.MaxSessionsPerUser is 0.
	DefaultMaxSessionsPerUser = 10
	// NoSessionLimit, as Config.MaxSessionsPerUser, lets a user have any
	// number of sessions.
	NoSessionLimit = -1
	// MinSecretLen is the shortest secret NewStore accepts, in bytes.
	MinSecretLen = fingerprint.MinSecretLen
)

// Config configures a Store. The zero Config with Secrets set is the
// hardened default: no other field has to be set to be safe.
type Config struct {
	// Secrets sign session cookies and key the fingerprints, newest first: the
	// first signs, every one verifies. Each must be at least MinSecretLen random
	// bytes (openssl rand -base64 48) from a secret store; NewStore refuses one
	// that is obviously not random (see CheckSecret). Required. To rotate, put
	// the new secret first; drop the old one IdleTimeout later (docs/design.md,
	// "Key rotation").
	Secrets [][]byte

	// KeyPrefix is put in front of every Redis key the store writes.
	// A session lives at <KeyPrefix><base64url(SHA-256(ID))>, a user's
	// session index at <KeyPrefix>u:<userID>. Default: "sess:".
	KeyPrefix string

	// IdleTimeout ends a session that no request has loaded for this long
	// (up to min(1 s, IdleTimeout/60) sooner: reads write the activity at
	// most that often). NewStore refuses less than 1 ms or more than
	// AbsoluteTimeout. Default (0): 30 minutes.
	IdleTimeout time.Duration

	// AbsoluteTimeout ends a session this long after it was created (for a
	// logged-in session: after the login), however active it is. It is also
	// the cookie's default Max-Age, in whole seconds, capped when the cookie
	// is sent at the time left (see BrowserSessionCookie). NewStore refuses
	// less than 1 ms. Default (0): 24 hours.
	AbsoluteTimeout time.Duration

	// RememberIdleTimeout and RememberAbsoluteTimeout replace IdleTimeout
	// and AbsoluteTimeout for a session started with Login(c, id,
	// Remember()) ("keep me signed in"), whose cookie always has a Max-Age:
	// the time left to its absolute timeout (request code may shorten it
	// with session.Options). NewStore refuses values below
	// IdleTimeout and AbsoluteTimeout, or an idle one above the absolute
	// one. Default (0): 7 days and 30 days.
	RememberIdleTimeout     time.Duration
	RememberAbsoluteTimeout time.Duration

	// Insecure drops the Secure cookie attribute, for plain-http development
	// only. It cannot be combined with a __Host- or __Secure- cookie name
	// (see CookieName for when that is refused). Default: false (Secure is
	// always set, never derived from the request). Browsers drop a Secure
	// cookie set over plain http except on localhost, so the store logs once
	// at Warn when it sends one on a plain-http request for another name
	// (see docs/cookie-options.md).
	Insecure bool

	// SameSite is http.SameSiteStrictMode or http.SameSiteLaxMode; NewStore
	// refuses any other value, SameSiteNoneMode and SameSiteDefaultMode
	// included. Default (0): Strict.
	SameSite http.SameSite

	// Domain is the cookie's Domain attribute. Default: none (host-only),
	// which a __Host- cookie name requires.
	Domain string

	// BrowserSessionCookie sends the cookie without Max-Age, so the browser
	// drops it when it closes (browsers that restore sessions keep it),
	// unless store.Options sets a MaxAge or the session is remembered
	// (Remember). The session still ends at
	// IdleTimeout and AbsoluteTimeout. Default: false, Max-Age is
	// AbsoluteTimeout.
	BrowserSessionCookie bool

	// CookieName, when set, is the name the application gives to
	// sessions.Sessions: NewStore returns an error wrapping ErrConfig when
	// the other settings make it unusable (a __Host- name with Insecure or
	// a Domain, a __Secure- name with Insecure), instead of failing at the
	// first request, and store.Options panics when it would. The store
	// serves any name whether or not this is set, and logs once at Warn when
	// sessions are asked for under a name other than this one. Default: "".
	CookieName string

	// MaxSessionBytes caps the encoded size of a session's values (each
	// field name and tagged value, not the store's metadata); Save and
	// Login return ErrTooLarge above it. Save checks it in Redis too, with
	// what other requests saved and values this instance could not decode.
	// NewStore refuses a negative value. Default (0): 4096.
	MaxSessionBytes int

	// MaxSessionsPerUser caps the live sessions a user may have: a Login beyond
	// it ends the user's oldest sessions by login time (never the one it
	// creates), each reported as EventRevoked with Reason "session-limit".
	// Sessions that ended without leaving the index do not count. NoSessionLimit
	// removes the cap; other negative values are refused. Default (0):
	// DefaultMaxSessionsPerUser, 10.
	MaxSessionsPerUser int

	// Fingerprint chooses what Login binds a session to and what a mismatch
	// does; NewStore refuses an undefined Action. Default: User-Agent
	// (hard), Accept-Language (soft), IP off.
	Fingerprint fingerprint.Config

	// Logger receives every security event (see EventType): at Debug level
	// an invalid cookie, at Warn a fingerprint mismatch, hard or soft, at
	// Error a store error, at Info the others; and, at Warn, a cookie
	// option dropped because it would weaken the cookie, once per option
	// and source (store.Options or session.Options).
	// What it is given never holds a session ID, a cookie value or a raw
	// header (Event.Request, which OnEvent receives, is never logged).
	// Default: slog.Default().
	Logger *slog.Logger

	// OnEvent, when set, is called with every security event too, for
	// metrics or alerting. It runs in the goroutine of the call that
	// raised the event (the request's, for the middlewares). For an
	// invalid cookie or a fingerprint mismatch the Event carries the
	// request (see Event): read what the hook needs, never log it.
	OnEvent func(Event)

	// ClientIP returns the client address the fingerprint binds when
	// Fingerprint.IPPrefix is on. Default: the peer's address
	// (c.RemoteIP()), never a forwarding header. Behind a reverse proxy,
	// call engine.SetTrustedProxies with the proxies' addresses and set
	// ClientIP to (*gin.Context).ClientIP: Gin believes X-Forwarded-For
	// from every peer until SetTrustedProxies is called, which would let a
	// thief claim the victim's address.
	ClientIP func(*gin.Context) string

	// LocalCache, when positive, lets RequireAuth and Authenticate answer
	// a logged-in session read in the last LocalCache (and within its
	// refresh window) from an in-process cache of its authentication check,
	// at no Redis command; session values are never cached. A session ended
	// on this Store is refused on its next request, and on every other Store
	// with the cache on within LocalCache (ends are published on the channel
	// <KeyPrefix>inval; a Store that cannot prove it receives them stops
	// serving from the cache). It needs CookieName, starts two goroutines and
	// a subscription (stop them with Store.Close) and holds at most
	// MaxCacheEntries sessions. Default (0): off, every read goes to Redis.
	LocalCache time.Duration

	// Now returns the current time. Default: time.Now. Tests inject a clock.
	Now func() time.Time
}

// withDefaults returns cfg with each zero field that has a default set to
// it (see each field).
func (cfg Config) withDefaults() Config {
	cfg.KeyPrefix = cmp.Or(cfg.KeyPrefix, DefaultKeyPrefix)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, DefaultIdleTimeout)
	cfg.AbsoluteTimeout = cmp.Or(cfg.AbsoluteTimeout, DefaultAbsoluteTimeout)
	cfg.RememberIdleTimeout = cmp.Or(cfg.RememberIdleTimeout, DefaultRememberIdleTimeout)
	cfg.RememberAbsoluteTimeout = cmp.Or(cfg.RememberAbsoluteTimeout, DefaultRememberAbsoluteTimeout)
	cfg.SameSite = cmp.Or(cfg.SameSite, http.SameSiteStrictMode)
	cfg.MaxSessionBytes = cmp.Or(cfg.MaxSessionBytes, DefaultMaxSessionBytes)
	cfg.MaxSessionsPerUser = cmp.Or(cfg.MaxSessionsPerUser, DefaultMaxSessionsPerUser)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// validate returns an error that says what to fix when cfg, with its
// defaults set, is not safe to run with: it wraps ErrConfig, and also
// ErrNoSecret, ErrShortSecret or ErrWeakSecret for a secret.
func (cfg *Config) validate() error {
	if len(cfg.Secrets) == 0 {
		return fmt.Errorf("%w; %s", ErrNoSecret, secretHelp)
	}
	for i, sec := range cfg.Secrets {
		if err := secretError(sec, "secret "+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	switch {
	case cfg.IdleTimeout < time.Millisecond:
		return fmt.Errorf("%w: IdleTimeout must be at least 1ms, got %v", ErrConfig, cfg.IdleTimeout)
	case cfg.AbsoluteTimeout < time.Millisecond:
		return fmt.Errorf("%w: AbsoluteTimeout must be at least 1ms, got %v", ErrConfig, cfg.AbsoluteTimeout)
	case cfg.IdleTimeout > cfg.AbsoluteTimeout:
		return fmt.Errorf("%w: IdleTimeout (%v) must not exceed AbsoluteTimeout (%v)", ErrConfig, cfg.IdleTimeout, cfg.AbsoluteTimeout)
	case cfg.RememberIdleTimeout < cfg.IdleTimeout:
		return fmt.Errorf("%w: RememberIdleTimeout (%v) must be at least IdleTimeout (%v)", ErrConfig, cfg.RememberIdleTimeout, cfg.IdleTimeout)
	case cfg.RememberAbsoluteTimeout < cfg.AbsoluteTimeout:
		return fmt.Errorf("%w: RememberAbsoluteTimeout (%v) must be at least AbsoluteTimeout (%v)", ErrConfig, cfg.RememberAbsoluteTimeout, cfg.AbsoluteTimeout)
	case cfg.RememberIdleTimeout > cfg.RememberAbsoluteTimeout:
		return fmt.Errorf("%w: RememberIdleTimeout (%v) must not exceed RememberAbsoluteTimeout (%v)", ErrConfig, cfg.RememberIdleTimeout, cfg.RememberAbsoluteTimeout)
	}
	switch cfg.SameSite {
	case http.SameSiteStrictMode, http.SameSiteLaxMode:
	case http.SameSiteNoneMode:
		return fmt.Errorf("%w: SameSite=None is refused: it sends the session cookie on cross-site requests; use Strict or Lax", ErrConfig)
	default:
		return fmt.Errorf("%w: SameSite must be http.SameSiteStrictMode or http.SameSiteLaxMode", ErrConfig)
	}
	if cfg.MaxSessionBytes < 0 {
		return fmt.Errorf("%w: MaxSessionBytes must not be negative", ErrConfig)
	}
	if cfg.MaxSessionsPerUser < 0 && cfg.MaxSessionsPerUser != NoSessionLimit {
		return fmt.Errorf("%w: MaxSessionsPerUser must be positive, 0 for the default (%d) or NoSessionLimit, got %d",
			ErrConfig, DefaultMaxSessionsPerUser, cfg.MaxSessionsPerUser)
	}
	switch {
	case cfg.LocalCache < 0:
		return fmt.Errorf("%w: LocalCache must not be negative, got %v", ErrConfig, cfg.LocalCache)
	case cfg.LocalCache > 0 && cfg.LocalCache < time.Millisecond:
		return fmt.Errorf("%w: LocalCache must be 0 (off) or at least 1ms, got %v", ErrConfig, cfg.LocalCache)
	case cfg.LocalCache > 0 && cfg.CookieName == "":
		return fmt.Errorf("%w: LocalCache needs CookieName, the name given to sessions.Sessions, to read the cookie without loading the session", ErrConfig)
	}
	if cfg.CookieName != "" {
		return checkName(cfg.CookieName, defaultOptions(cfg))
	}
	return nil
}
