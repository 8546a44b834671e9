package fingerprint

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCanonicalUserAgent(t *testing.T) {
	tests := []struct {
		name string
		ua   string
		want string
	}{
		{"empty", "", ""},
		{"spaces only", " \t ", ""},
		{"trimmed", "  curl/8.5.0 \t", "curl/#"},
		{"whitespace collapsed", "Mozilla/5.0  (X11;\t\tLinux x86_64)", "Mozilla/# (X#; Linux x#)"},
		{"dotted version", "Chrome/130.0.6723.58", "Chrome/#"},
		{"underscore version", "Intel Mac OS X 10_15_7", "Intel Mac OS X #"},
		{"trailing dot kept", "v1.2.", "v#."},
		{"double dot splits", "1..2", "#..#"},
		{"mixed separators", "1.2_3.4", "#"},
		{"letters between digits", "15E148", "#E#"},
		{"no digits", "Mozilla (KHTML, like Gecko)", "Mozilla (KHTML, like Gecko)"},
		{"rv token", "rv:132.0) Gecko/20100101", "rv:#) Gecko/#"},
		{"non-ASCII kept", "Büro/1.0", "Büro/#"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(appendUserAgent(nil, tc.ua)))
		})
	}
}

func TestCanonicalUserAgentCap(t *testing.T) {
	long := strings.Repeat("a", 600)
	assert.Len(t, appendUserAgent(nil, long), maxUserAgent)
	assert.Equal(t, strings.Repeat("a", 511)+" ", string(appendUserAgent(nil, strings.Repeat("a", 511)+"   bbb")))

	// The cap applies after normalization, so version digits in a long
	// User-Agent cannot move the cut.
	pad := strings.Repeat("x", 505)
	a := appendUserAgent(nil, "Chrome/9 "+pad+" tail-one")
	b := appendUserAgent(nil, "Chrome/131.0.6778.69 "+pad+" tail-one")
	assert.Equal(t, a, b)

	// Appending keeps what dst already holds.
	assert.Equal(t, "prefix:curl/#", string(appendUserAgent([]byte("prefix:"), "curl/8.5.0")))
}

func TestCanonicalLanguage(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   string
		wantOK bool
	}{
		{"absent", "", "", false},
		{"blank", "   ", "", false},
		{"only separators", " , ;q=0.5, ", "", false},
		{"browser default", "en-US,en;q=0.9", "en", true},
		{"region with q", "en-GB;q=0.8", "en", true},
		{"bare", "ja", "ja", true},
		{"wildcard", "*", "*", true},
		{"uppercase", "DE-CH, de;q=0.9", "de", true},
		{"spaces", "  fr-CA ; q=1 , en", "fr", true},
		{"empty first range skipped", ", pt-BR", "pt", true},
		{"underscore", "zh_TW", "zh", true},
		{"script subtag", "zh-Hant-TW,zh;q=0.9", "zh", true},
		{"three letters", "haw-US", "haw", true},
		{"capped", strings.Repeat("Q", 40), strings.Repeat("q", maxLanguage), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := appendLanguage(nil, tc.header)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestCanonicalIPPrefix(t *testing.T) {
	tests := []struct {
		name   string
		ip     string
		want   string
		wantOK bool
	}{
		{"empty", "", "", false},
		{"garbage", "not-an-ip", "", false},
		{"hostname", "localhost", "", false},
		{"CIDR is not an address", "10.0.0.0/8", "", false},
		{"IPv4", "203.0.113.77", "203.0.113.0/24", true},
		{"IPv4 loopback", "127.0.0.2", "127.0.0.0/24", true},
		{"IPv4 with port", "203.0.113.77:8080", "203.0.113.0/24", true},
		{"IPv4 with spaces", " 203.0.113.77 ", "203.0.113.0/24", true},
		{"IPv4-mapped IPv6", "::ffff:203.0.113.77", "203.0.113.0/24", true},
		{"IPv6", "2001:db8:aaaa:bbbb:1:2:3:4", "2001:db8:aaaa:bbbb::/64", true},
		{"IPv6 with port", "[2001:db8::1]:443", "2001:db8::/64", true},
		{"IPv6 zone dropped", "fe80::1%eth0", "fe80::/64", true},
		{"IPv6 loopback", "::1", "::/64", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := appendIPPrefix(nil, tc.ip)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, string(got))
		})
	}
}
