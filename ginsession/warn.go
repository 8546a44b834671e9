package ginsession

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
)

// The keys of the warnings a Store logs once whatever their details.
const (
	warnKeyPlainHTTP  = "plain-http"
	warnKeyCookieName = "cookie-name"
)

// firstWarning reports whether the warning called key is being logged for
// the first time by this Store, and records that it is.
func (s *Store) firstWarning(key string) bool {
	_, seen := s.warned.LoadOrStore(key, true)
	return !seen
}

// warnPlainHTTP logs, at Warn level and once per Store, that a Secure
// session cookie answered a request that reached the application over
// plain http on a name browsers do not treat as secure: the browser drops
// the cookie, so the user seems to log in and then gets 401. It is called
// wherever a live session's cookie is set, with c nil in Save, which gets
// no gin.Context. It costs nothing once it has warned, and a few
// comparisons on https or for an Insecure cookie. The line names the
// problem and the fix, never a header or a cookie.
func (s *Store) warnPlainHTTP(r *http.Request, c *gin.Context, secure bool) {
	if !secure || r.TLS != nil {
		return
	}
	if _, seen := s.warned.Load(warnKeyPlainHTTP); seen {
		return
	}
	if r.Host == "" || potentiallyTrustworthy(r.Host) || forwardedHTTPS(r, c) {
		return
	}
	if s.firstWarning(warnKeyPlainHTTP) {
		s.log.Warn("ginsession: a Secure session cookie was sent over plain http; browsers drop it, so logins will not stick: " +
			"serve the application over https (behind a TLS-terminating proxy, list the proxy in engine.SetTrustedProxies), " +
			"or set Config.Insecure for plain-http development")
	}
}

// potentiallyTrustworthy reports whether browsers treat http:// on host (a
// Host header: a name or an address, with or without a port) as a secure
// context, where they keep Secure cookies: localhost, a name under
// .localhost, or a loopback address (127.0.0.0/8, ::1).
func potentiallyTrustworthy(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || hasSuffixFold(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// forwardedHTTPS reports whether a proxy says the request reached it over
// https: X-Forwarded-Proto is https (its first value), and the proxy is
// one to believe. That is a peer on a loopback or private address or a
// Unix socket, where a reverse proxy on the same host or network connects
// from, or, when c is set, a peer Gin trusts: one whose forwarding header
// Gin took the client's address from (c.ClientIP differs from
// c.RemoteIP), which it does only for the proxies engine.SetTrustedProxies
// lists, or with a TrustedPlatform. A client could send the header itself,
// but it would only silence this warning.
func forwardedHTTPS(r *http.Request, c *gin.Context) bool {
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	if !strings.EqualFold(strings.TrimSpace(proto), "https") {
		return false
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && strings.HasPrefix(la.Network(), "unix") {
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer := ap.Addr().Unmap()
	if peer.IsLoopback() || peer.IsPrivate() {
		return true
	}
	if c == nil {
		return false
	}
	client := c.ClientIP() // the peer's address, in the same form, unless Gin believed a header
	return client != "" && client != peer.WithZone("").String()
}

// warnCookieName logs, at Warn level and once per Store, that sessions
// were asked for under a name other than Config.CookieName, the one
// NewStore checked against the cookie attributes. The line names both.
func (s *Store) warnCookieName(name string) {
	if s.firstWarning(warnKeyCookieName) {
		s.log.Warn("ginsession: the cookie name given to sessions.Sessions is not Config.CookieName, which NewStore checked: give both the same name",
			slog.String("name", name), slog.String("config_cookie_name", s.cfg.CookieName))
	}
}

// hasSuffixFold reports whether s ends with suffix, ignoring ASCII case.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// warnDropped logs, at Warn level and once per Store, source and option,
// that a cookie option was dropped because it would weaken the cookie. The
// line names the option, never a value.
func (s *Store) warnDropped(source, opt string) {
	if !s.firstWarning(source + " " + opt) {
		return
	}
	s.log.Warn("ginsession: cookie option dropped: it would weaken the session cookie (see docs/cookie-options.md)",
		slog.String("source", source), slog.String("option", opt))
}
