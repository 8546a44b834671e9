package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// fail aborts the request with status and {"error": msg}.
func fail(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

// decodeJSON reads the request body, one JSON object with no unknown
// fields and nothing after it, into v, answering 413 or 400 itself when it
// cannot.
func decodeJSON(c *gin.Context, v any) bool {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return true
		}
		if err == nil {
			err = errors.New("data after the JSON object")
		}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		fail(c, http.StatusRequestEntityTooLarge, "request body too large")
	} else {
		fail(c, http.StatusBadRequest, "invalid JSON body")
	}
	return false
}

// admitted reports whether a request the throttle counted may go on. When
// not, it has answered: 503 when the throttle could not count (err), 429
// with Retry-After (whole seconds, rounded up) and the refusal's message
// when the client must wait, logging event with the client IP. A 429 is
// sent after hold.
func (a *App) admitted(c *gin.Context, r refusal, err error, event string) bool {
	switch {
	case err != nil:
		a.unavailable(c, err)
		return false
	case r.wait > 0:
		a.log.Warn(event, "ip", c.ClientIP(), "reason", r.msg)
		a.hold(c, min(r.wait, a.cfg.RefusalDelay))
		c.Header("Retry-After", strconv.Itoa(int((r.wait+time.Second-1)/time.Second)))
		fail(c, http.StatusTooManyRequests, r.msg)
		return false
	}
	return true
}

// maxHeld is how many refused requests hold keeps at once.
const maxHeld = 256

// hold waits d, or until the request is cancelled, before a refusal is
// answered, so that a client retrying in a loop sends about one request
// per d instead of as many as the server can refuse: refusals are cheap,
// but a loop of them still takes CPU from the password hashes of other
// users. When maxHeld requests are held already it returns at once, so
// holding never costs more than maxHeld goroutines and connections.
func (a *App) hold(c *gin.Context, d time.Duration) {
	select {
	case a.held <- struct{}{}:
	default:
		return
	}
	defer func() { <-a.held }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.Request.Context().Done():
	}
}

// busyRetryAfter is the Retry-After of a 503 for a full hash queue, in
// seconds: the queue drains in well under a second when the load passes.
const busyRetryAfter = "1"

// unavailable answers 503 and logs err, which never holds a secret (Redis
// and ginsession errors carry no IDs, cookies or passwords). A request the
// client cancelled is logged at Info: nobody reads its answer, and it says
// nothing about the store. A full hash queue (ErrBusy) is logged at Warn
// and answered with Retry-After: the server is overloaded, not broken.
func (a *App) unavailable(c *gin.Context, err error) {
	if errors.Is(err, ErrBusy) {
		a.log.Warn("password hashing busy", "route", c.FullPath(), "error", err.Error())
		c.Header("Retry-After", busyRetryAfter)
		fail(c, http.StatusServiceUnavailable, "server busy, try again")
		return
	}
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		a.log.Info("request cancelled by the client", "route", c.FullPath())
		fail(c, http.StatusServiceUnavailable, "service unavailable")
		return
	}
	a.log.Error("store unavailable", "route", c.FullPath(), "error", err.Error())
	fail(c, http.StatusServiceUnavailable, "service unavailable")
}
