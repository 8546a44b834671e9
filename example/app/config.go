package app

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sessionshield/sessionshield/ginsession"
)

// The values of APP_ENV.
const (
	// EnvDevelopment is the default: plain http, an "id" cookie without
	// Secure, and fallbacks for a missing secret or Redis.
	EnvDevelopment = "development"
	// EnvProduction requires REDIS_URL and SESSION_SECRET and sends a
	// "__Host-id" cookie with Secure.
	EnvProduction = "production"
)

// The defaults of Config.
const (
	DefaultPort         = 8080
	DefaultAccountLimit = 5
	DefaultIPLimit      = 20
	DefaultSignupLimit  = 20
	DefaultWindow       = 15 * time.Minute
	// DefaultSuccessLimit successful logins per account in
	// DefaultSuccessWindow.
	DefaultSuccessLimit  = 10
	DefaultSuccessWindow = time.Minute
	// DefaultRefusalDelay is how long a throttled request waits for its
	// 429 at most.
	DefaultRefusalDelay = time.Second
	// DefaultHashQueuePerSlot is how many requests may wait for a password
	// hashing slot, per slot: 16 on 2 cores, about 0.4 s of hashing.
	DefaultHashQueuePerSlot = 8
	// DefaultHashMaxWait bounds the wait for a password hashing slot.
	DefaultHashMaxWait = 2 * time.Second
	// DefaultHealthTimeout bounds GET /healthz.
	DefaultHealthTimeout = 2 * time.Second
	// MinSecretLen is the shortest SESSION_SECRET accepted, in bytes.
	MinSecretLen = 32
	// MaxBodyBytes caps every request body.
	MaxBodyBytes = 8 << 10
)

// ErrConfig is wrapped by every error of LoadConfig and New that comes from
// the configuration. Its messages fit on one line and never contain a
// secret or a password from REDIS_URL.
var ErrConfig = errors.New("config")

// Config configures the example application. LoadConfig fills it from the
// environment; tests build it directly. Zero values mean the documented
// defaults.
type Config struct {
	// Env is EnvDevelopment (the default) or EnvProduction.
	Env string

	// RedisMode is RedisStandalone (the default), RedisCluster or
	// RedisSentinel (REDIS_MODE): which go-redis client Open builds from
	// RedisURL, and which URL format RedisURL is in.
	RedisMode string

	// RedisURL is a redis:// or rediss:// URL (REDIS_URL) in the format of
	// go-redis's parser for RedisMode: redis.ParseURL, ParseClusterURL or
	// ParseFailoverURL, query options included. Required in production,
	// and in cluster and sentinel mode. In development standalone mode,
	// when empty, Open uses localhost:6379 if it answers and an in-process
	// Redis otherwise.
	RedisURL string

	// MetricsAddr is the address of a separate listener that serves
	// Prometheus metrics at /metrics (METRICS_ADDR, e.g. 127.0.0.1:9090).
	// When empty, development serves /metrics on the application's own
	// listener and production serves no metrics.
	MetricsAddr string

	// LocalCache turns on the session store's local cache of guarded
	// reads for this long (LOCAL_CACHE, a Go duration such as 1s; see
	// ginsession.Config.LocalCache): hits answer without Redis, and a
	// session ended on another instance is refused within it. Default: 0,
	// off.
	LocalCache time.Duration

	// HealthTimeout bounds GET /healthz: when Redis has not answered by
	// then, it answers 503. Default: 2 seconds.
	HealthTimeout time.Duration

	// Secret signs session cookies (SESSION_SECRET: at least 32 random
	// bytes; ginsession.CheckSecret refuses one that is obviously not
	// random).
	// Required in production. In development, when empty, New generates
	// one and warns that sessions will not survive a restart.
	Secret []byte

	// Addr is the listen address. LoadConfig sets it from HOST and PORT:
	// 127.0.0.1:8080 in development, :8080 in production.
	Addr string

	// TrustedProxies are the proxies (IPs or CIDRs) whose
	// X-Forwarded-For Gin believes (TRUSTED_PROXIES). Default: none, so the
	// client IP is the peer's address.
	TrustedProxies []string

	// KeyPrefix is put in front of every Redis key (KEY_PREFIX): sessions
	// live under KeyPrefix+"sess:", users and throttle counters under
	// KeyPrefix+"app:". Default: "".
	KeyPrefix string

	// IdleTimeout and AbsoluteTimeout are the session timeouts. Default:
	// those of ginsession (30 minutes, 24 hours).
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration

	// AccountLimit is how many failed logins one account may have in
	// Window before /login answers 429 for it. Default: 5.
	AccountLimit int
	// IPLimit is how many failed logins one client IP may have in Window.
	// Default: 20.
	IPLimit int
	// SignupLimit is how many signups one client IP may make in Window.
	// Default: 20.
	SignupLimit int
	// Window is the throttling window, counted from a counter's first
	// attempt. Default: 15 minutes. IPv6 clients are counted per /64.
	Window time.Duration
	// SuccessLimit is how many successful password checks (logins, and
	// the current password of a password change or account deletion) one
	// account may have in SuccessWindow before /login answers 429 for it:
	// each costs an argon2id hash, and the password's holder could
	// otherwise keep the server's cores busy. Default: 10.
	SuccessLimit int
	// SuccessWindow is the window of SuccessLimit, counted from its first
	// success. Default: 1 minute.
	SuccessWindow time.Duration
	// RefusalDelay is how long a request the throttle refuses is held
	// before its 429 is sent (never longer than its Retry-After, and at
	// most 256 requests at once; the rest are answered at once): a client
	// that retries in a loop then costs about one request per RefusalDelay
	// instead of as many as the server can answer. Default: 1 second.
	RefusalDelay time.Duration

	// HashConcurrency is how many argon2id hashes (signup, login, password
	// change, account deletion) the process computes at once. Default:
	// GOMAXPROCS, at least 2.
	HashConcurrency int
	// HashQueue is how many requests may wait for a hashing slot when all
	// are busy; one more is answered 503 with Retry-After at once.
	// Default: 8 per slot.
	HashQueue int
	// HashMaxWait bounds a request's wait in the queue: when no slot
	// frees up by then it is answered 503 with Retry-After. Default:
	// 2 seconds.
	HashMaxWait time.Duration

	// AllowedOrigins are origins (scheme://host[:port], ALLOWED_ORIGINS)
	// accepted on state-changing requests besides the request's own Host:
	// set it when a proxy rewrites Host, or when a front end on another
	// origin calls the API. Default: none.
	AllowedOrigins []string

	// Password is the argon2id cost of new hashes. Default: DefaultParams.
	Password Params

	// Logger receives the application's and the session store's logs.
	// Default: slog.Default().
	Logger *slog.Logger

	// Now returns the current time, for the session store and the login
	// throttle. Default: time.Now. Tests inject a clock.
	Now func() time.Time

	// devRedisAddr is where Open looks for a Redis in development without
	// RedisURL. Default: localhost:6379. Tests point it at a dead port.
	devRedisAddr string
}

// Production reports whether c runs in production mode.
func (c Config) Production() bool { return c.Env == EnvProduction }

// CookieName is the session cookie's name: "__Host-id" in production,
// "id" in development (a __Host- cookie needs Secure, which plain http
// cannot carry in every browser).
func (c Config) CookieName() string {
	if c.Production() {
		return "__Host-id"
	}
	return "id"
}

// LoadConfig builds a Config from environment variables read through
// getenv (os.Getenv in main). It reads nothing else and starts nothing, so
// tests call it with a map. It returns an error wrapping ErrConfig, one line
// that says what to fix, when the environment cannot work: in production a
// missing REDIS_URL or SESSION_SECRET; anywhere a malformed value or a
// SESSION_SECRET that is short or obviously not random.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	switch env := strings.TrimSpace(getenv("APP_ENV")); env {
	case "", EnvDevelopment:
		c.Env = EnvDevelopment
	case EnvProduction:
		c.Env = EnvProduction
	default:
		return Config{}, fmt.Errorf("%w: APP_ENV must be %q or %q, got %q", ErrConfig, EnvDevelopment, EnvProduction, env)
	}

	c.RedisMode = strings.TrimSpace(getenv("REDIS_MODE"))
	if c.RedisMode == "" {
		c.RedisMode = RedisStandalone
	}
	c.RedisURL = strings.TrimSpace(getenv("REDIS_URL"))
	if c.RedisURL != "" {
		if _, err := parseRedisTarget(c.RedisMode, c.RedisURL); err != nil {
			return Config{}, err
		}
	} else if err := c.needsRedisURL(); err != nil {
		return Config{}, err
	}
	if a := strings.TrimSpace(getenv("METRICS_ADDR")); a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return Config{}, fmt.Errorf("%w: METRICS_ADDR must be host:port, like 127.0.0.1:9090, got %q", ErrConfig, a)
		}
		c.MetricsAddr = a
	}

	if lc := strings.TrimSpace(getenv("LOCAL_CACHE")); lc != "" {
		d, err := time.ParseDuration(lc)
		if err != nil || d < 0 || (d > 0 && d < time.Millisecond) {
			return Config{}, fmt.Errorf("%w: LOCAL_CACHE must be 0 (off) or a duration of at least 1ms, like 1s, got %q", ErrConfig, lc)
		}
		c.LocalCache = d
	}

	if s := getenv("SESSION_SECRET"); s != "" {
		if err := ginsession.CheckSecret([]byte(s)); err != nil {
			return Config{}, fmt.Errorf("%w: SESSION_SECRET: %w", ErrConfig, err)
		}
		c.Secret = []byte(s)
	} else if c.Production() {
		return Config{}, fmt.Errorf("%w: SESSION_SECRET is required in production (at least %d random bytes, e.g. openssl rand -base64 48)", ErrConfig, MinSecretLen)
	}

	port := DefaultPort
	if p := strings.TrimSpace(getenv("PORT")); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("%w: PORT must be a number from 1 to 65535, got %q", ErrConfig, p)
		}
		port = n
	}
	host := strings.TrimSpace(getenv("HOST"))
	if host == "" && !c.Production() {
		host = "127.0.0.1"
	}
	c.Addr = net.JoinHostPort(host, strconv.Itoa(port))

	if tp := strings.TrimSpace(getenv("TRUSTED_PROXIES")); tp != "" {
		for _, p := range strings.Split(tp, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if net.ParseIP(p) == nil {
				if _, _, err := net.ParseCIDR(p); err != nil {
					return Config{}, fmt.Errorf("%w: TRUSTED_PROXIES: %q is neither an IP nor a CIDR", ErrConfig, p)
				}
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	if ao := strings.TrimSpace(getenv("ALLOWED_ORIGINS")); ao != "" {
		for _, o := range strings.Split(ao, ",") {
			o = strings.TrimSpace(o)
			if o == "" {
				continue
			}
			if !validOrigin(o) {
				return Config{}, fmt.Errorf("%w: ALLOWED_ORIGINS: %q is not an origin like https://app.example.com", ErrConfig, o)
			}
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	c.KeyPrefix = getenv("KEY_PREFIX")
	return c, nil
}

// validOrigin reports whether s is a serialized origin: http or https, a
// host, an optional port, nothing else.
func validOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == "" && s == u.Scheme+"://"+u.Host
}

// needsRedisURL returns an error wrapping ErrConfig when c has no RedisURL
// but needs one: in production, and in every mode but standalone (the
// development fallbacks are single servers). An unknown RedisMode is
// refused here too.
func (c Config) needsRedisURL() error {
	switch c.RedisMode {
	case "", RedisStandalone:
		if c.Production() {
			return fmt.Errorf("%w: REDIS_URL is required in production (redis:// or rediss://)", ErrConfig)
		}
		return nil
	case RedisCluster, RedisSentinel:
		return fmt.Errorf("%w: REDIS_MODE=%s needs REDIS_URL (see docs/redis-example.md for its format)", ErrConfig, c.RedisMode)
	default:
		return fmt.Errorf("%w: REDIS_MODE must be %q, %q or %q, got %q", ErrConfig, RedisStandalone, RedisCluster, RedisSentinel, c.RedisMode)
	}
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	c.Env = cmp.Or(c.Env, EnvDevelopment)
	c.AccountLimit = cmp.Or(c.AccountLimit, DefaultAccountLimit)
	c.IPLimit = cmp.Or(c.IPLimit, DefaultIPLimit)
	c.SignupLimit = cmp.Or(c.SignupLimit, DefaultSignupLimit)
	c.devRedisAddr = cmp.Or(c.devRedisAddr, devRedisAddr)
	c.RedisMode = cmp.Or(c.RedisMode, RedisStandalone)
	c.HealthTimeout = cmp.Or(c.HealthTimeout, DefaultHealthTimeout)
	c.Window = cmp.Or(c.Window, DefaultWindow)
	c.SuccessLimit = cmp.Or(c.SuccessLimit, DefaultSuccessLimit)
	c.SuccessWindow = cmp.Or(c.SuccessWindow, DefaultSuccessWindow)
	c.RefusalDelay = cmp.Or(c.RefusalDelay, DefaultRefusalDelay)
	c.HashConcurrency = cmp.Or(c.HashConcurrency, max(2, runtime.GOMAXPROCS(0)))
	c.HashQueue = cmp.Or(c.HashQueue, DefaultHashQueuePerSlot*c.HashConcurrency)
	c.HashMaxWait = cmp.Or(c.HashMaxWait, DefaultHashMaxWait)
	if c.Password == (Params{}) {
		c.Password = DefaultParams
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
