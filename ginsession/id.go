package ginsession

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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
