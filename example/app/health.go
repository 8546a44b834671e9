package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
)

// healthz answers 200 when Redis answers within HealthTimeout and, for a
// Cluster, every master says cluster_state:ok with all slots ok; otherwise
// 503 with a short reason. The check runs in its own goroutine, so the
// answer comes at HealthTimeout even from a client that ignores context
// deadlines; the check itself ends with the client's own timeouts.
func (a *App) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.HealthTimeout)
	defer cancel()
	type result struct {
		reason string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		if cc, ok := a.rdb.(*redis.ClusterClient); ok {
			reason, err := clusterHealth(ctx, cc)
			done <- result{reason, err}
			return
		}
		if err := a.rdb.Ping(ctx).Err(); err != nil {
			done <- result{"redis does not answer", err}
			return
		}
		done <- result{}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		res = result{"redis did not answer within " + a.cfg.HealthTimeout.String(), ctx.Err()}
	}
	if res.reason != "" {
		a.log.Error("health check failed", "reason", res.reason, "error", res.err.Error())
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "service unavailable", "reason": res.reason})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// clusterHealth asks every master of c (after reloading c's view of the
// Cluster) for CLUSTER INFO. It returns an empty reason when each answers
// with cluster_state:ok and all 16384 slots ok. Otherwise reason says
// briefly what failed, fit for a health response (no address, no
// credential), and detail says where, for the log.
func clusterHealth(ctx context.Context, c *redis.ClusterClient) (reason string, detail error) {
	type answer struct {
		addr string
		info string
		err  error
	}
	answers := make(chan answer, 64)
	err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		info, err := node.ClusterInfo(ctx).Result()
		select {
		case answers <- answer{node.Options().Addr, info, err}:
		default: // more than 64 masters: the first 64 answers decide
		}
		return nil
	})
	close(answers)
	if err != nil {
		return "cluster state unavailable", err
	}
	n := 0
	for a := range answers {
		n++
		if a.err != nil {
			return "a cluster master does not answer", fmt.Errorf("%s: %w", a.addr, a.err)
		}
		state, okSlots := infoField(a.info, "cluster_state"), infoField(a.info, "cluster_slots_ok")
		if state != "ok" {
			return "cluster_state is " + state, fmt.Errorf("%s says cluster_state:%s cluster_slots_ok:%s", a.addr, state, okSlots)
		}
		if okSlots != strconv.Itoa(clusterSlots) {
			return fmt.Sprintf("cluster has %s of %d slots ok", okSlots, clusterSlots), fmt.Errorf("%s says cluster_slots_ok:%s", a.addr, okSlots)
		}
	}
	if n == 0 {
		return "cluster has no masters", errors.New("CLUSTER SLOTS lists no masters")
	}
	return "", nil
}
