// Command example runs the sessionshield example JSON API (package
// example/app): go run ./example. It reads its configuration from the
// environment (app.LoadConfig; docs/walkthrough.md has the table):
//
//	APP_ENV          development (default) or production
//	REDIS_MODE       standalone (default), cluster or sentinel
//	REDIS_URL        the Redis to use; required in production and in
//	                 cluster and sentinel mode (docs/redis-example.md)
//	SESSION_SECRET   at least 32 random bytes; required in production
//	PORT, HOST       where to listen: port 8080 unless set; host 127.0.0.1
//	                 in development, every interface in production
//	TRUSTED_PROXIES  the reverse proxies whose X-Forwarded-For to believe
//	ALLOWED_ORIGINS  origins accepted on state-changing requests besides
//	                 the request's own host
//	KEY_PREFIX       put in front of every Redis key
//	METRICS_ADDR     host:port of a separate listener for /metrics
//	LOCAL_CACHE      a duration such as 1s: the store's local cache of
//	                 guarded reads (off unless set)
//	GIN_MODE         Gin's mode; release unless set
//
// It stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/example/app"
)

func main() {
	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	cfg, err := app.LoadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "example: refusing to start:", err)
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	redis.SetLogger(app.RedisLogger(cfg.Logger))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, give the signals back: a second Ctrl-C
		// kills a shutdown that hangs.
		<-ctx.Done()
		stop()
	}()
	if err := app.Run(ctx, cfg); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}
