package ginsession

import (
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
	// DefaultMaxSessionsPerUser is the number of live sessions a user may
	// have when Config.MaxSessionsPerUser is 0.
	DefaultMaxSessionsPerUser = 10
	// NoSessionLimit, as Config.MaxSessionsPerUser, lets a user have any
	// number of sessions.
	NoSessionLimit = -1
	// MinSecretLen is the shortest secret NewStore accepts, in bytes.
	MinSecretLen = 32
)

// Config configures a Store. The zero Config with Secrets set is the
// hardened default: no other field has to be set to be safe.
type Config struct {
	// Secrets sign session cookies and key the fingerprints, newest
	// first: the first signs, every one verifies. Key rotation: put the new
	// secret first. RequireAuth re-signs a cookie an old secret signed and
	// stores the session's fingerprint again with the new key, binding
	// the same fields as before (never one turned on since the login), and Save
	// re-signs the cookie too, so once IdleTimeout has passed every live
	// session whose requests go through RequireAuth is on the new secret,
	// and the old one can be dropped; AbsoluteTimeout after the rotation no
	// session from before it is left at all. Each
	// must be at least 32 random bytes (openssl rand -base64 48), from a
	// secret store, never generated at startup; NewStore refuses one that
	// is obviously not random (see CheckSecret). Required.
	Secrets [][]byte

	// KeyPrefix is put in front of every Redis key the store writes.
	// A session lives at <KeyPrefix><base64url(SHA-256(ID))>, a user's
	// session index at <KeyPrefix>u:<userID>. Default: "sess:".
	KeyPrefix string

	// IdleTimeout ends a session that saw no request for this long.
	// Default: 30 minutes.
	IdleTimeout time.Duration

	// AbsoluteTimeout ends a session this long after it was created (for a
	// logged-in session: after the login), however active it is. It is also
	// the cookie's Max-Age (see BrowserSessionCookie). Default: 24 hours.
	AbsoluteTimeout time.Duration

	// Insecure drops the Secure cookie attribute, for plain-http development
	// only. It cannot be combined with a __Host- or __Secure- cookie name.
	// Default: false (Secure is always set, never derived from the request).
	// Browsers drop a Secure cookie set over plain http except on localhost,
	// so the store logs once at Warn when it sends one on a plain-http request
	// for another name (see docs/cookie-options.md).
	Insecure bool

	// SameSite is http.SameSiteStrictMode or http.SameSiteLaxMode.
	// SameSiteNoneMode is refused. Default: Strict.
	SameSite http.SameSite

	// Domain is the cookie's Domain attribute. Default: none (host-only),
	// which a __Host- cookie name requires.
	Domain string

	// BrowserSessionCookie sends the cookie without Max-Age, so the browser
	// drops it when it closes (browsers that restore sessions keep it). The
	// session still ends at IdleTimeout and AbsoluteTimeout. Default: false,
	// Max-Age is AbsoluteTimeout.
	BrowserSessionCookie bool

	// CookieName, when set, is the name the application gives to
	// sessions.Sessions: NewStore returns an error wrapping ErrConfig when
	// the other settings make it unusable (a __Host- name with Insecure or
	// a Domain, a __Secure- name with Insecure), instead of failing at the
	// first request, and store.Options panics when it would. The store
	// serves any name whether or not this is set, and logs once at Warn when
	// sessions are asked for under a name other than this one. Default: ""
	// (use Store.CheckCookieName to check a name at startup).
	CookieName string

	// MaxSessionBytes caps the encoded size of a session's values; Save
	// returns ErrTooLarge above it. Default: 4096.
	MaxSessionBytes int

	// MaxSessionsPerUser caps the live sessions a user may have: a Login
	// that would leave the user with more ends the oldest ones, by login
	// time (to the second; the order of sessions that began within the
	// same second is arbitrary), never the session it creates. Each ended
	// session is reported as EventRevoked with Reason "session-limit" and
	// gets 401 on its next request. Only live sessions count: when the
	// user's index holds more entries than the cap, Login checks which
	// sessions still exist and prunes the entries of those that ended
	// without leaving it (idled out, never logged out), so such entries
	// never cost a live session. An entry of a login of the last 10
	// seconds counts even when its session is not found yet (on a Cluster
	// its write may still be on its way). NoSessionLimit removes the cap;
	// other negative values are refused. Default (0):
	// DefaultMaxSessionsPerUser, 10.
	MaxSessionsPerUser int

	// Fingerprint chooses what Login binds a session to and what a mismatch
	// does. Default: User-Agent (hard), Accept-Language (soft), IP off.
	Fingerprint fingerprint.Config

	// Logger receives the security events (login, logout, fingerprint
	// mismatch, expiry, revocation, store errors). What it is given never
	// holds a session ID, a cookie value or a raw header (Event.Request,
	// which OnEvent receives, is never logged). Default: slog.Default().
	Logger *slog.Logger

	// OnEvent, when set, is called with every security event too, for
	// metrics or alerting. It runs in the request's goroutine. For an
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

	// Now returns the current time. Default: time.Now. Tests inject a clock.
	Now func() time.Time
}

// withDefaults returns cfg with each zero field that has a default set to
// it (see each field).
func (cfg Config) withDefaults() Config {
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout == 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.SameSite == 0 {
		cfg.SameSite = http.SameSiteStrictMode
	}
	if cfg.MaxSessionBytes == 0 {
		cfg.MaxSessionBytes = DefaultMaxSessionBytes
	}
	if cfg.MaxSessionsPerUser == 0 {
		cfg.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	}
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
	if cfg.CookieName != "" {
		return checkName(cfg.CookieName, defaultOptions(cfg))
	}
	return nil
}
