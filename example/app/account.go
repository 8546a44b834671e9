package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessionshield/sessionshield/ginsession"
)

// passwordChange is the body of POST /password.
type passwordChange struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// accountDeletion is the body of DELETE /account.
type accountDeletion struct {
	Password string `json:"password"`
}

// Both routes of this file ask for the current password, not for a recent
// login (ginsession.RequireFreshAuth). A fresh login only proves that
// someone typed the password a few minutes ago: whoever holds the session
// then (a stolen cookie replayed from the same browser family, a browser
// left unlocked) could still change the password and lock the owner out,
// or delete the account. The current password proves the person asking
// knows it now, costs the user nothing (they type it in the same form),
// and needs no separate "log in again" step on the page. The check is
// throttled with the login throttle's counters, so a stolen session cannot
// guess more passwords than a login form would allow.

// reauthenticate checks that password is the current password of the
// logged-in user. It counts the attempt against the user's account and the
// client's IP exactly like a login and returns the user and the stored
// hash. When it returns false it has answered: 400 for a missing or
// oversized password, 401 when the user no longer exists, 403
// {"error":"invalid credentials"} for a wrong password (not 401, which the
// page reads as "logged out"), 429 or 503 as /login does.
func (a *App) reauthenticate(c *gin.Context, password, field string) (*User, string, bool) {
	switch {
	case password == "":
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "password is required", "field": field})
		return nil, "", false
	case len(password) > MaxPasswordBytes:
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{
			"error": fmt.Sprintf("password must be at most %d bytes", MaxPasswordBytes), "field": field})
		return nil, "", false
	}
	ctx, ip := c.Request.Context(), c.ClientIP()
	user, phc, err := a.users.get(ctx, ginsession.UserID(c))
	switch {
	case err != nil:
		a.unavailable(c, err)
		return nil, "", false
	case user == nil: // the account was deleted while the session lived
		fail(c, http.StatusUnauthorized, "not logged in")
		return nil, "", false
	}
	refused, tk, err := a.throttle.reserveLogin(ctx, user.Email, ip)
	if !a.admitted(c, refused, err, "reauthentication throttled") {
		return nil, "", false
	}
	ok, _, err := a.users.verify(ctx, password, phc)
	switch {
	case errors.Is(err, errBadHash):
		a.throttle.failed(ctx, user.Email, tk)
		a.log.Error("stored password hash is malformed; the user cannot log in", "user", user.ID)
		fail(c, http.StatusForbidden, "invalid credentials")
		return nil, "", false
	case err != nil:
		a.throttle.release(ctx, tk)
		a.unavailable(c, err)
		return nil, "", false
	case !ok:
		a.throttle.failed(ctx, user.Email, tk)
		a.log.Info("reauthentication failed", "ip", ip) // the attempt stays counted
		fail(c, http.StatusForbidden, "invalid credentials")
		return nil, "", false
	}
	if err := a.throttle.succeeded(ctx, user.Email, tk); err != nil {
		a.unavailable(c, err)
		return nil, "", false
	}
	return user, phc, true
}

// changePassword replaces the logged-in user's password. The old password
// stops working at once; every session of the user ends, and so does every
// login whose password check was under way (ginsession.RevokeUser); then
// this browser continues under a new session ID (ginsession.Login). It uses
// RevokeUser and a new login rather than RevokeOthers, which would keep
// this session's ID: someone who changes the password may fear the account
// was taken, and a copy of this very cookie must stop working too.
func (a *App) changePassword(c *gin.Context) {
	var in passwordChange
	if !decodeJSON(c, &in) {
		return
	}
	if msg := validatePassword(in.New); msg != "" {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": msg, "field": "new"})
		return
	}
	user, phc, ok := a.reauthenticate(c, in.Current, "current")
	if !ok {
		return
	}
	// Once the new hash is computed the writes go ahead even if the client
	// has gone: a password that changed must not leave the other sessions
	// alive.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), writeTimeout)
	defer cancel()
	switch err := a.users.setPassword(ctx, user.ID, phc, in.New); {
	case errors.Is(err, errPasswordChanged):
		fail(c, http.StatusConflict, "the password was changed by another request, try again")
		return
	case err != nil:
		a.unavailable(c, err)
		return
	}
	// A login with the old password read the hash before it changed, so
	// RevokeUser refuses it even when its Login comes later
	// (ginsession.CheckedAt). This session is among those RevokeUser ends;
	// Login, checked now (after the revocation), gives this browser a new
	// one. If Redis fails from here on, the answer is 503 with the new
	// password in place: "log out everywhere" ends the rest.
	if _, err := a.store.RevokeUser(ctx, user.ID); err != nil {
		a.unavailable(c, err)
		return
	}
	if !a.startSession(c, user.ID) {
		return
	}
	a.log.Info("password changed", "user", user.ID)
	c.JSON(http.StatusOK, gin.H{"message": "Password changed; every other session was logged out"})
}

// deleteAccount deletes the logged-in user: the user record, the email's
// entry in the email index (so the email can sign up again), every session
// and every login under way, and the account's login throttle counters.
// The session cookie is expired. What is left is the session index holding
// the revocation mark alone, which expires within 6 minutes.
func (a *App) deleteAccount(c *gin.Context) {
	var in accountDeletion
	if !decodeJSON(c, &in) {
		return
	}
	user, _, ok := a.reauthenticate(c, in.Password, "password")
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), writeTimeout)
	defer cancel()
	// Sessions first: if Redis fails after this, the account still exists
	// and its owner can log in and try again. Each RevokeUser also refuses
	// the logins whose password check began before it: the second ends or
	// refuses one that began after the first and read the record before it
	// went.
	if _, err := a.store.RevokeUser(ctx, user.ID); err != nil {
		a.unavailable(c, err)
		return
	}
	if err := a.users.remove(ctx, user); err != nil {
		a.unavailable(c, err)
		return
	}
	if _, err := a.store.RevokeUser(ctx, user.ID); err != nil {
		a.unavailable(c, err)
		return
	}
	if err := a.throttle.forget(ctx, user.Email); err != nil {
		a.unavailable(c, err)
		return
	}
	// The session is already gone from Redis; Logout expires the cookie. If
	// it fails the cookie stays, naming a session that no longer exists.
	if err := ginsession.Logout(c); err != nil && !errors.Is(err, ginsession.ErrStoreUnavailable) {
		panic(err)
	}
	a.log.Info("account deleted", "user", user.ID)
	c.JSON(http.StatusOK, gin.H{"message": "Account deleted"})
}
