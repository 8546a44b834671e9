package browsertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/example/app"
)

// The hosts the browser resolves to 127.0.0.1 (--host-resolver-rules): the
// application, a sibling subdomain of it (same site, another origin) and
// another site.
const (
	appHost     = "app.example.test"
	siblingHost = "www.example.test"
	otherHost   = "other.example"
)

// testTimeout bounds each test's browser actions; actionTimeout bounds one
// wait for the page.
const (
	testTimeout   = 2 * time.Minute
	actionTimeout = 20 * time.Second
)

// The browsers the tests pretend to be with a User-Agent override: of
// different families, so the session fingerprint tells them apart.
const (
	firefoxUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// testSecret is a fixed 32-byte session secret.
var testSecret = []byte("browsertest-secret-0123456789abcdef")

// fastPasswords keeps argon2id cheap: the tests are about the browser.
var fastPasswords = app.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// required reports whether BROWSER_TESTS=1 asks for the tests to run, so a
// missing browser or Redis fails them instead of skipping.
func required() bool { return os.Getenv("BROWSER_TESTS") == "1" }

// cannotRun skips the test, or fails it under BROWSER_TESTS=1.
func cannotRun(t *testing.T, format string, args ...any) {
	t.Helper()
	if required() {
		t.Fatalf(format+" (BROWSER_TESTS=1 makes this a failure)", args...)
	}
	t.Skipf(format+" (set BROWSER_TESTS=1 to make this a failure)", args...)
}

// chromiumPath returns the browser to run: CHROMIUM, else the first of the
// usual names on PATH, else "".
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// redisClient connects to REDIS_URL, else 127.0.0.1:6379.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opts := &redis.Options{Addr: "127.0.0.1:6379"}
	if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		require.NoError(t, err, "REDIS_URL")
		opts = o
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		cannotRun(t, "no Redis answers at %s: %v", opts.Addr, err)
	}
	return rdb
}

// env is one run of the example application, served to a fresh Chromium.
type env struct {
	t        *testing.T
	app      *app.App
	rdb      *redis.Client
	prefix   string
	srv      *httptest.Server
	base     string // the application's URL as the browser sees it
	rec      *recorder
	browser  context.Context
	deadline time.Time
	shots    string

	mu      sync.Mutex
	nshot   int
	console []string // "<device> <type>: <text>" of every console message
}

// newEnv starts the application (in production mode when production is
// set, else development; over https when tls is set, else http) on its own
// key prefix, and a headless Chromium with a fresh profile.
func newEnv(t *testing.T, production, tls bool) *env {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		cannotRun(t, "no Chromium found: install Debian's chromium (apt-get install --no-install-recommends chromium) or set CHROMIUM")
	}
	e := &env{t: t, rdb: redisClient(t), deadline: time.Now().Add(testTimeout)}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	e.prefix = "browsertest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() { e.unlinkAll() })

	var logs bytes.Buffer
	var logMu sync.Mutex
	cfg := app.Config{
		Env:       app.EnvDevelopment,
		Secret:    testSecret,
		KeyPrefix: e.prefix,
		Password:  fastPasswords,
		Logger:    slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil)),
	}
	if production {
		cfg.Env = app.EnvProduction
	}
	a, err := app.New(cfg, e.rdb)
	require.NoError(t, err)
	e.app = a
	router, err := a.Router()
	require.NoError(t, err)
	e.rec = &recorder{next: router, cookie: a.Config().CookieName()}
	if tls {
		e.srv = httptest.NewTLSServer(e.rec)
	} else {
		e.srv = httptest.NewServer(e.rec)
	}
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("application log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	e.base = e.urlFor(e.srv, appHost)

	e.shots = os.Getenv("BROWSER_SCREENSHOTS")
	if e.shots == "" {
		e.shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(e.shots, 0o755))

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", fmt.Sprintf("MAP %s 127.0.0.1, MAP %s 127.0.0.1, MAP %s 127.0.0.1", appHost, siblingHost, otherHost)),
		chromedp.IgnoreCertErrors, // httptest's certificate
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
	)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// Registered after the TempDirs, so they run first: the browser stops
	// before its profile is removed.
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			cannotRun(t, "Chromium at %s does not start: %v", exe, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("Chromium at %s did not start within 60 s", exe)
	}
	e.browser = bctx
	return e
}

// urlFor returns srv's URL with host in place of 127.0.0.1.
func (e *env) urlFor(srv *httptest.Server, host string) string {
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(e.t, err)
	scheme := "http"
	if srv.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + host + ":" + port
}

// device opens a new browser context (its own cookie jar, like another
// device) with one tab, and returns a context for its actions that ends
// at the test's deadline. A non-empty ua overrides the User-Agent. When the
// test fails, a screenshot of the tab is saved.
func (e *env) device(name, ua string) context.Context {
	e.t.Helper()
	tab, cancelTab := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	e.t.Cleanup(cancelTab)
	require.NoError(e.t, chromedp.Do(tab), "opening a tab")
	ctx, cancel := context.WithDeadline(tab, e.deadline)
	e.t.Cleanup(cancel)
	e.t.Cleanup(func() {
		if e.t.Failed() {
			sctx, cancel := context.WithTimeout(tab, 10*time.Second)
			defer cancel()
			e.screenshot(sctx, "FAILED-"+name)
		}
	})
	if ua != "" {
		e.setUA(ctx, ua)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			e.mu.Lock()
			e.console = append(e.console, fmt.Sprintf("%s %s: %s", name, m.Type, m.Text))
			e.mu.Unlock()
		}
	}()
	return ctx
}

// assertNoScriptErrors checks that no page threw an exception and the
// Content-Security-Policy blocked nothing. Failed requests (401, 403, 429)
// are logged by the browser as errors and are expected.
func (e *env) assertNoScriptErrors() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.console {
		assert.NotContains(e.t, m, " "+string(chromedp.ConsoleException)+":", "an exception in the page")
		assert.NotContains(e.t, m, "Content Security Policy", "the CSP blocked something")
	}
	e.t.Logf("%d console messages", len(e.console))
}

// setUA makes the tab send ua as its User-Agent from now on.
func (e *env) setUA(ctx context.Context, ua string) {
	e.t.Helper()
	_, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua})
	require.NoError(e.t, err, "setting the User-Agent")
}

// screenshot saves a PNG of the whole page as <test>-<n>-<name>.png in the
// screenshot folder, and returns its path. It never fails the test.
func (e *env) screenshot(ctx context.Context, name string) string {
	e.mu.Lock()
	e.nshot++
	n := e.nshot
	e.mu.Unlock()
	return e.screenshotAs(ctx, fmt.Sprintf("%s-%02d-%s.png", fileSafe(e.t.Name()), n, name))
}

// screenshotAs saves a PNG of the whole page as file in the screenshot
// folder.
func (e *env) screenshotAs(ctx context.Context, file string) string {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		e.t.Logf("screenshot %s: %v", file, err)
		return ""
	}
	path := filepath.Join(e.shots, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		e.t.Logf("screenshot %s: %v", file, err)
		return ""
	}
	return path
}

// screenshotPage saves a PNG of the whole page at width CSS pixels as file
// in the screenshot folder: the viewport is made as tall as the page, then
// reset.
func (e *env) screenshotPage(ctx context.Context, file string, width int64) {
	e.t.Helper()
	require.NoError(e.t, chromedp.Do(ctx, chromedp.EmulateViewport(width, 600)))
	h := eval[int64](e, ctx, `document.documentElement.scrollHeight`)
	require.NoError(e.t, chromedp.Do(ctx, chromedp.EmulateViewport(width, h)))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(e.t, err)
	require.NoError(e.t, os.WriteFile(filepath.Join(e.shots, file), png, 0o644))
	require.NoError(e.t, chromedp.Do(ctx, chromedp.EmulateReset()))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func fileSafe(s string) string { return unsafeName.ReplaceAllString(s, "_") }

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// open loads the page at path and waits until its script has asked the
// server who is logged in.
func (e *env) open(ctx context.Context, url string) {
	e.t.Helper()
	require.NoError(e.t, chromedp.Do(ctx, chromedp.Navigate(url)), "navigating to %s", url)
	e.waitFor(ctx, `document.body && document.body.dataset.state !== undefined && document.body.dataset.state !== ""`)
}

// waitFor polls a JavaScript condition until it holds, for at most
// actionTimeout. A poll that a navigation interrupts (the page it ran in
// went away, as after a click on a link) starts again in the new page.
func (e *env) waitFor(ctx context.Context, cond string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	var err error
	for {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil || ctx.Err() != nil || !navigatedAway(err) {
			break
		}
	}
	require.NoError(e.t, err, "waiting for %s (message on the page: %q)", cond, e.messageNow(ctx))
}

// navigatedAway reports whether err says the page a script ran in was
// replaced by a navigation, rather than that the script failed.
func navigatedAway(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "navigated or closed") ||
		strings.Contains(msg, "Execution context was destroyed") ||
		strings.Contains(msg, "Cannot find context")
}

// waitState waits until the page shows want: "user" or "anon".
func (e *env) waitState(ctx context.Context, want string) {
	e.t.Helper()
	e.waitFor(ctx, `document.body.dataset.state === `+js(want))
}

// waitMessage waits until the page's message contains text.
func (e *env) waitMessage(ctx context.Context, text string) {
	e.t.Helper()
	e.waitFor(ctx, `document.getElementById("message").textContent.includes(`+js(text)+`)`)
}

// messageNow returns the page's message, or "" when it cannot be read.
func (e *env) messageNow(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("message") || {}).textContent || ""`))
	return s
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](e *env, ctx context.Context, expr string) T {
	e.t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(e.t, err, "evaluating %s", expr)
	return v
}

// fill types text into the input selected by css, replacing its value.
func (e *env) fill(ctx context.Context, css, text string) {
	e.t.Helper()
	eval[bool](e, ctx, `(document.querySelector(`+js(css)+`).value = "") === ""`)
	require.NoError(e.t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(css), text)), "typing into %s", css)
}

// click clicks the element selected by css.
func (e *env) click(ctx context.Context, css string) {
	e.t.Helper()
	require.NoError(e.t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(css))), "clicking %s", css)
}

// logIn logs in through the page's form and waits for the logged-in view.
func (e *env) logIn(ctx context.Context, email, password string) {
	e.t.Helper()
	e.fill(ctx, "#login-email", email)
	e.fill(ctx, "#login-password", password)
	e.click(ctx, "#login-button")
	e.waitState(ctx, "user")
}

// cookies returns every cookie of the tab's browser context, from the
// browser's cookie store.
func (e *env) cookies(ctx context.Context) []*network.Cookie {
	e.t.Helper()
	id := chromedp.FromContext(ctx).BrowserContextID
	require.NotEmpty(e.t, id, "the tab has its own browser context")
	res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{BrowserContextID: id})
	require.NoError(e.t, err)
	return res.Cookies
}

// cookie returns the cookie called name for domain, or nil.
func (e *env) cookie(ctx context.Context, name, domain string) *network.Cookie {
	e.t.Helper()
	for _, c := range e.cookies(ctx) {
		if c.Name == name && c.Domain == domain {
			return c
		}
	}
	return nil
}

// sessionKeys returns the session keys (not the user indexes, not the
// tombstones of ended recent logins) under the
// run's prefix, found with SCAN.
func (e *env) sessionKeys() []string {
	e.t.Helper()
	sp := e.prefix + "sess:"
	var keys []string
	for _, k := range e.scan(sp + "*") {
		if strings.HasPrefix(k, sp+"u:") {
			continue
		}
		if f, err := e.rdb.HKeys(context.Background(), k).Result(); err == nil && len(f) == 1 && f[0] == "_t" {
			continue // a tombstone: where an ended recent login's write must not land
		}
		keys = append(keys, k)
	}
	return keys
}

// scan returns the keys matching pattern.
func (e *env) scan(pattern string) []string {
	e.t.Helper()
	ctx := context.WithoutCancel(e.t.Context())
	var keys []string
	iter := e.rdb.Scan(ctx, 0, pattern, 200).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	require.NoError(e.t, iter.Err())
	return keys
}

// unlinkAll deletes every key of the run.
func (e *env) unlinkAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := e.rdb.Scan(ctx, 0, e.prefix+"*", 200).Iterator()
	for iter.Next(ctx) {
		_ = e.rdb.Unlink(ctx, iter.Val()).Err()
	}
}

// hit is one request the application answered.
type hit struct {
	Method, Path, Origin, SecFetchSite, ContentType string
	Cookie                                          bool // the session cookie came with it
	Status                                          int
	ClearSiteData                                   string
}

// recorder serves the application and remembers every request, so a test
// knows that a forged request did reach the server, and what it got.
type recorder struct {
	next   http.Handler
	cookie string

	mu   sync.Mutex
	hits []hit
}

// serve makes the recorder pass requests to h from now on.
func (r *recorder) serve(h http.Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next = h
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	next := r.next
	r.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	next.ServeHTTP(sw, req)
	_, err := req.Cookie(r.cookie)
	h := hit{
		Method: req.Method, Path: req.URL.Path, Origin: req.Header.Get("Origin"),
		SecFetchSite: req.Header.Get("Sec-Fetch-Site"), ContentType: req.Header.Get("Content-Type"),
		Cookie: err == nil, Status: sw.status, ClearSiteData: w.Header().Get("Clear-Site-Data"),
	}
	r.mu.Lock()
	r.hits = append(r.hits, h)
	r.mu.Unlock()
}

// from returns the requests that carried Origin origin.
func (r *recorder) from(origin string) []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hit
	for _, h := range r.hits {
		if h.Origin == origin {
			out = append(out, h)
		}
	}
	return out
}

// last returns the last request for method and path.
func (r *recorder) last(method, path string) (hit, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.hits) - 1; i >= 0; i-- {
		if r.hits[i].Method == method && r.hits[i].Path == path {
			return r.hits[i], true
		}
	}
	return hit{}, false
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runNavigate loads url in the tab, without waiting for anything but the
// load event.
func runNavigate(ctx context.Context, url string) error {
	return chromedp.Do(ctx, chromedp.Navigate(url))
}
