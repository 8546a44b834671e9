// Command example runs the sessionshield example JSON API (package
// example/app): go run ./example. It reads its configuration from the
// environment (APP_ENV, REDIS_MODE, REDIS_URL, SESSION_SECRET, PORT, HOST,
// TRUSTED_PROXIES, KEY_PREFIX, ALLOWED_ORIGINS, METRICS_ADDR; see
// docs/walkthrough.md and docs/redis-example.md) and stops gracefully on
// SIGINT or SIGTERM.
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
