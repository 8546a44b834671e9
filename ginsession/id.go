package ginsession

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// idBytes is the size of a session ID before encoding: 256 bits from
// crypto/rand.
const idBytes = 32

// idLen is the length of an encoded session ID (base64url, no padding).
const idLen = 43

var b64 = base64.RawURLEncoding

// newID returns a fresh session ID: 32 bytes from crypto/rand, base64url.
func newID() string {
	var b [idBytes]byte
	// crypto/rand.Read never returns an error on supported platforms; it
	// crashes the program irrecoverably instead (Go 1.24+).
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// atRestName returns the at-rest name of a session: base64url(SHA-256(id)).
// Only this digest is ever written to Redis, so a dump, MONITOR output or a
// replica never shows a usable ID.
func atRestName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return b64.EncodeToString(sum[:])
}

// indexMember returns how a session is named in its user's index: the 32
// raw bytes of the SHA-256 digest behind its at-rest name, 11 bytes smaller
// than the base64url form, which keeps a login's index inside a smaller
// Redis allocation.
func indexMember(atRest string) string {
	raw, _ := b64.DecodeString(atRest)
	return string(raw)
}

// memberAtRest reverses indexMember.
func memberAtRest(member string) string {
	return b64.EncodeToString([]byte(member))
}

// sessionKey returns the Redis key of the session with ID id:
// <KeyPrefix><base64url(SHA-256(id))>, built in one allocation.
func (s *Store) sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	var enc [idLen]byte
	b64.Encode(enc[:], sum[:])
	var b strings.Builder
	b.Grow(len(s.cfg.KeyPrefix) + idLen)
	b.WriteString(s.cfg.KeyPrefix)
	b.Write(enc[:])
	return b.String()
}

// atRestKey returns the Redis key of the session whose at-rest name is atRest.
func (s *Store) atRestKey(atRest string) string { return s.cfg.KeyPrefix + atRest }

func (s *Store) userKey(userID string) string { return s.cfg.KeyPrefix + "u:" + userID }

// ref returns the opaque, non-secret reference of a session: what logs,
// events, Session.ID and the sessions list show instead of the ID. It is
// the first 16 characters (96 bits) of the at-rest name, base64url(SHA-256
// (ID)): it cannot be turned back into the ID, and costs nothing to compute
// on every load (a keyed hash would add nothing: the ID has 256 random bits
// and the at-rest name is no secret).
func (s *Store) ref(atRest string) string { return atRest[:refLen] }

// refLen is the length of a session reference.
const refLen = 16
