package ginsession

import (
	"crypto/sha256"
	"strings"
)

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
