package fingerprint

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUserAgentBinding(t *testing.T) {
	uas := userAgents(t)
	tests := []struct {
		name       string
		login, now string // fixture names
		wantOK     bool
	}{
		{"same browser", "chrome131-windows", "chrome131-windows", true},
		{"Chrome 130 to 131 kept", "chrome130-windows", "chrome131-windows", true},
		{"Firefox 132 to 133 on Windows kept", "firefox132-windows", "firefox133-windows", true},
		{"Firefox 132 to 133 on Linux kept", "firefox132-linux", "firefox133-linux", true},
		{"Safari 17 to 18 on macOS kept", "safari17-macos", "safari18-macos", true},
		{"iOS 17 to 18 Safari kept", "safari17-iphone", "safari18-iphone", true},
		{"curl 8.5 to 8.11 kept", "curl8.5", "curl8.11", true},
		{"Chrome to Firefox caught", "chrome131-windows", "firefox133-windows", false},
		{"Chrome Windows to Chrome Android caught", "chrome131-windows", "chrome131-android", false},
		{"Chrome Windows to Chrome macOS caught", "chrome131-windows", "chrome131-macos", false},
		{"Chrome Windows to Chrome Linux caught", "chrome131-windows", "chrome131-linux", false},
		{"Chrome to Edge caught", "chrome131-windows", "edge131-windows", false},
		{"Chrome to Opera caught", "chrome130-windows", "opera115-windows", false},
		{"Chrome Android to Samsung Internet caught", "chrome131-android", "samsung26-android", false},
		{"desktop Safari to iPhone Safari caught", "safari18-macos", "safari18-iphone", false},
		{"iPhone to iPad caught", "safari18-iphone", "safari18-ipad", false},
		{"Firefox desktop to Firefox Android caught", "firefox133-linux", "firefox133-android", false},
		{"Firefox Linux to Firefox Windows caught", "firefox133-linux", "firefox133-windows", false},
		{"browser to curl caught", "chrome131-windows", "curl8.11", false},
		{"browser to python-requests caught", "firefox133-windows", "python-requests2.32", false},
		{"browser to Go client caught", "safari18-macos", "go-http-client", false},
		{"curl to python-requests caught", "curl8.5", "python-requests2.31", false},
	}
	b := newBinder(t, Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stored := b.Compute(newRequest(uaByName(t, uas, tc.login), "en-US,en;q=0.9"), "")
			res := b.Check(stored, newRequest(uaByName(t, uas, tc.now), "en-US,en;q=0.9"), "")
			assert.Equal(t, tc.wantOK, res.OK())
			assert.False(t, res.Malformed)
			assert.Empty(t, res.Soft)
			if tc.wantOK {
				assert.Empty(t, res.Hard)
				assert.Nil(t, res.Fields())
			} else {
				assert.Equal(t, []Field{UserAgent}, res.Hard)
				assert.Equal(t, []string{"user-agent"}, res.Fields())
			}
		})
	}
}

func TestUserAgentDistinctFamilies(t *testing.T) {
	// Rows that are the same browser on the same platform share a canonical
	// User-Agent; everything else must differ from everything else.
	same := map[string]string{
		"chrome130-windows":   "chrome131-windows",
		"firefox132-windows":  "firefox133-windows",
		"firefox132-linux":    "firefox133-linux",
		"safari17-macos":      "safari18-macos",
		"safari17-iphone":     "safari18-iphone",
		"curl8.5":             "curl8.11",
		"python-requests2.31": "python-requests2.32",
		"go-http-client2":     "go-http-client",
	}
	group := func(name string) string {
		if g, ok := same[name]; ok {
			return g
		}
		return name
	}
	rows := loadUserAgents(t)
	seen := make(map[string]string) // canonical form -> group
	for _, row := range rows {
		canon := string(appendUserAgent(nil, row.ua))
		if g, ok := seen[canon]; ok {
			assert.Equalf(t, g, group(row.name), "%s shares a canonical User-Agent with %s", row.name, g)
			continue
		}
		seen[canon] = group(row.name)
	}
	assert.Len(t, seen, len(rows)-len(same))
}

func TestAcceptLanguageBinding(t *testing.T) {
	ua := uaByName(t, userAgents(t), "firefox133-linux")
	tests := []struct {
		name       string
		cfg        Config
		login, now string
		wantHard   []Field
		wantSoft   []Field
	}{
		{name: "same", login: "en-US,en;q=0.9", now: "en-US,en;q=0.9"},
		{name: "region and q-values ignored", login: "en-US,en;q=0.9", now: "en-GB;q=0.8"},
		{name: "case ignored", login: "EN-us", now: "en"},
		{name: "en to ja is soft by default", login: "en", now: "ja", wantSoft: []Field{AcceptLanguage}},
		{name: "removed later is soft", login: "de-DE,de;q=0.9", now: "", wantSoft: []Field{AcceptLanguage}},
		{name: "absent at login is not checked", login: "", now: "ja"},
		{name: "absent both times", login: "", now: ""},
		{name: "wildcard bound", login: "*", now: "fr", wantSoft: []Field{AcceptLanguage}},
		{name: "ActionHard makes it hard", cfg: Config{AcceptLanguage: ActionHard}, login: "en", now: "ja", wantHard: []Field{AcceptLanguage}},
		{name: "Off is not checked", cfg: Config{AcceptLanguage: ActionOff}, login: "en", now: "ja"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBinder(t, tc.cfg)
			stored := b.Compute(newRequest(ua, tc.login), "")
			res := b.Check(stored, newRequest(ua, tc.now), "")
			assert.Equal(t, tc.wantHard, res.Hard)
			assert.Equal(t, tc.wantSoft, res.Soft)
			assert.Equal(t, len(tc.wantHard) == 0, res.OK())
			assert.False(t, res.Malformed)
		})
	}
}

func TestOtherHeadersIgnored(t *testing.T) {
	ua := uaByName(t, userAgents(t), "chrome131-macos")
	b := newBinder(t, Config{IPPrefix: ActionHard})
	login := newRequest(ua, "en-US,en;q=0.9")
	login.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	login.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	login.Header.Set("Sec-Fetch-Mode", "navigate")
	login.Header.Set("Referer", "https://app.example/login")
	stored := b.Compute(login, "192.0.2.10")

	now := newRequest(ua, "en-US,en;q=0.9")
	now.Header.Set("Accept", "application/json")
	now.Header.Set("Accept-Encoding", "identity")
	now.Header.Set("Sec-Fetch-Mode", "cors")
	now.Header.Set("X-Forwarded-For", "203.0.113.99")
	now.Header.Set("Cookie", "session=other")
	res := b.Check(stored, now, "192.0.2.10")
	assert.True(t, res.OK())
	assert.Equal(t, Result{}, res)
}

func TestClientIPBinding(t *testing.T) {
	ua := uaByName(t, userAgents(t), "chrome131-linux")
	tests := []struct {
		name      string
		cfg       Config
		login     string
		now       string
		wantBound bool // ClientIP is stored
		wantHard  []Field
		wantSoft  []Field
	}{
		{name: "off by default", login: "10.0.1.5", now: "192.0.2.1"},
		{name: "same address", cfg: Config{IPPrefix: ActionHard}, login: "10.0.1.5", now: "10.0.1.5", wantBound: true},
		{name: "same IPv4 /24 kept", cfg: Config{IPPrefix: ActionHard}, login: "127.0.0.1", now: "127.0.0.2", wantBound: true},
		{name: "different IPv4 /24 caught", cfg: Config{IPPrefix: ActionHard}, login: "10.0.1.5", now: "10.0.2.5", wantBound: true, wantHard: []Field{IPPrefix}},
		{name: "ActionSoft makes it soft", cfg: Config{IPPrefix: ActionSoft}, login: "10.0.1.5", now: "10.0.2.5", wantBound: true, wantSoft: []Field{IPPrefix}},
		{name: "same IPv6 /64 kept", cfg: Config{IPPrefix: ActionHard}, login: "2001:db8:1:2::1", now: "2001:db8:1:2:aaaa:bbbb:cccc:dddd", wantBound: true},
		{name: "different IPv6 /64 caught", cfg: Config{IPPrefix: ActionHard}, login: "2001:db8:1:2::1", now: "2001:db8:1:3::1", wantBound: true, wantHard: []Field{IPPrefix}},
		{name: "IPv4-mapped IPv6 is IPv4", cfg: Config{IPPrefix: ActionHard}, login: "::ffff:198.51.100.7", now: "198.51.100.200", wantBound: true},
		{name: "IPv4 to IPv6 caught", cfg: Config{IPPrefix: ActionHard}, login: "198.51.100.7", now: "2001:db8::1", wantBound: true, wantHard: []Field{IPPrefix}},
		{name: "port ignored", cfg: Config{IPPrefix: ActionHard}, login: "192.0.2.1:50000", now: "192.0.2.9", wantBound: true},
		{name: "bracketed IPv6 with port", cfg: Config{IPPrefix: ActionHard}, login: "[2001:db8::1]:443", now: "2001:db8::2", wantBound: true},
		{name: "zone ignored", cfg: Config{IPPrefix: ActionHard}, login: "fe80::1%eth0", now: "fe80::2", wantBound: true},
		{name: "empty at login binds nothing", cfg: Config{IPPrefix: ActionHard}, login: "", now: "10.0.2.5"},
		{name: "unparsable at login binds nothing", cfg: Config{IPPrefix: ActionHard}, login: "not-an-ip", now: "10.0.2.5"},
		{name: "unparsable later is a mismatch", cfg: Config{IPPrefix: ActionHard}, login: "10.0.1.5", now: "garbage", wantBound: true, wantHard: []Field{IPPrefix}},
		{name: "empty later is a mismatch", cfg: Config{IPPrefix: ActionHard}, login: "10.0.1.5", now: "", wantBound: true, wantHard: []Field{IPPrefix}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBinder(t, tc.cfg)
			stored := b.Compute(newRequest(ua, ""), tc.login)
			require.NotEmpty(t, stored)
			assert.Equal(t, tc.wantBound, stored[2]&IPPrefix.bit() != 0)
			res := b.Check(stored, newRequest(ua, ""), tc.now)
			assert.Equal(t, tc.wantHard, res.Hard)
			assert.Equal(t, tc.wantSoft, res.Soft)
			assert.Equal(t, len(tc.wantHard) == 0, res.OK())
		})
	}
}

func TestFieldEnabledAfterLogin(t *testing.T) {
	ua := uaByName(t, userAgents(t), "chrome131-windows")
	before := newBinder(t, Config{})
	stored := before.Compute(newRequest(ua, ""), "10.0.1.5")

	after := newBinder(t, Config{IPPrefix: ActionHard})
	res := after.Check(stored, newRequest(ua, "ja"), "192.0.2.1")
	assert.Equal(t, Result{}, res, "fields not bound at login are not checked")
}

func TestFieldTurnedOffAfterLogin(t *testing.T) {
	uas := userAgents(t)
	before := newBinder(t, Config{IPPrefix: ActionHard})
	stored := before.Compute(newRequest(uaByName(t, uas, "chrome131-windows"), "en"), "10.0.1.5")

	after := newBinder(t, Config{UserAgent: ActionOff, AcceptLanguage: ActionOff})
	res := after.Check(stored, newRequest(uaByName(t, uas, "curl8.11"), "ja"), "192.0.2.1")
	assert.Equal(t, Result{}, res, "fields that are Off now are not checked")
}

func TestMultipleMismatches(t *testing.T) {
	uas := userAgents(t)
	b := newBinder(t, Config{IPPrefix: ActionSoft})
	stored := b.Compute(newRequest(uaByName(t, uas, "chrome131-windows"), "en-US"), "10.0.1.5")
	res := b.Check(stored, newRequest(uaByName(t, uas, "python-requests2.32"), "ja"), "10.9.9.9")
	assert.False(t, res.OK())
	assert.Equal(t, []Field{UserAgent}, res.Hard)
	assert.Equal(t, []Field{AcceptLanguage, IPPrefix}, res.Soft)
	assert.Equal(t, []string{"user-agent", "accept-language", "ip-prefix"}, res.Fields())
}

func TestComputeFormat(t *testing.T) {
	ua := uaByName(t, userAgents(t), "chrome131-windows")
	tests := []struct {
		name     string
		cfg      Config
		lang, ip string
		wantLen  int
		wantMap  uint8
	}{
		{name: "UA only", wantLen: 11, wantMap: 0b001},
		{name: "UA and Accept-Language", lang: "en", wantLen: 19, wantMap: 0b011},
		{name: "all fields", cfg: Config{IPPrefix: ActionSoft}, lang: "en", ip: "10.0.0.1", wantLen: 27, wantMap: 0b111},
		{name: "IP bound, no Accept-Language", cfg: Config{IPPrefix: ActionHard}, ip: "10.0.0.1", wantLen: 19, wantMap: 0b101},
		{name: "everything off", cfg: Config{UserAgent: ActionOff, AcceptLanguage: ActionOff}, lang: "en", ip: "10.0.0.1", wantLen: 3, wantMap: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBinder(t, tc.cfg)
			stored := b.Compute(newRequest(ua, tc.lang), tc.ip)
			require.Len(t, stored, tc.wantLen)
			assert.Equal(t, byte(1), stored[0], "version")
			assert.Equal(t, b.ids[0], stored[1], "key ID")
			assert.Equal(t, tc.wantMap, stored[2], "presence bitmap")
			assert.Equal(t, Result{}, b.Check(stored, newRequest(ua, tc.lang), tc.ip))
		})
	}
}

func TestEmptyUserAgentIsBound(t *testing.T) {
	b := newBinder(t, Config{})
	stored := b.Compute(newRequest("", ""), "")
	require.Len(t, stored, 11)
	assert.True(t, b.Check(stored, newRequest("", ""), "").OK())
	assert.True(t, b.Check(stored, newRequest("   ", ""), "").OK(), "whitespace-only trims to empty")
	assert.Equal(t, []Field{UserAgent}, b.Check(stored, newRequest("curl/8.5.0", ""), "").Hard)

	// A nil request behaves as a request without headers.
	assert.Equal(t, stored, b.Compute(nil, ""))
	assert.True(t, b.Check(stored, nil, "").OK())
}

func TestStoredValueIsKeyed(t *testing.T) {
	ua := uaByName(t, userAgents(t), "chrome131-windows")
	r := newRequest(ua, "en-US,en;q=0.9")
	s1 := newBinder(t, Config{}, secret1).Compute(r, "")
	s2 := newBinder(t, Config{}, secret2).Compute(r, "")
	require.Len(t, s1, 19)
	require.Len(t, s2, 19)
	assert.NotEqual(t, s1[3:], s2[3:], "MACs must depend on the key")
	assert.Equal(t, s1, newBinder(t, Config{}, secret1).Compute(r, ""), "deterministic for one key")

	// Not a plain hash of the inputs, raw or canonical.
	canonUA := string(appendUserAgent(nil, ua))
	for _, input := range []string{
		ua, canonUA, "en", ua + "en", canonUA + "en",
		macPrefix + "user-agent\x00" + canonUA,
		macPrefix + "accept-language\x00en",
	} {
		sum := sha256.Sum256([]byte(input))
		assert.NotContains(t, string(s1), string(sum[:macLen]))
	}
	// The raw values do not appear in the stored bytes.
	assert.NotContains(t, string(s1), "Chrome")
	assert.NotContains(t, string(s1), "en")
}

func TestKeyRotation(t *testing.T) {
	uas := userAgents(t)
	ua := uaByName(t, uas, "safari18-macos")
	old := newBinder(t, Config{}, secret1)
	rotated := newBinder(t, Config{}, secret2, secret1)
	dropped := newBinder(t, Config{}, secret2)
	require.NotEqual(t, old.ids[0], dropped.ids[0], "test secrets must have distinct key IDs")

	stored := old.Compute(newRequest(ua, "en"), "")

	t.Run("old key kept", func(t *testing.T) {
		assert.Equal(t, Result{OldKey: true}, rotated.Check(stored, newRequest(ua, "en"), ""), "a match, with the old key")
		res := rotated.Check(stored, newRequest(uaByName(t, uas, "curl8.11"), "en"), "")
		assert.Equal(t, []Field{UserAgent}, res.Hard, "mismatches are still found with the old key")
		assert.True(t, res.OldKey)
	})
	t.Run("new fingerprints use the newest key", func(t *testing.T) {
		fresh := rotated.Compute(newRequest(ua, "en"), "")
		assert.Equal(t, rotated.ids[0], fresh[1])
		assert.Equal(t, dropped.ids[0], fresh[1])
		assert.Equal(t, Result{}, dropped.Check(fresh, newRequest(ua, "en"), ""))
		assert.Equal(t, Result{}, rotated.Check(fresh, newRequest(ua, "en"), ""), "the newest key: OldKey is false")
		assert.Equal(t, Result{Malformed: true}, old.Check(fresh, newRequest(ua, "en"), ""))
	})
	t.Run("old key dropped", func(t *testing.T) {
		res := dropped.Check(stored, newRequest(ua, "en"), "")
		assert.True(t, res.Malformed)
		assert.False(t, res.OK())
	})
}

// TestRekeyBindsTheSameFields: re-keying a fingerprint during a rotation
// binds exactly the fields the login bound, so a field turned on since the
// login (here the IP prefix) stays unchecked for that session, as Config
// promises; Compute would have bound it.
func TestRekeyBindsTheSameFields(t *testing.T) {
	ua := uaByName(t, userAgents(t), "firefox133-linux")
	stored := newBinder(t, Config{}, secret1).Compute(newRequest(ua, "en"), "198.51.100.7")
	rotated := newBinder(t, Config{IPPrefix: ActionHard}, secret2, secret1)
	dropped := newBinder(t, Config{IPPrefix: ActionHard}, secret2)
	require.Equal(t, Result{OldKey: true}, rotated.Check(stored, newRequest(ua, "en"), "198.51.100.7"))

	again := rotated.Rekey(stored, newRequest(ua, "en"), "198.51.100.7")
	require.NotNil(t, again)
	assert.Equal(t, rotated.ids[0], again[1], "made with the newest key")
	assert.Equal(t, stored[2], again[2], "the same fields, no IP prefix")
	assert.Equal(t, Result{}, dropped.Check(again, newRequest(ua, "en"), "203.0.113.9"), "another IP: the prefix was never bound")
	assert.Equal(t, []Field{UserAgent}, dropped.Check(again, newRequest("curl/8.5.0", "en"), "203.0.113.9").Hard)

	computed := rotated.Compute(newRequest(ua, "en"), "198.51.100.7")
	assert.Equal(t, []Field{IPPrefix}, dropped.Check(computed, newRequest(ua, "en"), "203.0.113.9").Hard, "Compute binds the prefix: what Rekey must not do")

	t.Run("a field turned off", func(t *testing.T) {
		off := newBinder(t, Config{AcceptLanguage: ActionOff}, secret2, secret1)
		again := off.Rekey(stored, newRequest(ua, ""), "")
		require.NotNil(t, again)
		assert.Equal(t, UserAgent.bit(), again[2], "only the User-Agent is left")
	})
	t.Run("malformed", func(t *testing.T) {
		assert.Nil(t, rotated.Rekey([]byte{1, 2}, newRequest(ua, "en"), ""))
	})
}

// TestRekeyWhateverTheSoftFields: Rekey makes a fingerprint again for
// every request that Check lets through, soft mismatches included (a key
// rotation must never end a session over a soft field), binding the hard
// fields as they were and each soft field bound at login with the
// request's value, or not at all when the request has none; it refuses a
// hard mismatch, and never binds a field the login did not.
func TestRekeyWhateverTheSoftFields(t *testing.T) {
	ua := uaByName(t, userAgents(t), "firefox133-linux")
	type req struct{ ua, lang, ip string }
	const ipA, ipSame24, ipB = "198.51.100.7", "198.51.100.200", "203.0.113.9"
	softIP, hardIP := Config{IPPrefix: ActionSoft}, Config{IPPrefix: ActionHard}
	tests := []struct {
		name  string
		cfg   Config
		login req
		now   req
		want  *req // what the re-keyed fingerprint binds; nil: Rekey refuses
	}{
		{"a match", Config{}, req{ua, "en-US", ""}, req{ua, "en-GB", ""}, &req{ua, "en", ""}},
		{"soft field changed", Config{}, req{ua, "en-US", ""}, req{ua, "de-DE", ""}, &req{ua, "de", ""}},
		{"soft field dropped", Config{}, req{ua, "en-US", ""}, req{ua, "", ""}, &req{ua, "", ""}},
		{"soft field never sent", Config{}, req{ua, "", ""}, req{ua, "", ""}, &req{ua, "", ""}},
		{"soft field added", Config{}, req{ua, "", ""}, req{ua, "de-DE", ""}, &req{ua, "", ""}},
		{"hard field changed", Config{}, req{ua, "en-US", ""}, req{"curl/8.5.0", "en-US", ""}, nil},
		{"hard and soft fields changed", Config{}, req{ua, "en-US", ""}, req{"curl/8.5.0", "de-DE", ""}, nil},
		{"soft IP prefix moved", softIP, req{ua, "en", ipA}, req{ua, "en", ipB}, &req{ua, "en", ipB}},
		{"soft IP prefix unparsable", softIP, req{ua, "en", ipA}, req{ua, "de", "not an IP"}, &req{ua, "de", ""}},
		{"hard IP prefix moved", hardIP, req{ua, "en", ipA}, req{ua, "en", ipB}, nil},
		{"hard IP prefix kept, soft field changed", hardIP, req{ua, "en", ipA}, req{ua, "de", ipSame24}, &req{ua, "de", ipA}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stored := newBinder(t, tc.cfg, secret1).Compute(newRequest(tc.login.ua, tc.login.lang), tc.login.ip)
			rotated := newBinder(t, tc.cfg, secret2, secret1)
			dropped := newBinder(t, tc.cfg, secret2)
			now := newRequest(tc.now.ua, tc.now.lang)
			again := rotated.Rekey(stored, now, tc.now.ip)
			if tc.want == nil {
				assert.Nil(t, again, "a hard mismatch is never re-keyed")
				assert.NotEmpty(t, rotated.Check(stored, now, tc.now.ip).Hard)
				return
			}
			assert.True(t, rotated.Check(stored, now, tc.now.ip).OK())
			require.NotNil(t, again)
			assert.Equal(t, dropped.ids[0], again[1], "made with the newest key")
			assert.Equal(t, dropped.Compute(newRequest(tc.want.ua, tc.want.lang), tc.want.ip), again)
			assert.Zero(t, again[2]&^stored[2], "no field the login did not bind")
			assert.Equal(t, Result{}, dropped.Check(again, now, tc.now.ip), "the request that re-keyed it matches it exactly")
		})
	}
}

func TestKeyIDCollision(t *testing.T) {
	// Two keys that share an ID byte: Check must try both.
	ua := uaByName(t, userAgents(t), "chrome131-windows")
	b := newBinder(t, Config{}, secret2, secret1)
	b.ids[0] = b.ids[1]
	stored := newBinder(t, Config{}, secret1).Compute(newRequest(ua, "en"), "")
	assert.Equal(t, Result{OldKey: true}, b.Check(stored, newRequest(ua, "en"), ""), "the old key matched, whatever the ID byte says")
	assert.Equal(t, []Field{UserAgent}, b.Check(stored, newRequest("curl/8.5.0", "en"), "").Hard)
}

func TestMalformedStored(t *testing.T) {
	ua := uaByName(t, userAgents(t), "chrome131-windows")
	b := newBinder(t, Config{IPPrefix: ActionHard})
	r := newRequest(ua, "en")
	good := b.Compute(r, "10.0.0.1")
	require.Len(t, good, 27)

	with := func(i int, v byte) []byte {
		s := append([]byte(nil), good...)
		s[i] = v
		return s
	}
	tests := []struct {
		name   string
		stored []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"version only", good[:1]},
		{"header only, bitmap says 3 fields", good[:3]},
		{"truncated MAC", good[:len(good)-1]},
		{"truncated field", good[:19]},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"version 0", with(0, 0)},
		{"version 2", with(0, 2)},
		{"unknown key ID", with(1, good[1]+1)},
		{"unknown field bit", with(2, good[2]|0b1000)},
		{"high bits set", with(2, 0xff)},
		{"bitmap claims fewer fields", with(2, 0b001)},
		{"base64 text instead of bytes", []byte("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var res Result
			require.NotPanics(t, func() { res = b.Check(tc.stored, r, "10.0.0.1") })
			assert.True(t, res.Malformed)
			assert.False(t, res.OK())
			assert.Empty(t, res.Hard)
			assert.Empty(t, res.Soft)
			assert.Nil(t, res.Fields())
		})
	}
	t.Run("flipped MAC bit is a mismatch, not malformed", func(t *testing.T) {
		res := b.Check(with(3, good[3]^1), r, "10.0.0.1")
		assert.False(t, res.Malformed)
		assert.Equal(t, []Field{UserAgent}, res.Hard)
	})
}

func TestZeroBinder(t *testing.T) {
	var nilBinder *Binder
	assert.Nil(t, nilBinder.Compute(newRequest("x", ""), ""))
	assert.Equal(t, Result{Malformed: true}, nilBinder.Check([]byte{1, 0, 0}, newRequest("x", ""), ""))
	var zero Binder
	assert.Nil(t, zero.Compute(newRequest("x", ""), ""))
	assert.True(t, zero.Check([]byte{1, 0, 0}, newRequest("x", ""), "").Malformed)
}

func TestNew(t *testing.T) {
	long := func(n int) []byte { return []byte(strings.Repeat("k", n)) }
	tests := []struct {
		name    string
		secrets [][]byte
		cfg     Config
		wantErr string // substring; empty means success
	}{
		{name: "one secret", secrets: [][]byte{long(32)}},
		{name: "rotation", secrets: [][]byte{long(64), long(32)}},
		{name: "every action", secrets: [][]byte{long(32)}, cfg: Config{UserAgent: ActionSoft, AcceptLanguage: ActionHard, IPPrefix: ActionOff}},
		{name: "nil secrets", secrets: nil, wantErr: "fingerprint: no secrets"},
		{name: "empty secrets", secrets: [][]byte{}, wantErr: "fingerprint: no secrets"},
		{name: "nil secret", secrets: [][]byte{nil}, wantErr: "fingerprint: secret 0 is 0 bytes"},
		{name: "31-byte secret", secrets: [][]byte{long(31)}, wantErr: "fingerprint: secret 0 is 31 bytes, need at least 32"},
		{name: "short old secret", secrets: [][]byte{long(32), []byte("0123456789abcdef")}, wantErr: "fingerprint: secret 1 is 16 bytes"},
		{name: "invalid UserAgent action", secrets: [][]byte{long(32)}, cfg: Config{UserAgent: ActionHard + 1}, wantErr: "fingerprint: invalid action 4 for field user-agent"},
		{name: "invalid AcceptLanguage action", secrets: [][]byte{long(32)}, cfg: Config{AcceptLanguage: 200}, wantErr: "fingerprint: invalid action 200 for field accept-language"},
		{name: "invalid IPPrefix action", secrets: [][]byte{long(32)}, cfg: Config{IPPrefix: 9}, wantErr: "fingerprint: invalid action 9 for field ip-prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.secrets, tc.cfg)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, b)
				assert.Len(t, b.keys, len(tc.secrets))
				return
			}
			require.Error(t, err)
			assert.Nil(t, b)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "fingerprint: "))
			for _, s := range tc.secrets {
				if len(s) > 0 {
					assert.NotContains(t, err.Error(), string(s), "errors never contain secrets")
				}
			}
		})
	}
}

func TestDerivedKeys(t *testing.T) {
	b := newBinder(t, Config{}, secret1, secret2)
	require.Len(t, b.keys, 2)
	for i, k := range b.keys {
		assert.Len(t, k, 32)
		sum := sha256.Sum256(k)
		assert.Equal(t, sum[0], b.ids[i])
	}
	assert.NotEqual(t, b.keys[0], b.keys[1])
	assert.NotContains(t, string(b.keys[0]), string(secret1[:8]), "the key is derived, not the secret")
}

func TestDefaultActions(t *testing.T) {
	b := newBinder(t, Config{})
	assert.Equal(t, ActionHard, b.actions[UserAgent])
	assert.Equal(t, ActionSoft, b.actions[AcceptLanguage])
	assert.Equal(t, ActionOff, b.actions[IPPrefix])
}

func TestStrings(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"UserAgent", UserAgent.String(), "user-agent"},
		{"AcceptLanguage", AcceptLanguage.String(), "accept-language"},
		{"IPPrefix", IPPrefix.String(), "ip-prefix"},
		{"zero Field", Field(0).String(), "Field(0)"},
		{"unknown Field", Field(7).String(), "Field(7)"},
		{"Default", ActionDefault.String(), "default"},
		{"Off", ActionOff.String(), "off"},
		{"Soft", ActionSoft.String(), "soft"},
		{"Hard", ActionHard.String(), "hard"},
		{"unknown Action", Action(42).String(), "Action(42)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.got)
		})
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		name       string
		res        Result
		wantOK     bool
		wantFields []string
	}{
		{name: "zero", res: Result{}, wantOK: true},
		{name: "soft only", res: Result{Soft: []Field{AcceptLanguage}}, wantOK: true, wantFields: []string{"accept-language"}},
		{name: "hard", res: Result{Hard: []Field{UserAgent}}, wantOK: false, wantFields: []string{"user-agent"}},
		{name: "field order", res: Result{Hard: []Field{IPPrefix}, Soft: []Field{AcceptLanguage}}, wantOK: false, wantFields: []string{"accept-language", "ip-prefix"}},
		{name: "malformed", res: Result{Malformed: true}, wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.wantOK, tc.res.OK())
			assert.Equal(t, tc.wantFields, tc.res.Fields())
		})
	}
}

func TestFieldsNeverContainRawValues(t *testing.T) {
	uas := userAgents(t)
	b := newBinder(t, Config{IPPrefix: ActionSoft})
	login := newRequest(uaByName(t, uas, "chrome131-windows"), "en-US,en;q=0.9")
	now := newRequest(uaByName(t, uas, "firefox133-linux"), "ja-JP")
	stored := b.Compute(login, "10.0.1.5")
	res := b.Check(stored, now, "10.0.2.5")
	names := res.Fields()
	require.Len(t, names, 3)
	joined := strings.Join(names, " ")
	for _, raw := range []string{"Chrome", "Firefox", "Mozilla", "Windows", "Linux", "en-US", "ja", "10.0", "/24"} {
		assert.NotContains(t, joined, raw)
	}
	for _, n := range names {
		assert.Contains(t, []string{"user-agent", "accept-language", "ip-prefix"}, n)
	}
}

func TestConcurrentUse(t *testing.T) {
	b := newBinder(t, Config{IPPrefix: ActionSoft}, secret2, secret1)
	old := newBinder(t, Config{IPPrefix: ActionSoft}, secret1)
	rows := loadUserAgents(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				row := rows[(i+j)%len(rows)]
				r := newRequest(row.ua, "en")
				stored := b.Compute(r, "10.0.0.1")
				if !b.Check(stored, r, "10.0.0.1").OK() {
					t.Errorf("%s: own fingerprint rejected", row.name)
				}
				if !b.Check(old.Compute(r, "10.0.0.1"), r, "10.0.0.1").OK() {
					t.Errorf("%s: old-key fingerprint rejected", row.name)
				}
			}
		})
	}
	wg.Wait()
}

// TestMACLabelsNeverChange pins the MAC input of each field: fingerprints
// stored before IPPrefix was renamed ("client-ip" to "ip-prefix" in logs)
// must still check.
func TestMACLabelsNeverChange(t *testing.T) {
	b := newBinder(t, Config{AcceptLanguage: ActionHard, IPPrefix: ActionHard})
	r := newRequest("curl/8.5.0", "en-US")
	stored := b.Compute(r, "10.0.1.5")
	require.Len(t, stored, headerLen+3*macLen)
	want := func(input string) []byte {
		m := hmac.New(sha256.New, b.keys[0])
		m.Write([]byte(input))
		return m.Sum(nil)[:macLen]
	}
	assert.Equal(t, want("v1\x00user-agent\x00curl/#"), stored[headerLen:headerLen+macLen])
	assert.Equal(t, want("v1\x00accept-language\x00en"), stored[headerLen+macLen:headerLen+2*macLen])
	assert.Equal(t, want("v1\x00client-ip\x0010.0.1.0/24"), stored[headerLen+2*macLen:])
	assert.Equal(t, "ip-prefix", IPPrefix.String())
}
