package app

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessionshield/sessionshield/ginsession"
)

// credentials is the body of /signup and /login.
type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Remember asks /login for a remembered session ("keep me signed in":
	// ginsession.Remember); /signup ignores it.
	Remember bool `json:"remember"`
}

// signup creates an account: 201 with its ID and email, 409 when the email
// is taken, 429 when the client signed up too often.
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
	refused, tk, err := a.throttle.reserveSignup(ctx, ip)
	if !a.admitted(c, refused, err, "signup throttled") {
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

// login checks the email and password and starts a session under a new
// session ID (ginsession.Login); 401 for wrong credentials or when the
// user's sessions were revoked during the check, 429 when throttled, 503
// when Redis fails or the password hashing queue is full.
func (a *App) login(c *gin.Context) {
	checked := a.cfg.Now() // before the password hash is read: see ginsession.CheckedAt
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
	refused, tk, err := a.throttle.reserveLogin(ctx, email, ip)
	if !a.admitted(c, refused, err, "login throttled") {
		return
	}
	user, err := a.users.authenticate(ctx, email, in.Password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		a.throttle.failed(ctx, email, tk)
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
	opts := []ginsession.LoginOption{ginsession.CheckedAt(checked)}
	if in.Remember {
		opts = append(opts, ginsession.Remember())
	}
	if !a.startSession(c, user.ID, opts...) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
}

// startSession logs user in on this request under a new session ID
// (ginsession.Login, with opts) and reports whether it did (see
// lifecycleOK).
func (a *App) startSession(c *gin.Context, userID string, opts ...ginsession.LoginOption) bool {
	if a.beforeLogin != nil {
		a.beforeLogin()
	}
	return a.lifecycleOK(c, ginsession.Login(c, userID, opts...))
}

// staleLogin is the error of a login refused with ginsession.ErrStaleLogin.
const staleLogin = "your sessions were ended while you were logging in: log in again"

// lifecycleOK reports whether a ginsession.Login or Logout returned nil.
// When Redis failed it has answered 503; when Login refused credentials
// checked before a revocation of the user (ErrStaleLogin), 401 {"error":
// staleLogin}. Any other error is a wiring mistake (no session middleware,
// a bad cookie name) and panics, so the recovery middleware answers 500
// rather than a login or logout that did not happen.
func (a *App) lifecycleOK(c *gin.Context, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, ginsession.ErrStoreUnavailable):
		a.unavailable(c, err)
		return false
	case errors.Is(err, ginsession.ErrStaleLogin):
		a.log.Info("login refused: the user's sessions were revoked during the check", "ip", c.ClientIP())
		fail(c, http.StatusUnauthorized, staleLogin)
		return false
	default:
		panic(err)
	}
}

// logout ends the caller's session and expires its cookie.
func (a *App) logout(c *gin.Context) {
	if !a.endCurrent(c) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "Logged out"})
}

// endCurrent logs the request's session out (ginsession.Logout) and
// reports whether it did (see lifecycleOK).
func (a *App) endCurrent(c *gin.Context) bool {
	return a.lifecycleOK(c, ginsession.Logout(c))
}

// profile answers the logged-in user's ID and email.
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
