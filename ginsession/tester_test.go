package ginsession

import (
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/tester"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// newTesterStore is the store factory of gin-contrib/sessions' tester
// suite, which every gin-contrib store runs. The suite sends its requests
// over plain http, so the store is Insecure.
func newTesterStore(t *testing.T) sessions.Store {
	s, err := NewStore(redistest.Client(t), Config{
		Secrets:   [][]byte{[]byte(testSecret)},
		KeyPrefix: redistest.Prefix(t),
		Insecure:  true,
	})
	require.NoError(t, err)
	return s
}

// The cases of gin-contrib/sessions' tester that apply to a hardened
// store, run as every gin-contrib store runs them. tester.Options is left
// out: it expects store.Options to replace the cookie attributes, as the
// other stores do (after Options{Domain: "localhost"}, the second attribute
// of the Set-Cookie must be Domain, so Path must be gone, and after
// session.Options{SameSite: Strict} it must be SameSite); this store
// merges them (a zero field keeps the default Path=/, see Store.Options),
// so its Set-Cookie reads "Path=/; Domain=localhost; ...".
// TestCookieOptionsTable checks what Options does instead.

func TestGinContribTesterGetSet(t *testing.T)    { tester.GetSet(t, newTesterStore) }
func TestGinContribTesterDeleteKey(t *testing.T) { tester.DeleteKey(t, newTesterStore) }
func TestGinContribTesterFlashes(t *testing.T)   { tester.Flashes(t, newTesterStore) }
func TestGinContribTesterClear(t *testing.T)     { tester.Clear(t, newTesterStore) }
func TestGinContribTesterMany(t *testing.T)      { tester.Many(t, newTesterStore) }
