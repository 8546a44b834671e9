// Package app is the example JSON API of sessionshield: signup, login with
// argon2id passwords and a Redis-backed brute-force throttle, a profile
// behind ginsession.RequireAuth, logout, a "your sessions" list, password
// change and account deletion, with CSRF checks and no-store caching on
// every route, a page at / that drives the API from a browser, Prometheus
// metrics, and a Redis client for a single server, a Cluster or Sentinel
// (REDIS_MODE; see redis.go for the client options it sets). The runnable
// program is ../main.go (go run ./example); this package holds everything
// it runs, so tests can build the same router.
package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

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
	closers  []func()
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
		Logger:          log,
		Now:             cfg.Now,
		OnEvent:         m.event,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	appPrefix := cfg.KeyPrefix + "app:"
	return &App{
		cfg:   cfg,
		rdb:   rdb,
		store: store,
		users: newUsers(rdb, appPrefix, cfg.Password, cfg.Now, log),
		throttle: &throttle{
			rdb: rdb, prefix: appPrefix, now: cfg.Now,
			accountLimit: cfg.AccountLimit, ipLimit: cfg.IPLimit, signupLimit: cfg.SignupLimit,
			window: cfg.Window,
		},
		metrics: m,
		log:     log,
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
// ErrUnavailable, and a cancelled ctx returns its error. A hash stored with other parameters than
// the configured ones is replaced after a successful check.
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
	auth.POST("/password", a.changePassword)
	auth.DELETE("/account", a.deleteAccount)
	a.routePage(r)
	return r, nil
}

// credentials is the body of /signup and /login.
type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// decodeJSON reads the request body, one JSON object with no unknown
// fields and nothing after it, into v, answering 413 or 400 itself when it
// cannot.
func decodeJSON(c *gin.Context, v any) bool {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return true
		}
		if err == nil {
			err = errors.New("data after the JSON object")
		}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		fail(c, http.StatusRequestEntityTooLarge, "request body too large")
	} else {
		fail(c, http.StatusBadRequest, "invalid JSON body")
	}
	return false
}

// admitted reports whether a request the throttle counted may go on. When
// not, it has answered: 503 when the throttle could not count (err), 429
// with Retry-After (whole seconds, rounded up) and msg when the client must
// wait, logging event with the client IP.
func (a *App) admitted(c *gin.Context, wait time.Duration, err error, event, msg string) bool {
	switch {
	case err != nil:
		a.unavailable(c, err)
		return false
	case wait > 0:
		a.log.Warn(event, "ip", c.ClientIP())
		c.Header("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		fail(c, http.StatusTooManyRequests, msg)
		return false
	}
	return true
}

// unavailable answers 503 and logs err, which never holds a secret (Redis
// and ginsession errors carry no IDs, cookies or passwords). A request the
// client cancelled is logged at Info: nobody reads its answer, and it says
// nothing about the store.
func (a *App) unavailable(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		a.log.Info("request cancelled by the client", "route", c.FullPath())
		fail(c, http.StatusServiceUnavailable, "service unavailable")
		return
	}
	a.log.Error("store unavailable", "route", c.FullPath(), "error", err.Error())
	fail(c, http.StatusServiceUnavailable, "service unavailable")
}

// healthz answers 200 when Redis answers within HealthTimeout and, for a
// Cluster, every master says cluster_state:ok with all slots ok; otherwise
// 503 with a short reason. The check runs in its own goroutine, so the
// answer comes at HealthTimeout even from a client that ignores context
// deadlines; the check itself ends with the client's own timeouts.
func (a *App) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.HealthTimeout)
	defer cancel()
	type result struct {
		reason string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		if cc, ok := a.rdb.(*redis.ClusterClient); ok {
			reason, err := clusterHealth(ctx, cc)
			done <- result{reason, err}
			return
		}
		if err := a.rdb.Ping(ctx).Err(); err != nil {
			done <- result{"redis does not answer", err}
			return
		}
		done <- result{}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		res = result{"redis did not answer within " + a.cfg.HealthTimeout.String(), ctx.Err()}
	}
	if res.reason != "" {
		a.log.Error("health check failed", "reason", res.reason, "error", res.err.Error())
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "service unavailable", "reason": res.reason})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (a *App) signup(c *gin.Context) {
	var in credentials
	if !decodeJSON(c, &in) {
		return
	}
	email := normalizeEmail(in.Email)
	if field, msg := validateSignup(email, in.Password); field != "" {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": msg, "field": field})
		return
	}
	// Every signup counts against the client's limit: each costs an
	// argon2id hash, and each 409 tells whether an email is registered.
	ctx, ip := c.Request.Context(), c.ClientIP()
	wait, tk, err := a.throttle.reserveSignup(ctx, ip)
	if !a.admitted(c, wait, err, "signup throttled", "too many signups, try again later") {
		return
	}
	user, err := a.users.create(ctx, email, in.Password)
	switch {
	case errors.Is(err, ErrEmailTaken):
		fail(c, http.StatusConflict, "email already registered")
		return
	case err != nil:
		a.throttle.release(ctx, tk)
		a.unavailable(c, err)
		return
	}
	a.log.Info("signup", "user", user.ID)
	c.JSON(http.StatusCreated, gin.H{"id": user.ID, "email": user.Email})
}

func (a *App) login(c *gin.Context) {
	var in credentials
	if !decodeJSON(c, &in) {
		return
	}
	email := normalizeEmail(in.Email)
	switch {
	case email == "" || in.Password == "":
		fail(c, http.StatusBadRequest, "email and password are required")
		return
	case len(in.Password) > MaxPasswordBytes:
		// No account has such a password: refuse before any argon2id work.
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{
			"error": fmt.Sprintf("password must be at most %d bytes", MaxPasswordBytes), "field": "password"})
		return
	}
	// The attempt is counted before the password is checked, so parallel
	// guesses cannot all pass a check made before any of them was counted.
	ctx, ip := c.Request.Context(), c.ClientIP()
	wait, tk, err := a.throttle.reserveLogin(ctx, email, ip)
	if !a.admitted(c, wait, err, "login throttled", "too many failed logins, try again later") {
		return
	}
	user, err := a.users.authenticate(ctx, email, in.Password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		a.log.Info("login failed", "ip", ip) // the attempt stays counted
		fail(c, http.StatusUnauthorized, "invalid credentials")
		return
	case err != nil:
		a.throttle.release(ctx, tk)
		a.unavailable(c, err)
		return
	}
	if err := a.throttle.succeeded(ctx, email, tk); err != nil {
		a.unavailable(c, err)
		return
	}
	if err := ginsession.Login(c, user.ID); err != nil {
		if errors.Is(err, ginsession.ErrStoreUnavailable) {
			a.unavailable(c, err)
			return
		}
		panic(err) // a programming error (no session middleware, bad cookie name)
	}
	c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
}

func (a *App) logout(c *gin.Context) {
	if err := ginsession.Logout(c); err != nil {
		if errors.Is(err, ginsession.ErrStoreUnavailable) {
			a.unavailable(c, err)
			return
		}
		panic(err)
	}
	c.JSON(http.StatusOK, gin.H{"message": "Logged out"})
}

func (a *App) profile(c *gin.Context) {
	id := ginsession.UserID(c)
	user, _, err := a.users.get(c.Request.Context(), id)
	if err != nil {
		a.unavailable(c, err)
		return
	}
	if user == nil { // the account was deleted while the session lived
		fail(c, http.StatusUnauthorized, "not logged in")
		return
	}
	c.JSON(http.StatusOK, gin.H{"userId": user.ID, "email": user.Email})
}

func (a *App) sessions(c *gin.Context) {
	list, err := a.store.UserSessions(c.Request.Context(), ginsession.UserID(c), sessions.Default(c).ID())
	if err != nil {
		a.unavailable(c, err)
		return
	}
	if list == nil {
		list = []ginsession.SessionInfo{}
	}
	// limit is how many sessions the user may have: a login beyond it
	// ends the oldest (ginsession.Config.MaxSessionsPerUser, default 10).
	c.JSON(http.StatusOK, gin.H{"sessions": list, "limit": a.store.MaxSessionsPerUser()})
}

// revokeSession ends one of the caller's sessions. Ending the caller's own
// session is a logout, so its cookie is expired too.
func (a *App) revokeSession(c *gin.Context) {
	ctx, uid, ref := c.Request.Context(), ginsession.UserID(c), c.Param("ref")
	list, err := a.store.UserSessions(ctx, uid, sessions.Default(c).ID())
	if err != nil {
		a.unavailable(c, err)
		return
	}
	for _, s := range list {
		if s.Ref == ref && s.Current {
			a.logout(c)
			return
		}
	}
	switch err := a.store.RevokeSession(ctx, uid, ref); {
	case errors.Is(err, ginsession.ErrUnknownSession):
		fail(c, http.StatusNotFound, "no such session")
	case err != nil:
		a.unavailable(c, err)
	default:
		c.JSON(http.StatusOK, gin.H{"message": "Session revoked"})
	}
}

// logoutAll ends every session of the caller, this one included.
func (a *App) logoutAll(c *gin.Context) {
	n, err := a.store.RevokeUser(c.Request.Context(), ginsession.UserID(c))
	if err != nil {
		a.unavailable(c, err)
		return
	}
	if err := ginsession.Logout(c); err != nil && errors.Is(err, ginsession.ErrStoreUnavailable) {
		a.unavailable(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "Logged out everywhere", "revoked": n})
}
