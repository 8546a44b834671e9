package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// The password policy: at least MinPasswordChars characters of any
// kind, no composition rules, and at most MaxPasswordBytes bytes so one
// request cannot make the server hash megabytes. Passwords are used exactly
// as received: no trimming, truncation or normalization.
const (
	MinPasswordChars = 8
	MaxPasswordBytes = 1024
	maxEmailBytes    = 254

	// writeTimeout bounds the Redis writes that follow a password hash,
	// which run even when the request is cancelled.
	writeTimeout = 5 * time.Second
)

// The errors of Authenticate and of signing up, for errors.Is.
var (
	// ErrInvalidCredentials is returned by Authenticate for an unknown
	// email and for a wrong password alike.
	ErrInvalidCredentials = errors.New("app: invalid credentials")
	// ErrMissingCredentials is returned by Authenticate when the email or
	// the password is empty.
	ErrMissingCredentials = errors.New("app: email and password are required")
	// ErrEmailTaken is returned by signup when the email is registered.
	ErrEmailTaken = errors.New("app: email already registered")
	// ErrUnavailable wraps every Redis failure; handlers answer 503.
	ErrUnavailable = errors.New("app: store unavailable")
)

// User is an account. It never carries the password hash outside this
// package.
type User struct {
	// ID is the user's random, opaque identifier: what ginsession.Login
	// stores in the session.
	ID string `json:"id"`
	// Email is the normalized (lower-case) email address.
	Email string `json:"email"`
	// Created is when the user signed up.
	Created time.Time `json:"-"`
}

// users keeps accounts in Redis: a hash per user at <prefix>user:<id>
// (email, hash, created) and one email index hash at <prefix>email
// (normalized email -> user ID).
type users struct {
	rdb    redis.UniversalClient
	prefix string
	params Params
	now    func() time.Time
	log    *slog.Logger
	dummy  string     // a hash of a random password, verified for unknown emails
	hashes *hashQueue // bounds concurrent argon2 runs (19 MiB each) and their queue
	hashed func()     // test hook: called in create after the hash, before the writes
	inHash func()     // test hook: called holding a hashing slot, before argon2 runs

	verifies atomic.Int64 // argon2 verifications, for tests
}

func newUsers(rdb redis.UniversalClient, prefix string, p Params, now func() time.Time, log *slog.Logger, hashes *hashQueue) *users {
	pw := make([]byte, 32)
	_, _ = rand.Read(pw)
	return &users{
		rdb:    rdb,
		prefix: prefix,
		params: p,
		now:    now,
		log:    log,
		dummy:  hashPassword(hex.EncodeToString(pw), p),
		hashes: hashes,
	}
}

func (u *users) userKey(id string) string { return u.prefix + "user:" + id }
func (u *users) indexKey() string         { return u.prefix + "email" }

// normalizeEmail trims and lower-cases an email, the form it is stored and
// looked up in.
func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// validateSignup returns the field and message of the first problem with a
// signup request, or "" when it is acceptable.
func validateSignup(email, password string) (field, msg string) {
	switch {
	case email == "":
		return "email", "email is required"
	case len(email) > maxEmailBytes:
		return "email", "email must be at most 254 bytes"
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || a.Name != "" {
		return "email", "email is not a valid address"
	}
	if msg := validatePassword(password); msg != "" {
		return "password", msg
	}
	return "", ""
}

// validatePassword returns what is wrong with a new password under the
// password policy, or "" when it is acceptable.
func validatePassword(password string) string {
	switch {
	case password == "":
		return "password is required"
	case len(password) > MaxPasswordBytes:
		return fmt.Sprintf("password must be at most %d bytes", MaxPasswordBytes)
	case utf8.RuneCountInString(password) < MinPasswordChars:
		return fmt.Sprintf("password must be at least %d characters", MinPasswordChars)
	}
	return ""
}

// hash runs argon2id for a new password in a slot of the hash queue. It
// returns an error wrapping ErrBusy, or ctx's error, when it got no slot
// (see hashQueue.acquire); no hash ran then.
func (u *users) hash(ctx context.Context, password string) (string, error) {
	if err := u.acquire(ctx); err != nil {
		return "", err
	}
	defer u.hashes.release()
	return hashPassword(password, u.params), nil
}

// verify checks password against phc in a slot of the hash queue, with the
// errors of hash when it got none.
func (u *users) verify(ctx context.Context, password, phc string) (bool, Params, error) {
	if err := u.acquire(ctx); err != nil {
		return false, Params{}, err
	}
	defer u.hashes.release()
	u.verifies.Add(1)
	return verifyPassword(password, phc)
}

// acquire takes a hashing slot and runs the inHash test hook in it.
func (u *users) acquire(ctx context.Context) error {
	if err := u.hashes.acquire(ctx); err != nil {
		return err
	}
	if u.inHash != nil {
		u.inHash()
	}
	return nil
}

// create registers a user. email must be normalized and validated. The
// user's record is written first and the email claimed last with HSETNX, so
// of two signups racing for one email exactly one wins and the loser's
// record is removed.
//
// Once the hash is computed the writes go ahead even if the client has
// gone: the work is done, and a signup must not become free (uncounted by
// the throttle) by hanging up during the hash. A cancelled ctx is returned
// as is only when no hash ran.
func (u *users) create(ctx context.Context, email, password string) (*User, error) {
	h, err := u.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	if u.hashed != nil {
		u.hashed()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	idb := make([]byte, 16)
	_, _ = rand.Read(idb)
	user := &User{ID: hex.EncodeToString(idb), Email: email, Created: u.now().UTC()}
	key := u.userKey(user.ID)
	if err := u.rdb.HSet(ctx, key, "email", email, "hash", h, "created", strconv.FormatInt(user.Created.UnixMilli(), 10)).Err(); err != nil {
		return nil, fmt.Errorf("%w: creating user: %w", ErrUnavailable, err)
	}
	won, err := u.rdb.HSetNX(ctx, u.indexKey(), email, user.ID).Result()
	if err != nil || !won {
		_ = u.rdb.Unlink(ctx, key).Err() // best effort: the record is unreachable anyway
		if err != nil {
			return nil, fmt.Errorf("%w: indexing user: %w", ErrUnavailable, err)
		}
		return nil, ErrEmailTaken
	}
	return user, nil
}

// get returns the user with id, or nil when there is none.
func (u *users) get(ctx context.Context, id string) (*User, string, error) {
	v, err := u.rdb.HMGet(ctx, u.userKey(id), "email", "hash", "created").Result()
	if err != nil {
		return nil, "", fmt.Errorf("%w: reading user: %w", ErrUnavailable, err)
	}
	email, _ := v[0].(string)
	h, _ := v[1].(string)
	if email == "" || h == "" {
		return nil, "", nil
	}
	user := &User{ID: id, Email: email}
	if s, _ := v[2].(string); s != "" {
		ms, _ := strconv.ParseInt(s, 10, 64)
		user.Created = time.UnixMilli(ms).UTC()
	}
	return user, h, nil
}

// rehashScript replaces a user's hash only if it is still the one that was
// verified, so a rehash never undoes a concurrent password change.
var rehashScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'hash') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'hash', ARGV[2])
  return 1
end
return 0
`)

// authenticate checks an email and password. An unknown email costs the
// same argon2id run as a wrong password and returns the same error. A
// password longer than MaxPasswordBytes cannot be anyone's, so it fails
// without hashing (the limit is public: the shortcut reveals nothing).
func (u *users) authenticate(ctx context.Context, email, password string) (*User, error) {
	email = normalizeEmail(email)
	switch {
	case email == "" || password == "":
		return nil, ErrMissingCredentials
	case len(password) > MaxPasswordBytes || len(email) > maxEmailBytes:
		return nil, ErrInvalidCredentials
	}
	id, err := u.rdb.HGet(ctx, u.indexKey(), email).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: looking up user: %w", ErrUnavailable, err)
	}
	var user *User
	phc := u.dummy
	if id != "" {
		var h string
		if user, h, err = u.get(ctx, id); err != nil {
			return nil, err
		}
		if user != nil {
			phc = h
		}
	}
	ok, stored, err := u.verify(ctx, password, phc)
	switch {
	case errors.Is(err, errBadHash) && user != nil:
		// Corrupt data, not a guess: refuse the login (not a 500) and tell
		// the operator which account needs a password reset. The dummy
		// hash is verified first, so the answer takes as long as for any
		// other account.
		_, _, _ = u.verify(ctx, password, u.dummy)
		u.log.Error("stored password hash is malformed; the user cannot log in", "user", user.ID)
		return nil, ErrInvalidCredentials
	case err != nil:
		return nil, err // no hashing slot: the request was cancelled, or the queue is full
	case !ok || user == nil:
		return nil, ErrInvalidCredentials
	}
	if needsRehash(stored, u.params) {
		if nh, err := u.hash(ctx, password); err == nil {
			_ = rehashScript.Run(ctx, u.rdb, []string{u.userKey(user.ID)}, phc, nh).Err() // best effort: retried on the next login
		}
	}
	return user, nil
}

// errPasswordChanged is returned by setPassword when the stored hash is no
// longer the one that was verified: another request changed the password.
var errPasswordChanged = errors.New("app: password changed concurrently")

// setPassword hashes password and stores it as the hash of user id, only
// if the stored hash is still verified (the one just checked). It returns
// errPasswordChanged when another request changed it first.
func (u *users) setPassword(ctx context.Context, id, verified, password string) error {
	h, err := u.hash(ctx, password)
	if err != nil {
		return err
	}
	n, err := rehashScript.Run(ctx, u.rdb, []string{u.userKey(id)}, verified, h).Int()
	switch {
	case err != nil:
		return fmt.Errorf("%w: changing password: %w", ErrUnavailable, err)
	case n == 0:
		return errPasswordChanged
	}
	return nil
}

// unindexScript removes the email index's entry for ARGV[1] only if it
// still names user ARGV[2]: the email may already belong to a new signup.
var unindexScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
`)

// remove deletes user's record and its entry in the email index, in one
// round trip. The two keys may live in different Cluster slots, so this is
// a pipeline, not a transaction; a login that finds one of them without
// the other fails like one for an unknown email.
func (u *users) remove(ctx context.Context, user *User) error {
	_, err := u.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		unindexScript.Eval(ctx, p, []string{u.indexKey()}, user.Email, user.ID)
		p.Unlink(ctx, u.userKey(user.ID))
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: deleting user: %w", ErrUnavailable, err)
	}
	return nil
}
