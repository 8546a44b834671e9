// Package benchmarks compares sessionshield with other Go session stores on
// the same two routes, against the same real Redis: POST /login, which
// stores the user ID and what identifies the browser, and GET /profile,
// which reads both back and answers 401 when the browser differs.
//
// The contenders are sessionshield (ginsession.Login and RequireAuth),
// gin-contrib/sessions with its Redis store (boj/redistore on redigo), scs
// v2 with goredisstore, a one-GET floor (an unsigned random cookie and one
// plain GET per request) and gin-contrib's cookie store (no Redis).
//
// Requests are driven in-process (httptest.NewRecorder and ServeHTTP), so
// the numbers measure the libraries, not TCP. Redis commands and round
// trips are counted by wrapping the clients: a go-redis hook for go-redis
// clients, a counting redigo Conn for redistore. The Redis server is the
// one REDIS_URL names (default redis://127.0.0.1:6379/0); it may be shared,
// so every contender writes under its own unique key prefix and deletes
// what it wrote with SCAN and UNLINK.
//
// See README.md for the commands: go run ./cmd/table prints the comparison
// table, go test -bench . runs the benchmarks, and LOAD=1 go test -run
// TestLoad runs the load test over real sockets.
package benchmarks
