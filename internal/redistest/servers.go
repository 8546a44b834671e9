package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a throwaway redis-server process on a loopback port.
type Server struct {
	Addr   string
	bin    string
	args   []string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited (and was reaped)
	out    *syncBuffer   // what cmd printed, for the error when it exits early
	done   bool
	frozen bool
}

// start runs the server's command, and a goroutine that reaps it and
// closes s.exited when it exits.
func (s *Server) start() error {
	cmd := exec.Command(s.bin, s.args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited, s.out, s.done = cmd, exited, out, false
	return nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use, keeping the last
// 4 KiB written.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if len(b.b) > 4096 {
		b.b = b.b[len(b.b)-4096:]
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// Stop kills the server with SIGKILL (kill -9: no shutdown, nothing
// saved, connections dropped). It is safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Freeze stops the server's process with SIGSTOP: it keeps its port and
// its connections but answers nothing, neither clients nor the cluster
// bus, as a host that hangs or a network partition looks from outside.
// The kernel still completes new TCP handshakes until the listen backlog
// is full; after that, dials time out. Thaw resumes it.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("redistest: freezing %s: %v", s.Addr, err)
	}
	s.frozen = true
}

// Thaw resumes a server that Freeze stopped (SIGCONT).
func (s *Server) Thaw(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("redistest: thawing %s: %v", s.Addr, err)
	}
	s.frozen = false
}

// answers reports whether the server runs and is not frozen.
func (s *Server) answers() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.done && !s.frozen
}

// Restart starts the server again, empty, on the same port with the same
// arguments, after Stop, and waits until it answers. It fails t when the
// port cannot be had again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.start(); err != nil {
		t.Fatalf("redistest: restarting redis-server: %v", err)
	}
	if !s.waitReady(t) {
		t.Fatalf("redistest: redis-server on %s exited at its restart:\n%s", s.Addr, s.out)
	}
}

// Hang makes the server stop answering for d, rounded down to whole
// seconds (DEBUG SLEEP, sent on a connection of its own), and returns once
// the server has stopped answering: a PING on another connection gets no
// reply within 250 ms. It fails t when the server still answers after 10 s.
// The returned channel is closed when the server answers again. Servers
// from StartServer allow DEBUG from loopback (Redis 7 needs
// --enable-debug-command for it, which StartServer passes).
func (s *Server) Hang(t testing.TB, d time.Duration) <-chan struct{} {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: -1, MaxRetries: -1})
	if err := c.Ping(context.Background()).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("redistest: %s does not answer before the hang: %v", s.Addr, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.Close()
		_ = c.Do(context.Background(), "debug", "sleep", int(d/time.Second)).Err()
	}()
	// The goroutine's command may reach the server some time from now on
	// a busy machine: wait until it is asleep, not a fixed time.
	probe := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: 250 * time.Millisecond, MaxRetries: -1, PoolSize: 1})
	defer probe.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := probe.Ping(context.Background()).Err()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return done // asleep
		}
		select {
		case <-done:
			t.Fatalf("redistest: %s was never seen hung (the DEBUG SLEEP ended or failed)", s.Addr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s still answers 10 s after DEBUG SLEEP was sent: %v", s.Addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StartServer starts a redis-server with nothing on disk on a free loopback
// port, for tests that stop it or configure it. It is stopped when t ends.
// Without a redis-server binary the test is skipped (CI installs one, so
// there these tests always run).
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (.ci/run installs it)")
	}
	return launch(t, "redis-server", func(port int) *Server {
		dir := t.TempDir() // a new one for each attempt: a Cluster node writes nodes.conf there
		all := []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
		if debugFlag(bin) {
			all = append(all, "--enable-debug-command", "local")
		}
		all = append(all, args...)
		return &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), bin: bin, args: all}
	})
}

// launch starts the server that build returns for a free port, stops it
// when t ends, and waits until it answers PING. A port found free may be
// taken before the server binds it (by another test binary, or by a
// connection's local port), and a Cluster node also binds its port +
// 10000 for the cluster bus, which nothing checked: a server that exits
// before it answers is started again on another port, up to five times.
func launch(t testing.TB, what string, build func(port int) *Server) *Server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s := build(freePort(t))
		if err := s.start(); err != nil {
			t.Fatalf("redistest: starting %s: %v", what, err)
		}
		t.Cleanup(s.Stop)
		if s.waitReady(t) {
			return s
		}
		if attempt == 5 {
			t.Fatalf("redistest: %s exited before it answered, %d times; the last, on %s:\n%s", what, attempt, s.Addr, s.out)
		}
		t.Logf("redistest: %s on %s exited before it answered (port taken?); starting it on another port", what, s.Addr)
	}
}

// waitReady waits up to 10 s for the server to answer, failing t if it
// does not, and reports false, at once, if its process exits first. The
// answer must come from its own process (INFO's process_id): another
// test binary's server may have the port.
func (s *Server) waitReady(t testing.TB) bool {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, ReadTimeout: time.Second})
	defer c.Close()
	pid := "process_id:" + strconv.Itoa(s.cmd.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.Info(context.Background(), "server").Result()
		if err == nil && strings.Contains(info, pid+"\r\n") {
			return true
		}
		select {
		case <-s.exited:
			return false
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s did not answer within 10 s", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	debugOnce sync.Once
	debugNeed bool
)

// debugFlag reports whether the redis-server at bin is 7.0 or later, which
// refuses DEBUG (what Hang sends) unless started with
// --enable-debug-command, an option older versions do not know.
func debugFlag(bin string) bool {
	debugOnce.Do(func() {
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			return
		}
		_, v, _ := strings.Cut(string(out), " v=")
		major, _, _ := strings.Cut(v, ".")
		n, err := strconv.Atoi(major)
		debugNeed = err == nil && n >= 7
	})
	return debugNeed
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartCluster starts a Redis Cluster of three masters on loopback ports
// and returns a ClusterClient for it, all released when t ends.
func StartCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cl := startCluster(t, 0)
	return cl.Client(t, &redis.ClusterOptions{})
}

// Cluster is a Redis Cluster of throwaway servers on loopback ports,
// started by StartReplicatedCluster.
type Cluster struct {
	Nodes []*Server
}

// StartReplicatedCluster starts a Redis Cluster of three masters, each
// with one replica (six servers, cluster-node-timeout 2000 ms), and waits
// until every replica is in sync. Everything is stopped when t ends.
func StartReplicatedCluster(t testing.TB) *Cluster {
	t.Helper()
	return startCluster(t, 1)
}

func startCluster(t testing.TB, replicas int) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli is not installed (.ci/run installs it)")
	}
	cl := &Cluster{}
	var addrs []string
	for range 3 * (1 + replicas) {
		s := StartServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		cl.Nodes = append(cl.Nodes, s)
		addrs = append(addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", fmt.Sprint(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range addrs {
		n := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := n.ClusterInfo(ctx).Result()
			ok := err == nil && strings.Contains(info, "cluster_state:ok")
			if ok && replicas > 0 {
				repl, err := n.Info(ctx, "replication").Result()
				ok = err == nil && (strings.Contains(repl, "role:master") && strings.Contains(repl, "connected_slaves:1") ||
					strings.Contains(repl, "role:slave") && strings.Contains(repl, "master_link_status:up"))
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				n.Close()
				t.Fatalf("redistest: cluster did not become ready: %v %s", err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		n.Close()
	}
	return cl
}

// Addrs returns the addresses of every node.
func (c *Cluster) Addrs() []string { return addrs(c.Nodes) }

// addrs returns the addresses of servers.
func addrs(servers []*Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.Addr
	}
	return out
}

// Client returns a ClusterClient of the cluster with the options o (its
// Addrs are filled in), closed when t ends.
func (c *Cluster) Client(t testing.TB, o *redis.ClusterOptions) *redis.ClusterClient {
	t.Helper()
	oo := *o
	oo.Addrs = c.Addrs()
	cc := redis.NewClusterClient(&oo)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// MasterOf returns the node that a live node says is the master of key's
// slot, failing t when no node answers.
func (c *Cluster) MasterOf(t testing.TB, key string) *Server {
	t.Helper()
	addr, err := c.masterAddr(key)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	t.Fatalf("redistest: the master of %q is %s, not a node of this cluster", key, addr)
	return nil
}

// ReplicaOf returns the node that replicates master, failing t when master
// reports no replica of this cluster.
func (c *Cluster) ReplicaOf(t testing.TB, master *Server) *Server {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: master.Addr, MaxRetries: -1})
	defer rc.Close()
	info, err := rc.Info(context.Background(), "replication").Result()
	if err != nil {
		t.Fatalf("redistest: INFO replication of %s: %v", master.Addr, err)
	}
	// slave0:ip=127.0.0.1,port=7001,state=online,offset=1234,lag=0
	replica := map[string]string{}
	for kv := range strings.SplitSeq(infoField(info, "slave0"), ",") {
		k, v, _ := strings.Cut(kv, "=")
		replica[k] = v
	}
	for _, n := range c.Nodes {
		if n.Addr == replica["ip"]+":"+replica["port"] {
			return n
		}
	}
	t.Fatalf("redistest: %s has no replica in this cluster:\n%s", master.Addr, info)
	return nil
}

// masterAddr asks the nodes that answer, in turn, which master serves key's slot.
func (c *Cluster) masterAddr(key string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var lastErr error
	for _, n := range c.Nodes {
		if !n.answers() {
			continue
		}
		rc := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		slot, err := rc.ClusterKeySlot(ctx, key).Result()
		var slots []redis.ClusterSlot
		if err == nil {
			slots, err = rc.ClusterSlots(ctx).Result()
		}
		rc.Close()
		if err != nil {
			lastErr = err
			continue
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
				return s.Nodes[0].Addr, nil
			}
		}
		lastErr = fmt.Errorf("slot %d is not served", slot)
	}
	return "", fmt.Errorf("no node says who serves %q: %v", key, lastErr)
}

// WaitPromoted waits until the nodes that answer say that key's slot is served by
// a master other than dead and the cluster is ok again, and returns how
// long it waited. It fails t after timeout.
func (c *Cluster) WaitPromoted(t testing.TB, key string, dead *Server, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		addr, err := c.masterAddr(key)
		if err == nil && addr != dead.Addr && c.allOK() {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("redistest: no replica took over from %s within %v (last: %s %v)", dead.Addr, timeout, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allOK reports whether every node that answers says cluster_state:ok.
func (c *Cluster) allOK() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if !n.answers() {
			continue
		}
		rc := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		info, err := rc.ClusterInfo(ctx).Result()
		rc.Close()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return false
		}
	}
	return true
}

// StartSentinel starts a Redis Sentinel on a free loopback port that
// monitors the server at masterAddr as "mymaster", and returns a client
// that finds the master through it (redis.NewFailoverClient), all released
// when t ends.
func StartSentinel(t testing.TB, masterAddr string) *redis.Client {
	t.Helper()
	s := startSentinel(t, masterAddr, 1, 5000, 180000)
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: []string{s.Addr}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startSentinel starts one Sentinel that monitors masterAddr as "mymaster"
// with the given quorum and timeouts, and waits until it reports the master.
func startSentinel(t testing.TB, masterAddr string, quorum, downAfterMS, failoverMS int) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (.ci/run installs it)")
	}
	host, mport, _ := strings.Cut(masterAddr, ":")
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	s := launch(t, "sentinel", func(port int) *Server {
		// Sentinel rewrites its configuration: a new one for each attempt.
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster %s %s %d\n"+
			"sentinel down-after-milliseconds mymaster %d\nsentinel failover-timeout mymaster %d\n",
			port, dir, host, mport, quorum, downAfterMS, failoverMS)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		return &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), bin: bin, args: []string{conf, "--sentinel"}}
	})
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	defer sc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		addr, err := sc.GetMasterAddrByName(context.Background(), "mymaster").Result()
		if err == nil && len(addr) == 2 && addr[1] == mport {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: sentinel on %s did not report the master: %v", s.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// Sentinels is a master, its replica and three Sentinels (quorum 2) that
// fail the master over to the replica, started by StartSentinels.
type Sentinels struct {
	Master, Replica *Server
	Sentinels       []*Server
	// MasterName is the name the Sentinels know the master by.
	MasterName string
}

// StartSentinels starts a master, a replica of it and three Sentinels
// monitoring it with quorum 2, down-after-milliseconds downAfter and a
// failover timeout of 10 s, on loopback ports, and waits until the replica
// is in sync and every Sentinel knows the replica and the other two.
// Everything is stopped when t ends.
func StartSentinels(t testing.TB, downAfter time.Duration) *Sentinels {
	t.Helper()
	m := StartServer(t)
	_, mport, _ := strings.Cut(m.Addr, ":")
	r := StartServer(t, "--replicaof", "127.0.0.1", mport)
	ss := &Sentinels{Master: m, Replica: r, MasterName: "mymaster"}
	ctx := context.Background()
	waitFor(t, 15*time.Second, "the replica to sync", func() bool {
		rc := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer rc.Close()
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	for range 3 {
		ss.Sentinels = append(ss.Sentinels, startSentinel(t, m.Addr, 2, int(downAfter.Milliseconds()), 10000))
	}
	for _, s := range ss.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
		waitFor(t, 20*time.Second, "the Sentinels to find each other and the replica", func() bool {
			peers, err1 := sc.Sentinels(ctx, ss.MasterName).Result()
			reps, err2 := sc.Replicas(ctx, ss.MasterName).Result()
			return err1 == nil && err2 == nil && len(peers) == 2 && len(reps) == 1
		})
		sc.Close()
	}
	return ss
}

// Addrs returns the Sentinels' addresses.
func (s *Sentinels) Addrs() []string { return addrs(s.Sentinels) }

// Client returns a failover client (redis.NewFailoverClient) with the
// options o (MasterName and SentinelAddrs filled in), closed when t ends.
func (s *Sentinels) Client(t testing.TB, o *redis.FailoverOptions) *redis.Client {
	t.Helper()
	oo := *o
	oo.MasterName, oo.SentinelAddrs = s.MasterName, s.Addrs()
	c := redis.NewFailoverClient(&oo)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// WaitFailover waits until a Sentinel names the replica as the master and
// the replica says it is one, and returns how long it waited. It fails t
// after timeout.
func (s *Sentinels) WaitFailover(t testing.TB, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_, rport, _ := strings.Cut(s.Replica.Addr, ":")
	ctx := context.Background()
	waitFor(t, timeout, "the Sentinels to promote the replica", func() bool {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr})
		addr, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
		sc.Close()
		if err != nil || len(addr) != 2 || addr[1] != rport {
			return false
		}
		rc := redis.NewClient(&redis.Options{Addr: s.Replica.Addr})
		defer rc.Close()
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "role:master")
	})
	return time.Since(start)
}

// WaitReplicated waits until every replica of the master at addr has
// acknowledged all the writes the master took before the call, and fails t
// after 10 s. Redis replicates asynchronously: a master killed before its
// replica acknowledged a write loses that write in the failover. A test
// that kills a master to measure the store, not replication lag, calls this
// first.
func WaitReplicated(t testing.TB, addr string) {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rc.Close()
	ctx := context.Background()
	info, err := rc.Info(ctx, "replication").Result()
	if err != nil {
		t.Fatalf("redistest: INFO replication of %s: %v", addr, err)
	}
	want, err := strconv.ParseInt(infoField(info, "master_repl_offset"), 10, 64)
	if err != nil {
		t.Fatalf("redistest: %s reports no master_repl_offset: %v", addr, err)
	}
	waitFor(t, 10*time.Second, fmt.Sprintf("the replicas of %s to acknowledge offset %d", addr, want), func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		n, _ := strconv.Atoi(infoField(info, "connected_slaves"))
		if err != nil || n == 0 {
			return false
		}
		for i := range n {
			// slave0:ip=127.0.0.1,port=7001,state=online,offset=1234,lag=0
			replica := map[string]string{}
			for kv := range strings.SplitSeq(infoField(info, "slave"+strconv.Itoa(i)), ",") {
				k, v, _ := strings.Cut(kv, "=")
				replica[k] = v
			}
			got, err := strconv.ParseInt(replica["offset"], 10, 64)
			if err != nil || replica["state"] != "online" || got < want {
				return false
			}
		}
		return true
	})
}

// infoField returns the value of the field name in an INFO reply, or "".
func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// waitFor polls ok every 50 ms until it is true, failing t after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CreateUser creates the ACL user user with password and rules (a
// space-separated ACL SETUSER rule list) on every server at addrs, as the
// default user: Redis keeps ACL users per server, and replicas do not copy
// them from their master.
func CreateUser(t testing.TB, user, password, rules string, addrs ...string) {
	t.Helper()
	args := []any{"ACL", "SETUSER", user, "on", ">" + password}
	for _, r := range strings.Fields(rules) {
		args = append(args, r)
	}
	for _, a := range addrs {
		admin := redis.NewClient(&redis.Options{Addr: a})
		err := admin.Do(context.Background(), args...).Err()
		_ = admin.Close()
		if err != nil {
			t.Fatalf("ACL SETUSER %s on %s: %v", user, a, err)
		}
	}
}
