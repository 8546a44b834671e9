package app

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/ginsession"
)

// metricsNamespace starts the name of every metric of the application.
const metricsNamespace = "sessionshield"

// knownEvents are the security events counted from the start at zero, so
// that a rate or an alert on them works before the first one happens.
var knownEvents = []ginsession.EventType{
	ginsession.EventLogin, ginsession.EventLogout, ginsession.EventDestroyed,
	ginsession.EventFingerprintMismatch, ginsession.EventFingerprintSoft,
	ginsession.EventExpired, ginsession.EventRevoked, ginsession.EventStaleLogin,
	ginsession.EventStoreError, ginsession.EventInvalidCookie,
}

// metrics holds the application's Prometheus registry (its own, not the
// global one, so that several Apps in one process do not collide) and the
// collectors the application updates.
type metrics struct {
	registry *prometheus.Registry
	events   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newMetrics registers the application's metrics on a new registry: the
// security events, the request latency, the connection pool of rdb, and
// the Go runtime and process collectors.
func newMetrics(rdb redis.UniversalClient) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "events_total",
			Help:      "Security events of the session store, by type (ginsession.EventType).",
		}, []string{"type"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace,
			Name:      "http_request_duration_seconds",
			Help:      "Time to answer a request, by method, route template and status.",
			Buckets:   []float64{.005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
	}
	for _, e := range knownEvents {
		m.events.WithLabelValues(string(e))
	}
	m.registry.MustRegister(
		m.events, m.latency, newPoolCollector(rdb),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// event counts e; it is the store's OnEvent hook. It reads only the type:
// an event never holds a secret, and a per-user or per-session label would
// grow without bound.
func (m *metrics) event(e ginsession.Event) {
	m.events.WithLabelValues(string(e.Type)).Inc()
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// observe is the middleware that times every request by method, route
// template (c.FullPath, never the raw path, whose IDs would make a label
// value per request) and status. A request that matched no route counts as
// route "unmatched", and a method outside the standard ones as "OTHER", so
// that no client can add label values at will.
func (m *metrics) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.latency.WithLabelValues(methodLabel(c.Request.Method), route, strconv.Itoa(c.Writer.Status())).
			Observe(time.Since(start).Seconds())
	}
}

// methodLabel returns method when it is one of the standard HTTP methods,
// and "OTHER" otherwise.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// poolCollector reports the connection pool statistics of a go-redis
// client (PoolStats; for a Cluster client, the sum over its nodes) each
// time the registry is gathered.
type poolCollector struct {
	rdb redis.UniversalClient

	hits, misses, timeouts, waits, waitSeconds, stale, total, idle, pending *prometheus.Desc
}

// scrapedDesc describes the metric sessionshield_<subsystem>_<name>, without
// labels, for the collectors that read their values when scraped.
func scrapedDesc(subsystem, name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, subsystem, name), help, nil, nil)
}

func newPoolCollector(rdb redis.UniversalClient) *poolCollector {
	desc := func(name, help string) *prometheus.Desc { return scrapedDesc("redis_pool", name, help) }
	return &poolCollector{
		rdb:         rdb,
		hits:        desc("hits_total", "Times a free connection was found in the pool."),
		misses:      desc("misses_total", "Times no free connection was in the pool and one was dialled."),
		timeouts:    desc("timeouts_total", "Times a command waited PoolTimeout for a connection and gave up."),
		waits:       desc("waits_total", "Times a command waited for a connection."),
		waitSeconds: desc("wait_seconds_total", "Total time commands waited for a connection."),
		stale:       desc("stale_conns_total", "Stale connections removed from the pool."),
		total:       desc("conns", "Connections in the pool."),
		idle:        desc("idle_conns", "Idle connections in the pool."),
		pending:     desc("pending_requests", "Commands waiting for a connection now (always 0 for a Cluster client, whose PoolStats does not sum it)."),
	}
}

// Describe implements prometheus.Collector.
func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.hits, p.misses, p.timeouts, p.waits, p.waitSeconds, p.stale, p.total, p.idle, p.pending} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.rdb.PoolStats()
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(p.hits, float64(s.Hits))
	counter(p.misses, float64(s.Misses))
	counter(p.timeouts, float64(s.Timeouts))
	counter(p.waits, float64(s.WaitCount))
	counter(p.waitSeconds, time.Duration(s.WaitDurationNs).Seconds())
	counter(p.stale, float64(s.StaleConns))
	gauge(p.total, float64(s.TotalConns))
	gauge(p.idle, float64(s.IdleConns))
	gauge(p.pending, float64(s.PendingRequests))
}

// cacheCollector reports the session store's local cache statistics
// (ginsession.Store.CacheStats) each time the registry is gathered.
type cacheCollector struct {
	store                                     *ginsession.Store
	hits, misses, invalidations, entries, lag *prometheus.Desc
}

func newCacheCollector(store *ginsession.Store) *cacheCollector {
	desc := func(name, help string) *prometheus.Desc { return scrapedDesc("local_cache", name, help) }
	return &cacheCollector{
		store:         store,
		hits:          desc("hits_total", "Guarded reads answered from the local cache, without Redis."),
		misses:        desc("misses_total", "Guarded reads that went to Redis with the local cache on."),
		invalidations: desc("invalidations_total", "Ended sessions announced on the invalidation channel."),
		entries:       desc("entries", "Sessions in the local cache."),
		lag:           desc("proven_lag_seconds", "Age of the newest heartbeat received back on the invalidation channel (-1: none since the last subscription); the cache serves while it is below LOCAL_CACHE."),
	}
}

// Describe implements prometheus.Collector.
func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.invalidations, c.entries, c.lag} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.store.CacheStats()
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(c.invalidations, prometheus.CounterValue, float64(s.Invalidations))
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(s.Entries))
	lag := s.ProvenLag.Seconds()
	if s.ProvenLag < 0 {
		lag = -1
	}
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag)
}
