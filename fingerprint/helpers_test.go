package fingerprint

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const userAgentsFile = "../testdata/useragents/useragents.tsv"

// userAgent is one row of the User-Agent fixture file.
type userAgent struct {
	name   string // stable row name, such as "chrome131-windows"
	device string // what a sessions list shows (internal/device)
	ua     string // the real User-Agent string
}

// loadUserAgents reads the fixture file in file order.
func loadUserAgents(t testing.TB) []userAgent {
	t.Helper()
	f, err := os.Open(userAgentsFile)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })

	var rows []userAgent
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.Split(text, "\t")
		require.Lenf(t, cols, 3, "%s:%d: want name, device, ua", userAgentsFile, line)
		rows = append(rows, userAgent{name: cols[0], device: cols[1], ua: cols[2]})
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, rows)
	return rows
}

// userAgents returns the fixture's User-Agents by name.
func userAgents(t testing.TB) map[string]string {
	t.Helper()
	m := make(map[string]string)
	for _, row := range loadUserAgents(t) {
		require.NotContainsf(t, m, row.name, "duplicate name %q", row.name)
		m[row.name] = row.ua
	}
	return m
}

// uaByName returns one fixture User-Agent and fails the test if it is missing.
func uaByName(t testing.TB, m map[string]string, name string) string {
	t.Helper()
	ua, ok := m[name]
	require.Truef(t, ok, "no User-Agent named %q in %s", name, userAgentsFile)
	return ua
}

var (
	secret1 = []byte("test secret one, 32 bytes or more, never used in prod")
	secret2 = []byte("test secret two, 32 bytes or more, never used in prod")
)

// newBinder returns a Binder over secrets (secret1 when none) and cfg.
func newBinder(t testing.TB, cfg Config, secrets ...[]byte) *Binder {
	t.Helper()
	if len(secrets) == 0 {
		secrets = [][]byte{secret1}
	}
	b, err := New(secrets, cfg)
	require.NoError(t, err)
	return b
}

// newRequest returns a GET request with the given User-Agent and
// Accept-Language; an empty value leaves the header out.
func newRequest(ua, acceptLanguage string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/profile", nil)
	r.Header.Del("User-Agent")
	if ua != "" {
		r.Header.Set("User-Agent", ua)
	}
	if acceptLanguage != "" {
		r.Header.Set("Accept-Language", acceptLanguage)
	}
	return r
}
