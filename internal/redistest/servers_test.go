package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestStartTriesAnotherPort: a server that exits before it answers (here
// its port is held by a listener, as when another process takes a port
// freePort gave back) is started again on another port.
func TestStartTriesAnotherPort(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (.ci/run installs it)")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	held := taken.Addr().(*net.TCPAddr).Port

	attempts := 0
	s := launch(t, "redis-server", func(port int) *Server {
		attempts++
		if attempts == 1 {
			port = held
		}
		args := []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir()}
		return &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), bin: bin, args: args}
	})
	if attempts != 2 {
		t.Fatalf("attempts: got %d, want 2 (the first port was taken)", attempts)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the server started on the second port does not answer: %v", err)
	}
	if strings.HasSuffix(s.Addr, fmt.Sprintf(":%d", held)) {
		t.Fatalf("the server claims the taken port %d", held)
	}
}

// TestStartIgnoresAnotherServersAnswer: when another redis-server holds the
// port, its answer is not taken for the new server's: the new one exits,
// and is started again on another port.
func TestStartIgnoresAnotherServersAnswer(t *testing.T) {
	other := StartServer(t)
	_, held, _ := strings.Cut(other.Addr, ":")
	attempts := 0
	s := launch(t, "redis-server", func(port int) *Server {
		attempts++
		p := fmt.Sprint(port)
		if attempts == 1 {
			p = held
		}
		args := []string{"--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir()}
		return &Server{Addr: "127.0.0.1:" + p, bin: other.bin, args: args}
	})
	if attempts != 2 || s.Addr == other.Addr {
		t.Fatalf("attempts %d, address %s (the other server's is %s): the other server's answer was taken", attempts, s.Addr, other.Addr)
	}
}
