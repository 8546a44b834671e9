// Package browsertest drives the example application (example/app) with a
// real headless Chromium: the page as a person uses it, the session cookie
// as the browser stores it, cross-site and same-site request forgery, a
// User-Agent switch after login, and what logout leaves of other sites'
// cookies. It is a module of its own, so that chromedp never enters the
// library's dependencies.
//
// The tests need Chromium (chromium, chromium-browser or google-chrome on
// PATH, or CHROMIUM naming the binary) and Redis (REDIS_URL, else
// 127.0.0.1:6379). Without either they skip, saying why, unless
// BROWSER_TESTS=1, which makes a missing browser or Redis a failure. They
// write a PNG screenshot of each page state, and one on any failure, to
// BROWSER_SCREENSHOTS (default: a temporary directory removed after the
// test):
//
//	cd browsertest && BROWSER_TESTS=1 BROWSER_SCREENSHOTS=$PWD/shots go test -count=1 ./...
package browsertest
