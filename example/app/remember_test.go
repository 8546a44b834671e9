package app

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoginRemember checks "keep me signed in": {"remember": true} gets a
// cookie for 30 days and a session listed as remembered; a plain login
// gets the store's 24-hour cookie and is not.
func TestLoginRemember(t *testing.T) {
	const email, pw = "rémy@example.com", "rémy's password"
	e := newTestEnv(t, nil)
	e.signup(email, pw)
	plain := e.do(http.MethodPost, "/login", creds(email, pw))
	require.Equal(t, http.StatusOK, plain.status, plain.body)
	body, _ := json.Marshal(credentials{Email: email, Password: pw, Remember: true})
	kept := e.do(http.MethodPost, "/login", string(body), withUA(firefoxUA))
	require.Equal(t, http.StatusOK, kept.status, kept.body)
	require.Len(t, plain.cookies, 1)
	require.Len(t, kept.cookies, 1)
	assert.Equal(t, 86400, plain.cookies[0].MaxAge)
	assert.Equal(t, 30*86400, kept.cookies[0].MaxAge)

	r := e.do(http.MethodGet, "/sessions", "", withCookie(kept.cookies[0]), withUA(firefoxUA))
	require.Equal(t, http.StatusOK, r.status, r.body)
	var list struct {
		Sessions []struct {
			Current, Remembered bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &list))
	require.Len(t, list.Sessions, 2)
	for _, s := range list.Sessions {
		assert.Equal(t, s.Current, s.Remembered, "only the remembered login (the caller) is marked remembered")
	}
}
