// Package app is the example JSON API of sessionshield: signup, login with
// argon2id passwords and a Redis-backed brute-force throttle, a profile
// behind ginsession.RequireAuth, logout, a "your sessions" list, password
// change and account deletion, with CSRF checks and no-store caching on
// every route, a page at / that drives the API from a browser, Prometheus
// metrics, and a Redis client for a single server, a Cluster or Sentinel
// (REDIS_MODE; see redis.go for the client options it sets). The runnable
// program is ../main.go (go run ./example); this package holds everything
// it runs, so tests can build the same router.
//
// The files, one concern each:
//
//	app.go         App, New and Router: the routes and the middleware chain
//	auth.go        the signup, login, logout and profile handlers
//	sessions.go    the "your sessions" list, revoking one, logging out the
//	               other devices or everywhere
//	account.go     password change and account deletion, with re-authentication
//	health.go      /healthz, Cluster state included
//	page.go        the page at / and its assets, with their security headers
//	csrf.go        the cross-site request check
//	middleware.go  no-store, the body limit, recovery and the request log
//	respond.go     reading JSON bodies and answering errors (400, 413, 429, 503)
//	users.go       users in Redis: records, the email index, authentication
//	password.go    argon2id hashes in PHC strings
//	hashqueue.go   the bound on concurrent argon2id hashes and their queue
//	throttle.go    the login and signup throttle's counters in Redis
//	metrics.go     the Prometheus metrics
//	config.go      Config, its defaults and LoadConfig (the environment)
//	redis.go       REDIS_URL and REDIS_MODE to a go-redis client, and its checks
//	open.go        Open: Redis (or the in-process one) and the startup checks
//	server.go      Run: serving, the metrics listener and the graceful stop
package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/ginsession"
)

// App is the example application: its configuration, Redis client,
// session store, users, login throttle and metrics.
type App struct {
	cfg      Config
	rdb      redis.UniversalClient
	store    *ginsession.Store
	users    *users
	throttle *throttle
	metrics  *metrics
	log      *slog.Logger
	held     chan struct{} // the refused requests hold keeps (see maxHeld)
	closers  []func()

	// beforeLogin, when set, is called by startSession just before
	// ginsession.Login: tests hold a login there, after its password check.
	beforeLogin func()
}

// New builds the application on rdb, which it does not close. It returns
// an error wrapping ErrConfig when cfg cannot run: in production without a
// secret; anywhere with a secret that is under 32 bytes or obviously not
// random, or a bad store setting. In development without a secret it
// generates one and warns that sessions will not survive a restart.
func New(cfg Config, rdb redis.UniversalClient) (*App, error) {
	cfg = cfg.withDefaults()
	log := cfg.Logger
	switch {
	case cfg.Env != EnvDevelopment && cfg.Env != EnvProduction:
		return nil, fmt.Errorf("%w: Env must be %q or %q", ErrConfig, EnvDevelopment, EnvProduction)
	case rdb == nil:
		return nil, fmt.Errorf("%w: a Redis client is required", ErrConfig)
	case cfg.SuccessLimit < 0 || cfg.SuccessWindow < 0 || cfg.RefusalDelay < 0 ||
		cfg.HashConcurrency < 0 || cfg.HashQueue < 0 || cfg.HashMaxWait < 0:
		return nil, fmt.Errorf("%w: SuccessLimit, SuccessWindow, RefusalDelay, HashConcurrency, HashQueue and HashMaxWait must not be negative", ErrConfig)
	case len(cfg.Secret) == 0 && cfg.Production():
		return nil, fmt.Errorf("%w: SESSION_SECRET is required in production", ErrConfig)
	case len(cfg.Secret) == 0:
		cfg.Secret = make([]byte, 48)
		_, _ = rand.Read(cfg.Secret)
		log.Warn("SESSION_SECRET is not set: using a random secret; sessions will not survive a restart")
	default:
		if err := ginsession.CheckSecret(cfg.Secret); err != nil {
			return nil, fmt.Errorf("%w: SESSION_SECRET: %w", ErrConfig, err)
		}
	}
	m := newMetrics(rdb)
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets:         [][]byte{cfg.Secret},
		KeyPrefix:       cfg.KeyPrefix + "sess:",
		IdleTimeout:     cfg.IdleTimeout,
		AbsoluteTimeout: cfg.AbsoluteTimeout,
		Insecure:        !cfg.Production(),
		CookieName:      cfg.CookieName(),
		LocalCache:      cfg.LocalCache,
		Logger:          log,
		Now:             cfg.Now,
		OnEvent:         m.event,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.LocalCache > 0 {
		m.registry.MustRegister(newCacheCollector(store))
	}
	appPrefix := cfg.KeyPrefix + "app:"
	return &App{
		closers: []func(){func() { _ = store.Close() }},
		cfg:     cfg,
		rdb:     rdb,
		store:   store,
		users: newUsers(rdb, appPrefix, cfg.Password, cfg.Now, log,
			newHashQueue(cfg.HashConcurrency, cfg.HashQueue, cfg.HashMaxWait)),
		throttle: &throttle{
			rdb: rdb, prefix: appPrefix, now: cfg.Now,
			accountLimit: cfg.AccountLimit, ipLimit: cfg.IPLimit, signupLimit: cfg.SignupLimit,
			window:       cfg.Window,
			successLimit: cfg.SuccessLimit, successWindow: cfg.SuccessWindow,
		},
		metrics: m,
		log:     log,
		held:    make(chan struct{}, maxHeld),
	}, nil
}

// Store returns the application's session store.
func (a *App) Store() *ginsession.Store { return a.store }

// MetricsHandler returns the handler that serves the application's
// Prometheus metrics (its own registry) in the text format: the security
// events by type, the request latency by route and status, and the Redis
// connection pool. Serve it where only the monitoring system can reach it.
func (a *App) MetricsHandler() http.Handler { return a.metrics.handler() }

// Config returns the configuration the application runs with, defaults
// filled in. Its Secret is the one in use (generated in development when
// none was set): never log it.
func (a *App) Config() Config { return a.cfg }

// Close releases what Open started (the Redis client, the in-process
// Redis). It does nothing for an App built with New.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Authenticate returns the user whose email (compared in lower case) and
// password match. An unknown email and a wrong password both return
// ErrInvalidCredentials after the same argon2id work, and so does a
// password longer than MaxPasswordBytes (without hashing it); an email or
// password that is empty (after trimming the email) returns
// ErrMissingCredentials; a Redis failure returns an error wrapping
// ErrUnavailable, a full password hash queue an error wrapping ErrBusy, and
// a cancelled ctx its error. A hash stored with other parameters than the
// configured ones is replaced after a successful check.
func (a *App) Authenticate(ctx context.Context, email, password string) (*User, error) {
	return a.users.authenticate(ctx, email, password)
}

// Router returns a new Gin engine serving the API:
//
//	POST   /signup       {email, password} -> 201 {id, email}
//	POST   /login        {email, password} -> 200 {message} + session cookie
//	POST   /logout       -> 200 {message}
//	GET    /profile      -> 200 {userId, email}             (logged in)
//	GET    /sessions     -> 200 {sessions: [...], limit}    (logged in)
//	DELETE /sessions/:ref -> 200 {message}                  (logged in)
//	POST   /logout-all   -> 200 {message, revoked}          (logged in)
//	POST   /logout-others -> 200 {message, revoked}         (logged in)
//	POST   /password     {current, new} -> 200 {message} + new cookie (logged in)
//	DELETE /account      {password} -> 200 {message}        (logged in)
//	GET    /healthz      -> 200 {status} or 503 {error, reason}
//	GET    /metrics      -> Prometheus text format (development without MetricsAddr only)
//	GET    /             -> the page that drives this API from a browser
//	GET    /assets/...   -> the page's script, style sheet and icon
//
// Every response but /metrics has Cache-Control: no-store. Every API
// response is JSON, and errors are {"error": "..."}; the page and its
// assets carry the security headers of securityHeaders. It returns an
// error for a bad TRUSTED_PROXIES entry. In production, or with
// MetricsAddr set, /metrics is not on this router: MetricsHandler serves
// it on a listener of its own (Run starts one on MetricsAddr).
func (a *App) Router() (*gin.Engine, error) {
	r := gin.New()
	if err := r.SetTrustedProxies(a.cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("%w: TRUSTED_PROXIES: %w", ErrConfig, err)
	}
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) { fail(c, http.StatusNotFound, "not found") })
	r.NoMethod(func(c *gin.Context) { fail(c, http.StatusMethodNotAllowed, "method not allowed") })
	r.Use(a.metrics.observe(), requestLog(a.log), recovery(a.log), noStore(), limitBody(MaxBodyBytes), csrf(a.cfg.AllowedOrigins),
		sessions.Sessions(a.cfg.CookieName(), a.store))

	r.GET("/healthz", a.healthz)
	if a.cfg.MetricsAddr == "" && !a.cfg.Production() {
		r.GET("/metrics", gin.WrapH(a.MetricsHandler()))
	}
	r.POST("/signup", a.signup)
	r.POST("/login", a.login)
	r.POST("/logout", a.logout)
	auth := r.Group("/", ginsession.RequireAuth())
	auth.GET("/profile", a.profile)
	auth.GET("/sessions", a.sessions)
	auth.DELETE("/sessions/:ref", a.revokeSession)
	auth.POST("/logout-all", a.logoutAll)
	auth.POST("/logout-others", a.logoutOthers)
	auth.POST("/password", a.changePassword)
	auth.DELETE("/account", a.deleteAccount)
	a.routePage(r)
	return r, nil
}
