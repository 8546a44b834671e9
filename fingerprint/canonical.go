package fingerprint

import (
	"net/netip"
	"strings"
)

// maxUserAgent caps the canonical User-Agent, in bytes.
const maxUserAgent = 512

// maxLanguage caps the canonical Accept-Language subtag, in bytes. Primary
// language subtags are at most 8 letters (RFC 5646); the rest is noise.
const maxLanguage = 16

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// skipVersion returns the index just after the version run that starts at
// s[i], which must be a digit. A version run matches [0-9]+([._][0-9]+)*.
func skipVersion(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	for i+1 < len(s) && (s[i] == '.' || s[i] == '_') && isDigit(s[i+1]) {
		i += 2
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i
}

// appendUserAgent appends the canonical form of a User-Agent to dst: ASCII
// whitespace trimmed and collapsed to one space, every version run replaced by
// "#", at most maxUserAgent bytes. The cap applies to the normalized output,
// so a version bump in a very long User-Agent cannot move the cut.
func appendUserAgent(dst []byte, ua string) []byte {
	ua = trimSpace(ua)
	limit := len(dst) + maxUserAgent
	pendingSpace := false
	for i := 0; i < len(ua) && len(dst) < limit; {
		c := ua[i]
		if isSpace(c) {
			pendingSpace = true
			i++
			continue
		}
		if pendingSpace {
			// ua is trimmed, so a space run is always followed by a non-space.
			dst = append(dst, ' ')
			pendingSpace = false
			if len(dst) == limit {
				break
			}
		}
		if isDigit(c) {
			dst = append(dst, '#')
			i = skipVersion(ua, i)
			continue
		}
		dst = append(dst, c)
		i++
	}
	return dst
}

// appendLanguage appends the lowercased primary subtag of the first non-empty
// language range in an Accept-Language value ("en-US,en;q=0.9" -> "en",
// "*" -> "*"). It reports false, appending nothing, when there is none.
func appendLanguage(dst []byte, header string) ([]byte, bool) {
	for len(header) > 0 {
		elem := header
		if i := strings.IndexByte(header, ','); i >= 0 {
			elem, header = header[:i], header[i+1:]
		} else {
			header = ""
		}
		if i := strings.IndexByte(elem, ';'); i >= 0 {
			elem = elem[:i]
		}
		elem = trimSpace(elem)
		for i := 0; i < len(elem); i++ {
			if elem[i] == '-' || elem[i] == '_' || isSpace(elem[i]) {
				elem = elem[:i]
				break
			}
		}
		if elem == "" {
			continue
		}
		if len(elem) > maxLanguage {
			elem = elem[:maxLanguage]
		}
		for i := 0; i < len(elem); i++ {
			c := elem[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst, true
	}
	return dst, false
}

// appendIPPrefix appends the masked prefix of a client address to dst:
// "203.0.113.0/24" for IPv4 (IPv4-mapped IPv6 included) and
// "2001:db8:1:2::/64" for IPv6. The address may carry a port, as in
// http.Request.RemoteAddr, and an IPv6 zone, which are dropped. It reports
// false, appending nothing, for an empty or unparsable address.
func appendIPPrefix(dst []byte, clientIP string) ([]byte, bool) {
	clientIP = trimSpace(clientIP)
	if clientIP == "" {
		return dst, false
	}
	addr, err := netip.ParseAddr(clientIP)
	if err != nil {
		ap, err := netip.ParseAddrPort(clientIP)
		if err != nil {
			return dst, false
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap().WithZone("")
	bits := 64
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil || !p.IsValid() {
		return dst, false
	}
	return p.AppendTo(dst), true
}
