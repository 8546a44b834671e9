package benchmarks

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestContenders checks that every contender serves the two routes as the
// benchmarks assume: a login's cookie reads the user back, another browser
// with the same cookie gets 401 (except the harness, which has no session),
// and no cookie gets 401. It skips when Redis is unreachable.
func TestContenders(t *testing.T) {
	ctx := context.Background()
	env, err := NewEnv(ctx)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { _ = env.Close() })
	for _, c := range Contenders() {
		t.Run(c.Slug, func(t *testing.T) {
			target, err := c.New(ctx, env, env.Prefix(c.Slug))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := target.Close(); err != nil {
					t.Error(err)
				}
				if target.Prefix != "" {
					if keys, err := env.Keys(ctx, target.Prefix); err != nil || len(keys) != 0 {
						t.Errorf("left %d keys (%v)", len(keys), err)
					}
				}
			})
			user := NextUser("check")
			cookie, err := target.Login(user, UserAgent)
			if err != nil {
				t.Fatal(err)
			}
			code, body := target.Profile(cookie, UserAgent)
			if code != http.StatusOK || !strings.Contains(body, `"userId":"`+user+`"`) {
				t.Fatalf("profile: %d %s", code, body)
			}
			if code, body := target.Profile("", UserAgent); code != http.StatusUnauthorized {
				t.Errorf("profile without cookie: %d %s", code, body)
			}
			if c.Slug != "harness" {
				if code, body := target.Profile(cookie, otherUserAgent); code != http.StatusUnauthorized {
					t.Errorf("profile from another browser: %d %s", code, body)
				}
			}
		})
	}
}
