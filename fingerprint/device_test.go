package fingerprint

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sessionshield/sessionshield/internal/device"
)

func TestDeviceFixtures(t *testing.T) {
	digits := regexp.MustCompile(`[0-9]`)
	for _, row := range loadUserAgents(t) {
		t.Run(row.name, func(t *testing.T) {
			got := Device(row.ua)
			assert.Equal(t, row.device, got)
			assert.LessOrEqual(t, len(got), 40)
			assert.False(t, digits.MatchString(got), "no version numbers")
			assert.NotEqual(t, row.ua, got)
		})
	}
}

func TestDevice(t *testing.T) {
	tests := []struct {
		name string
		ua   string
		want string
	}{
		{"empty", "", "Unknown device"},
		{"blank", "   ", "Unknown device"},
		{"random text", "my-script", "Unknown device"},
		{"digits only", "12345", "Unknown device"},
		{"padded curl", "  curl/8.5.0  ", "curl"},
		{"curl is a prefix, not a substring", "notcurl/1.0", "Unknown device"},
		{"Safari without Version is a WebView", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "Browser on iPhone"},
		{"browser without platform", "Mozilla/5.0 Firefox/133.0", "Firefox"},
		{"Firefox on iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15", "Firefox on iPhone"},
		{"Edge on iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 EdgiOS/131.2903.86 Mobile/15E148 Safari/605.1.15", "Edge on iPhone"},
		{"huge input", strings.Repeat("A", 1<<20), "Unknown device"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Device(tc.ua))
		})
	}
}

func TestDeviceCodeRoundTrips(t *testing.T) {
	for _, tc := range loadUserAgents(t) {
		t.Run(tc.name, func(t *testing.T) {
			code := device.Code(tc.ua)
			assert.Len(t, code, 2)
			assert.Equal(t, Device(tc.ua), device.Name(code))
		})
	}
	for _, code := range []string{"", "x", "abc", "zz", "A0", "?5", "*-"} {
		assert.Equal(t, "Unknown device", device.Name(code), code)
	}
	assert.Equal(t, "Browser on Linux", device.Name("*7"))
	assert.Equal(t, "Chrome on Windows", device.Name("g4"), "codes are stable: stored sessions depend on them")
}
