package device

import (
	"regexp"
	"strings"
	"testing"

	"bufio"
	"os"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const userAgentsFile = "../../testdata/useragents/useragents.tsv"

// userAgent is one row of the User-Agent fixture file.
type userAgent struct{ name, device, ua string }

// loadUserAgents reads the fixture file in file order.
func loadUserAgents(t testing.TB) []userAgent {
	t.Helper()
	f, err := os.Open(userAgentsFile)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	var rows []userAgent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.Split(text, "\t")
		require.Len(t, cols, 3, "want name, device, ua")
		rows = append(rows, userAgent{name: cols[0], device: cols[1], ua: cols[2]})
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, rows)
	return rows
}

// describe is what a sessions list shows for a User-Agent.
func describe(ua string) string { return Name(Code(ua)) }

func TestNameFixtures(t *testing.T) {
	digits := regexp.MustCompile(`[0-9]`)
	for _, row := range loadUserAgents(t) {
		t.Run(row.name, func(t *testing.T) {
			got := describe(row.ua)
			assert.Equal(t, row.device, got)
			assert.LessOrEqual(t, len(got), 40)
			assert.False(t, digits.MatchString(got), "no version numbers")
			assert.NotEqual(t, row.ua, got)
		})
	}
}

func TestName(t *testing.T) {
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
			assert.Equal(t, tc.want, describe(tc.ua))
		})
	}
}

func TestCodeRoundTrips(t *testing.T) {
	for _, tc := range loadUserAgents(t) {
		t.Run(tc.name, func(t *testing.T) {
			code := Code(tc.ua)
			assert.Len(t, code, 2)
			assert.Equal(t, describe(tc.ua), Name(code))
		})
	}
	for _, code := range []string{"", "x", "abc", "zz", "A0", "?5", "*-"} {
		assert.Equal(t, "Unknown device", Name(code), code)
	}
	assert.Equal(t, "Browser on Linux", Name("*7"))
	assert.Equal(t, "Chrome on Windows", Name("g4"), "codes are stable: stored sessions depend on them")
}

func BenchmarkCode(b *testing.B) {
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	b.ReportAllocs()
	for b.Loop() {
		_ = Name(Code(ua))
	}
}

// FuzzCode feeds arbitrary User-Agents to Code and Name: the description
// is valid UTF-8 of at most 40 bytes, and the code two bytes.
func FuzzCode(f *testing.F) {
	f.Add("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	f.Add("curl/8.5.0")
	f.Add("")
	f.Fuzz(func(t *testing.T, ua string) {
		code := Code(ua)
		if d := Name(code); len(d) > 40 || !utf8.ValidString(d) {
			t.Fatalf("Name(Code(%q)) = %q", ua, d)
		}
		if len(code) != 2 {
			t.Fatalf("Code(%q) = %q", ua, code)
		}
	})
}
