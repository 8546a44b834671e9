package ginsession

import "fmt"

// The limits CheckSecret applies besides MinSecretLen. A secret of
// MinSecretLen bytes from crypto/rand essentially never trips them: it has
// fewer than minSecretDistinct distinct bytes with a probability below
// 1e-44, and repeats a block of at most maxSecretPeriod bytes with one
// below 1e-38. Even a 32-character hex secret (16 symbols) trips them with
// a probability below 1e-12, a 32-digit decimal one below 1e-7.
const (
	// minSecretDistinct is the fewest distinct byte values a secret must
	// contain.
	minSecretDistinct = 6
	// maxSecretPeriod is the longest block whose repetition makes a
	// secret obviously not random ("abcabcabc...", two copies of a
	// 16-byte string).
	maxSecretPeriod = 16
)

// secretHelp says how to make a good secret; every secret error ends with it.
const secretHelp = "generate one with: openssl rand -base64 48"

// CheckSecret returns an error wrapping ErrNoSecret for an empty secret,
// ErrShortSecret for one shorter than MinSecretLen, and ErrWeakSecret for one
// that is obviously not random (whitespace only, too few distinct bytes, a
// short block repeated). It catches placeholders and typos, not every weak
// secret. NewStore checks every secret with it. The error never contains the
// secret.
func CheckSecret(secret []byte) error {
	return secretError(secret, "it")
}

// secretError returns CheckSecret's error for secret, which the message
// calls what (such as "secret 1"), or nil.
func secretError(secret []byte, what string) error {
	switch {
	case len(secret) == 0:
		return fmt.Errorf("%w: %s is empty; %s", ErrNoSecret, what, secretHelp)
	case len(secret) < MinSecretLen:
		return fmt.Errorf("%w: %s is %d bytes; %s", ErrShortSecret, what, len(secret), secretHelp)
	}
	if why := weakness(secret); why != "" {
		return fmt.Errorf("%w: %s is %s; %s", ErrWeakSecret, what, why, secretHelp)
	}
	return nil
}

// weakness says why secret is obviously not random, or returns "".
func weakness(secret []byte) string {
	space := true
	var seen [256]bool
	distinct := 0
	for _, b := range secret {
		switch b {
		case ' ', '\t', '\n', '\r', '\v', '\f':
		default:
			space = false
		}
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	switch {
	case space:
		return "whitespace only"
	case distinct == 1:
		return "one byte repeated"
	case distinct < minSecretDistinct:
		return fmt.Sprintf("made of %d distinct bytes, fewer than %d", distinct, minSecretDistinct)
	}
	for p := 2; p <= maxSecretPeriod && 2*p <= len(secret); p++ {
		if periodic(secret, p) {
			return fmt.Sprintf("a block of %d bytes repeated", p)
		}
	}
	return ""
}

// periodic reports whether every byte of s equals the one p bytes before it.
func periodic(s []byte, p int) bool {
	for i := p; i < len(s); i++ {
		if s[i] != s[i-p] {
			return false
		}
	}
	return true
}
