package app

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters of a password hash.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are the OWASP and ASVS 5 parameters for argon2id
// (m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte key).
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on the parameters of a stored hash, so that a tampered record
// cannot make one login allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // KiB (1 GiB)
	maxTime    = 16
	maxKeyLen  = 128
	maxSaltLen = 64
)

var errBadHash = errors.New("app: malformed password hash")

var phcB64 = base64.RawStdEncoding

// hashPassword returns the PHC string of password under p:
// $argon2id$v=19$m=<m>,t=<t>,p=<p>$<b64 salt>$<b64 key>.
func hashPassword(password string, p Params) string {
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, phcB64.EncodeToString(salt), phcB64.EncodeToString(key))
}

// parseHash splits a PHC argon2id string into its parameters, salt and key.
func parseHash(phc string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || n != 3 {
		return p, nil, nil, errBadHash
	}
	if salt, err = phcB64.Strict().DecodeString(parts[4]); err != nil {
		return p, nil, nil, errBadHash
	}
	if key, err = phcB64.Strict().DecodeString(parts[5]); err != nil {
		return p, nil, nil, errBadHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	switch {
	case p.Memory < 8*uint32(max(p.Threads, 1)) || p.Memory > maxMemory,
		p.Time < 1 || p.Time > maxTime,
		p.Threads < 1,
		p.SaltLen < 8 || p.SaltLen > maxSaltLen,
		p.KeyLen < 16 || p.KeyLen > maxKeyLen:
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// verifyPassword reports whether password matches the PHC string phc,
// comparing keys in constant time, and returns the hash's parameters.
func verifyPassword(password, phc string) (ok bool, p Params, err error) {
	p, salt, key, err := parseHash(phc)
	if err != nil {
		return false, p, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}

// needsRehash reports whether a hash made with stored should be replaced
// by one made with current on the next successful login. Any
// difference counts, not only a lower number: m=12288,t=3 is as strong as
// m=19456,t=2 on paper but is not the configured cost, and a shorter salt or
// key is weaker.
func needsRehash(stored, current Params) bool {
	return stored.Memory != current.Memory || stored.Time != current.Time ||
		stored.Threads != current.Threads || stored.KeyLen != current.KeyLen ||
		stored.SaltLen < current.SaltLen
}
