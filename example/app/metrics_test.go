package app

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape reads /metrics and returns each sample line's value by its name
// and labels as the text format writes them (labels sorted by name), e.g.
// `sessionshield_events_total{type="login"}`.
func (e *testEnv) scrape() map[string]float64 {
	e.t.Helper()
	r := e.do(http.MethodGet, "/metrics", "")
	require.Equal(e.t, http.StatusOK, r.status)
	require.Contains(e.t, r.header.Get("Content-Type"), "text/plain")
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(r.body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(e.t, i, line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(e.t, err, line)
		samples[line[:i]] = v
	}
	return samples
}

// TestMetrics drives a login, a fingerprint mismatch and a revocation of an
// unknown session, and reads the counters, the latency by route template
// and the pool stats back from /metrics.
func TestMetrics(t *testing.T) {
	e := newTestEnv(t, nil)
	before := e.scrape()
	for _, ev := range knownEvents {
		v, ok := before[`sessionshield_events_total{type="`+string(ev)+`"}`]
		assert.True(t, ok, "%s is exposed from the start", ev)
		assert.Zero(t, v, ev)
	}

	e.signup("mia@example.com", "mia's password")
	c := e.login("mia@example.com", "mia's password")
	require.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/sessions/not-a-session-ref", "", withCookie(c)).status)
	// The cookie from another browser family: a hard fingerprint mismatch
	// that destroys the session.
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(c), withUA(firefoxUA)).status)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(&http.Cookie{Name: "id", Value: "forged.value"})).status)

	m := e.scrape()
	assert.Equal(t, 1.0, m[`sessionshield_events_total{type="login"}`])
	assert.Equal(t, 1.0, m[`sessionshield_events_total{type="fingerprint_mismatch"}`])
	assert.Equal(t, 1.0, m[`sessionshield_events_total{type="invalid_cookie"}`])
	assert.Zero(t, m[`sessionshield_events_total{type="store_error"}`])

	assert.Equal(t, 1.0, m[`sessionshield_http_request_duration_seconds_count{method="POST",route="/login",status="200"}`])
	assert.Equal(t, 1.0, m[`sessionshield_http_request_duration_seconds_count{method="POST",route="/signup",status="201"}`])
	assert.Equal(t, 2.0, m[`sessionshield_http_request_duration_seconds_count{method="GET",route="/profile",status="401"}`])
	assert.Equal(t, 1.0, m[`sessionshield_http_request_duration_seconds_count{method="DELETE",route="/sessions/:ref",status="404"}`],
		"the route template, not the raw path")
	assert.Positive(t, m[`sessionshield_http_request_duration_seconds_sum{method="POST",route="/login",status="200"}`])
	assert.Equal(t, 1.0, m[`sessionshield_http_request_duration_seconds_count{method="GET",route="/metrics",status="200"}`])
	for k := range m {
		assert.NotContains(t, k, "not-a-session-ref", "no raw path in a label")
	}

	assert.Positive(t, m["sessionshield_redis_pool_hits_total"]+m["sessionshield_redis_pool_misses_total"], "the pool served commands")
	assert.Positive(t, m["sessionshield_redis_pool_conns"])
	_, ok := m["sessionshield_redis_pool_timeouts_total"]
	assert.True(t, ok)
	_, ok = m["go_goroutines"]
	assert.True(t, ok, "the Go runtime collector")
}

// TestMetricsLocalCache turns the local cache on with LOCAL_CACHE and
// reads its hits, misses and invalidations back from /metrics; without it
// there are no such metrics.
func TestMetricsLocalCache(t *testing.T) {
	cfg, err := LoadConfig(env(map[string]string{"LOCAL_CACHE": "1m"}))
	require.NoError(t, err)
	require.Equal(t, time.Minute, cfg.LocalCache)
	e := newTestEnv(t, func(c *Config) { c.LocalCache = cfg.LocalCache })
	e.signup("lu@example.com", "lu's password")
	c := e.login("lu@example.com", "lu's password")
	require.Eventually(t, func() bool { return e.app.Store().CacheStats().ProvenLag >= 0 }, 10*time.Second, 5*time.Millisecond)
	e.clock.Advance(time.Millisecond)
	for range 3 {
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(c)).status)
	}
	require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/logout", "", withCookie(c)).status)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(c)).status)
	m := e.scrape()
	assert.Positive(t, m["sessionshield_local_cache_hits_total"], "the second and third reads")
	assert.Positive(t, m["sessionshield_local_cache_misses_total"])
	assert.Positive(t, m["sessionshield_local_cache_invalidations_total"], "the logout")
	_, ok := m["sessionshield_local_cache_proven_lag_seconds"]
	assert.True(t, ok)

	_, ok = newTestEnv(t, nil).scrape()["sessionshield_local_cache_hits_total"]
	assert.False(t, ok, "no cache metrics with the cache off")
}

// TestMetricsLabelsAreBounded sends requests no route matches, with a
// made-up method: they count as route "unmatched" and method "OTHER".
func TestMetricsLabelsAreBounded(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, p := range []string{"/a1", "/b2", "/c3"} {
		require.Equal(t, http.StatusNotFound, e.do("BREW", p, "").status)
	}
	m := e.scrape()
	assert.Equal(t, 3.0, m[`sessionshield_http_request_duration_seconds_count{method="OTHER",route="unmatched",status="404"}`])
	for k := range m {
		assert.NotContains(t, k, "BREW")
		assert.NotContains(t, k, "/a1")
	}
}

// TestMetricsExposure: /metrics is on the application's router only in
// development without MetricsAddr; otherwise the MetricsHandler serves it
// on a listener of its own. Two Apps in one process each have their own
// registry.
func TestMetricsExposure(t *testing.T) {
	dev := newTestEnv(t, nil)
	require.Equal(t, http.StatusOK, dev.do(http.MethodGet, "/metrics", "").status)

	separate := newTestEnv(t, func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	r := separate.do(http.MethodGet, "/metrics", "")
	assert.Equal(t, http.StatusNotFound, r.status, "not on the public listener when METRICS_ADDR is set")

	prod := newTestEnv(t, func(c *Config) { c.Env = EnvProduction })
	r = prod.do(http.MethodGet, "/metrics", "")
	assert.Equal(t, http.StatusNotFound, r.status, "not on the public listener in production")

	// The handler of each App counts only its own requests.
	prod.do(http.MethodGet, "/healthz", "")
	rec := httptestRecorder(t, prod.app.MetricsHandler())
	assert.Contains(t, rec, `sessionshield_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1`)
	rec = httptestRecorder(t, dev.app.MetricsHandler())
	assert.NotContains(t, rec, `route="/healthz"`)
}

// httptestRecorder serves GET /metrics with h and returns the body.
func httptestRecorder(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}
