// Package fingerprint binds a session to properties of the browser that
// created it, using keyed MACs that are stored server-side.
//
// At login the application calls [Binder.Compute] and stores the returned
// bytes next to the session (never in a cookie). On every later request it
// calls [Binder.Check]; a [Result] that is not OK means the session cookie is
// being presented by a client that does not look like the one that logged in,
// and the session should be destroyed. Soft mismatches are reported so that
// they can be logged, or the session marked as needing re-authentication.
//
// The package depends on the standard library only and works with any
// net/http based framework. It is safe for concurrent use.
//
// # What it protects against
//
// A session cookie copied out of a browser (through XSS on a site without
// HttpOnly cookies, a leaked log or HAR file, a proxy, a backup) and replayed
// from another kind of client: a script using curl or python-requests, a
// different browser family, another operating system, or a phone instead of
// a desktop. Such a replay changes the normalized User-Agent and is caught on
// the first request.
//
// # What it does not protect against
//
// A fingerprint is a detection control and a speed bump, not an
// authentication factor. Everything it binds is sent by the client and can be
// copied: cookie-stealing malware running on the victim's machine reads the
// User-Agent and Accept-Language together with the cookie, and can route its
// requests through the victim's own network, so even IP binding does not stop
// it. Users behind the same NAT or proxy share an address. The real defences
// against stolen sessions are short idle and absolute timeouts, session ID
// rotation on login and privilege change, and, later, device-bound session
// credentials. Never skip re-authentication because a fingerprint matched.
//
// # Fields and false positives
//
// Each bound field is canonicalized so that normal browser behaviour does not
// log users out:
//
//   - User-Agent (hard by default): whitespace is trimmed and collapsed, and
//     every run of version digits such as "130.0.6723.58" or "10_15_7"
//     becomes "#", so a browser auto-update from Chrome 130 to 131 keeps the
//     session. A different browser, operating system, or a desktop/mobile
//     switch changes it. Opening the browser's developer tools in a mobile
//     view changes the User-Agent too and ends the session: that is a known,
//     accepted false positive.
//   - Accept-Language (soft by default): only the primary subtag of the first
//     language range is kept, so "en-US,en;q=0.9" and "en-GB;q=0.8" are the
//     same. It is bound only when the header was sent at login, because many
//     non-browser clients omit it.
//   - Client IP (off by default): the /24 prefix of an IPv4 address, the /64
//     prefix of an IPv6 address. Phones moving between Wi-Fi and cellular,
//     carrier-grade NAT, load-balanced corporate proxies, VPNs and IPv6
//     privacy addresses all change the address of a legitimate user during a
//     session, so IP binding is noisy and must be enabled explicitly. It also
//     needs a client address that is resolved with trusted-proxy
//     configuration: a raw X-Forwarded-For header is chosen by the client.
//
// Headers that vary from one request to the next (Accept, Accept-Encoding,
// Sec-Fetch-*, Referer, Cookie) are never bound.
//
// # Storage and keys
//
// The stored value is compact and versioned: a version byte, a key-ID byte,
// a presence bitmap, and an 8-byte truncated HMAC-SHA256 per bound field (19 bytes for the default fields).
// Because the MACs are keyed, a leaked session store does not reveal the
// bound values: a plain hash of an IPv4 address and a User-Agent could be
// brute-forced. Keys are derived from the application's secrets with HKDF,
// newest first, so secrets can be rotated without ending live sessions.
//
// MACs are compared with [crypto/hmac.Equal] only. [Result.Fields] reports
// the names of mismatched fields for logging and never the raw values.
package fingerprint
