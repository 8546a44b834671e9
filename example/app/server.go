package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ShutdownTimeout is how long Run waits for in-flight requests after
// SIGINT or SIGTERM.
const ShutdownTimeout = 10 * time.Second

// Run opens the application, serves it on cfg.Addr (and its metrics on
// cfg.MetricsAddr when set) until ctx is done (main cancels it on SIGINT or
// SIGTERM), then shuts down gracefully, waiting up to ShutdownTimeout for
// in-flight requests.
func Run(ctx context.Context, cfg Config) error {
	a, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	cfg = a.cfg
	log := cfg.Logger
	router, err := a.Router()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	if cfg.Production() {
		log.Info("production mode: session cookie __Host-id with Secure; serve it behind https")
	} else {
		log.Warn("development mode: session cookie \"id\" without Secure, for plain http only; set APP_ENV=production behind https")
	}
	if len(cfg.TrustedProxies) == 0 {
		log.Info("no trusted proxies: the client IP is the peer address (set TRUSTED_PROXIES behind a proxy)")
	} else {
		log.Info("trusted proxies", "proxies", cfg.TrustedProxies)
	}
	log.Info("listening", "addr", "http://"+ln.Addr().String())

	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	switch {
	case cfg.MetricsAddr != "":
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listening on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.MetricsHandler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
		servers = append(servers, msrv)
		go func() { errc <- msrv.Serve(mln) }()
		log.Info("metrics", "addr", "http://"+mln.Addr().String()+"/metrics")
	case cfg.Production():
		log.Info("metrics are off in production without METRICS_ADDR (set it to serve /metrics on a listener of its own)")
	default:
		log.Info("metrics", "addr", "http://"+ln.Addr().String()+"/metrics", "note", "set METRICS_ADDR to serve them on a listener of their own")
	}
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		for _, s := range servers {
			_ = s.Close()
		}
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
