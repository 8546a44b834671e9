package fingerprint

import (
	"net/http/httptest"
	"testing"
)

func FuzzCheck(f *testing.F) {
	b, err := New([][]byte{secret2, secret1}, Config{IPPrefix: ActionSoft})
	if err != nil {
		f.Fatal(err)
	}
	chrome := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	valid := b.Compute(newRequest(chrome, "en-US,en;q=0.9"), "10.0.0.1")
	f.Add(valid, chrome, "en-US,en;q=0.9", "10.0.0.1")
	f.Add(valid[:20], "curl/8.5.0", "", "")
	f.Add([]byte{}, "", "", "")
	f.Add([]byte{1, valid[1], 0xff}, "x", "*", "::1")
	f.Add([]byte{1, valid[1], 0}, "x", "ja", "[2001:db8::1]:443")

	f.Fuzz(func(t *testing.T, stored []byte, ua, lang, ip string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["User-Agent"] = []string{ua}
		r.Header["Accept-Language"] = []string{lang}

		res := b.Check(stored, r, ip) // must not panic
		if res.Malformed && (len(res.Hard) > 0 || len(res.Soft) > 0) {
			t.Fatalf("Malformed result with mismatches: %+v", res)
		}
		for _, name := range res.Fields() {
			if name != "user-agent" && name != "accept-language" && name != "ip-prefix" {
				t.Fatalf("unexpected field name %q", name)
			}
		}

		// A fingerprint always matches the request it was computed from.
		fresh := b.Compute(r, ip)
		if got := b.Check(fresh, r, ip); got.Malformed || len(got.Hard) > 0 || len(got.Soft) > 0 {
			t.Fatalf("fresh fingerprint does not match its request: %+v", got)
		}

		canon := appendUserAgent(nil, ua)
		if len(canon) > maxUserAgent {
			t.Fatalf("canonical User-Agent is %d bytes", len(canon))
		}
		for _, c := range canon {
			if isDigit(c) {
				t.Fatalf("canonical User-Agent %q keeps a digit", canon)
			}
		}
	})
}
