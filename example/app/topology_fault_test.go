//go:build faults

package app

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// freePorts returns the first of n consecutive loopback ports that are
// free now, chosen at random between 20000 and 40000, and so are the ports
// 10000 above them (a Cluster node's bus port).
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(20000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			for _, q := range []int{p, p + 10000} {
				l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
				if err != nil {
					ok = false
					break
				}
				_ = l.Close()
			}
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

// topology runs scripts/redis-topology.sh mode up on free ports with a
// state directory of the test's own, registers "down" for the end of the
// test, and returns the state directory, the first port and the REDIS_URL
// the script printed.
func topology(t *testing.T, mode string, ports int) (state string, base int, url string) {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli is not installed (.ci/run installs it)")
	}
	quietLogs(t)
	state = filepath.Join(t.TempDir(), "state")
	base = freePorts(t, ports)
	script := filepath.Join("..", "..", "scripts", "redis-topology.sh")
	run := func(action string) (string, error) {
		cmd := exec.Command("bash", script, mode, action)
		cmd.Env = append(os.Environ(), "REDIS_TOPOLOGY_DIR="+state, "REDIS_TOPOLOGY_PORT="+strconv.Itoa(base))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("up")
	t.Cleanup(func() { _, _ = run("down") })
	require.NoError(t, err, out)
	assert.Contains(t, out, "state directory: "+state)
	m := regexp.MustCompile(`REDIS_MODE=` + mode + ` REDIS_URL='([^']+)' go run ./example`).FindStringSubmatch(out)
	require.NotNil(t, m, "up prints the REDIS_MODE and REDIS_URL to use:\n%s", out)

	down := func() {
		out, err := run("down")
		require.NoError(t, err, out)
		assert.NoDirExists(t, state, "down removes the state directory")
		for p := base; p < base+ports; p++ {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), 200*time.Millisecond)
			if err == nil {
				_ = c.Close()
			}
			assert.Error(t, err, "port %d still answers after down", p)
		}
	}
	t.Cleanup(down)
	t.Cleanup(func() { // runs before down: what the servers said, when the test failed
		if !t.Failed() {
			return
		}
		t.Logf("cluster nodes as port %d sees them:\n%s", base+1, clusterNodes(base+1))
		logs, _ := filepath.Glob(filepath.Join(state, "*.log"))
		for _, f := range logs {
			b, _ := os.ReadFile(f)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("the last lines of %s:\n%s", filepath.Base(f), strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
	})
	return state, base, m[1]
}

// redisCLI runs redis-cli against 127.0.0.1:port and returns its output.
func redisCLI(t *testing.T, port int, args ...string) string {
	t.Helper()
	out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...).CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

// clusterNodes returns CLUSTER NODES from 127.0.0.1:port, or the error.
func clusterNodes(port int) string {
	out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "cluster", "nodes").CombinedOutput()
	if err != nil {
		return err.Error()
	}
	return string(out)
}

// killNode kills the script's server on port with SIGKILL, reading its
// pid from the state directory, and returns when it did.
func killNode(t *testing.T, state string, port int) time.Time {
	t.Helper()
	pid, err := os.ReadFile(filepath.Join(state, strconv.Itoa(port)+".pid"))
	require.NoError(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	require.NoError(t, err)
	killedAt := time.Now()
	require.NoError(t, syscall.Kill(n, syscall.SIGKILL))
	return killedAt
}

// TestFaultTopologyCluster brings up the script's Cluster (3 masters, 3
// replicas), checks it with redis-cli, runs the example on the URL the
// script printed, then kills one master with SIGKILL: the requests it
// breaks answer 503 (never 500) and the old sessions are served again
// within 10 s, without any /healthz call in between.
func TestFaultTopologyCluster(t *testing.T) {
	state, base, url := topology(t, "cluster", 6)
	info := redisCLI(t, base, "cluster", "info")
	assert.Contains(t, info, "cluster_state:ok")
	assert.Contains(t, info, "cluster_known_nodes:6")
	assert.Contains(t, info, "cluster_size:3")

	e := openEnv(t, Config{RedisMode: RedisCluster, RedisURL: url})
	var clients []loggedIn
	for i := range 8 {
		email := fmt.Sprintf("c%d@example.com", i)
		clients = append(clients, loggedIn{id: e.signup(email, "a fine password"), cookie: e.login(email, "a fine password")})
	}

	redistest.WaitReplicated(t, "127.0.0.1:"+strconv.Itoa(base)) // a write not yet replicated dies with the master
	killedAt := killNode(t, state, base)

	stop := make(chan struct{})
	go func() { time.Sleep(12 * time.Second); close(stop) }()
	all := load(e, clients, stop)

	counts := statusCounts(all)
	// Recovered: from some moment on, every request answers 200.
	var lastFailure time.Time
	for _, o := range all {
		if o.status != http.StatusOK && o.end.After(lastFailure) {
			lastFailure = o.end
		}
	}
	recovery := time.Duration(0)
	if !lastFailure.IsZero() {
		recovery = lastFailure.Sub(killedAt)
	}
	wrong := 0
	for _, o := range all {
		if o.wrongUser {
			wrong++
		}
	}
	var failed []outcome
	for _, o := range all {
		if o.status != http.StatusOK {
			failed = append(failed, o)
		}
	}
	t.Logf("FAULT example-cluster-kill: requests=%d 200=%d 503=%d 500=%d errors=%d wrong_user=%d 503_p99=%dms recovery=%dms",
		len(all), counts[200], counts[503], counts[500], counts[0], wrong, ms(percentile(failed, .99)), ms(recovery))
	assert.Zero(t, counts[http.StatusInternalServerError], "never 500")
	assert.Zero(t, counts[0], "never a hang or a transport error")
	assert.Zero(t, wrong, "never another client's user")
	assert.Equal(t, len(all), counts[200]+counts[503], "only 200 and 503: %v", reasons(all))
	assert.Less(t, recovery, 10*time.Second, "the killed master's slots are served again within 10 s")
	assert.LessOrEqual(t, percentile(failed, .99), 1500*time.Millisecond, "503 p99")
	for _, c := range clients {
		assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(c.cookie)).status, "the session survived on the replica")
	}
}

// TestFaultTopologySentinel brings up the script's Sentinel setup (master,
// replica, three Sentinels with quorum 2), checks it with redis-cli and
// runs the example on the URL the script printed.
func TestFaultTopologySentinel(t *testing.T) {
	_, base, url := topology(t, "sentinel", 5)
	assert.Contains(t, redisCLI(t, base, "ping"), "PONG")
	assert.Contains(t, redisCLI(t, base+1, "info", "replication"), "master_link_status:up")
	for p := base + 2; p < base+5; p++ {
		assert.Contains(t, redisCLI(t, p, "sentinel", "ckquorum", "mymaster"), "OK 3 usable Sentinels")
	}
	e := openEnv(t, Config{RedisMode: RedisSentinel, RedisURL: url})
	c := e.signupLoginProfile("sentinel@example.com")
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/healthz", "").status)
	assert.Equal(t, http.StatusOK, e.do(http.MethodPost, "/logout", "", withCookie(c)).status)
}

// TestFaultTopologyClusterFailedLogins kills a master of the script's
// Cluster while the only traffic is failed logins: the login throttle and
// the user records, the example's own commands, and no session command,
// so the store never asks for a slot-map reload. The requests must answer
// 401 again within 10 s of the kill, which only the example's
// ClusterStateReloadInterval gives them: with go-redis's 60 s default they
// still answered 503 when the load stopped 20 s after the kill.
func TestFaultTopologyClusterFailedLogins(t *testing.T) {
	state, base, url := topology(t, "cluster", 6)
	e := openEnv(t, Config{RedisMode: RedisCluster, RedisURL: url, AccountLimit: 1 << 20, IPLimit: 1 << 20})
	var emails []string
	for i := range 8 {
		email := fmt.Sprintf("f%d@example.com", i)
		e.signup(email, "a fine password")
		emails = append(emails, email)
	}
	redistest.WaitReplicated(t, "127.0.0.1:"+strconv.Itoa(base)) // a write not yet replicated dies with the master
	killedAt := killNode(t, state, base)

	counts := map[int]int{}
	var lastFailure time.Time
	for round := 0; round < 1000 && time.Since(killedAt) < 15*time.Second; round++ {
		for _, email := range emails {
			r, err := e.send(http.MethodPost, "/login", creds(email, "not the password"))
			if err != nil {
				counts[0]++
				lastFailure = time.Now()
				continue
			}
			counts[r.status]++
			if r.status != http.StatusUnauthorized {
				lastFailure = time.Now()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	recovery := time.Duration(0)
	if !lastFailure.IsZero() {
		recovery = lastFailure.Sub(killedAt)
	}
	t.Logf("FAULT example-cluster-failed-logins: 401=%d 503=%d 500=%d errors=%d recovery=%dms",
		counts[401], counts[503], counts[500], counts[0], ms(recovery))
	assert.Zero(t, counts[http.StatusInternalServerError], "never 500")
	assert.Zero(t, counts[0], "never a hang or a transport error")
	total := 0
	for _, c := range counts {
		total += c
	}
	assert.Equal(t, total, counts[http.StatusUnauthorized]+counts[http.StatusServiceUnavailable], "only 401 and 503: %v", counts)
	assert.Less(t, recovery, 10*time.Second, "failed logins answer 401 again within 10 s of the kill")
}
