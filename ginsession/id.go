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

// atRest returns the at-rest name of the session with ID id,
// base64url(SHA-256(id)), without allocating. Only this digest is written
// to Redis, so a dump, MONITOR output or a replica never shows a usable ID.
func atRest(id string) (name [idLen]byte) {
	sum := sha256.Sum256([]byte(id))
	b64.Encode(name[:], sum[:])
	return name
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

// sessionKey returns the Redis key of the session with ID id: KeyPrefix
// and its at-rest name, in one allocation.
func (s *Store) sessionKey(id string) string {
	enc := atRest(id)
	var b strings.Builder
	b.Grow(len(s.cfg.KeyPrefix) + idLen)
	b.WriteString(s.cfg.KeyPrefix)
	b.Write(enc[:])
	return b.String()
}

// atRestKey returns the Redis key of the session whose at-rest name is atRest.
func (s *Store) atRestKey(atRest string) string { return s.cfg.KeyPrefix + atRest }

// userKey returns the Redis key of userID's session index.
func (s *Store) userKey(userID string) string { return s.cfg.KeyPrefix + "u:" + userID }

// ref returns a session's ref, its opaque and non-secret name in our API:
// the first 16 characters (96 bits) of its at-rest name. Logs, events,
// SessionInfo.Ref and sessions.Session.ID() show it instead of the ID.
func (s *Store) ref(atRest string) string { return atRest[:refLen] }

// refLen is the length of a session ref.
const refLen = 16
