package ginsession

import (
	"fmt"
	"strings"

	gsessions "github.com/gorilla/sessions"
)

// checkName enforces the rules browsers apply to prefixed cookie names, so
// that a misconfiguration fails with an error instead of a cookie the
// browser silently drops.
func checkName(name string, o gsessions.Options) error {
	switch {
	case hasPrefixFold(name, "__Host-"):
		if !o.Secure || o.Path != "/" || o.Domain != "" {
			return fmt.Errorf("%w: cookie name %q needs Secure, Path=/ and no Domain (Insecure is %v, Path %q, Domain %q)%s",
				ErrConfig, name, !o.Secure, o.Path, o.Domain, plainHTTPHint(name, len("__Host-"), o))
		}
	case hasPrefixFold(name, "__Secure-"):
		if !o.Secure {
			return fmt.Errorf("%w: cookie name %q needs Secure; Insecure is set%s",
				ErrConfig, name, plainHTTPHint(name, len("__Secure-"), o))
		}
	}
	return nil
}

// plainHTTPHint says what to do when a prefixed name meets Insecure, the
// plain-http development setting: give sessions.Sessions the name without
// its prefix. It returns "" when the options are Secure.
func plainHTTPHint(name string, prefixLen int, o gsessions.Options) string {
	if o.Secure {
		return ""
	}
	bare := name[prefixLen:]
	if bare == "" {
		bare = "id"
	}
	return fmt.Sprintf("; for plain-http development, use a name without the prefix, such as %q, in sessions.Sessions (and Config.CookieName)", bare)
}

// hasPrefixFold reports whether name starts with prefix, ignoring case, as
// browsers match cookie-name prefixes (RFC 6265bis).
func hasPrefixFold(name, prefix string) bool {
	return len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix)
}
