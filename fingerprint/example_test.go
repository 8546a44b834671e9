package fingerprint_test

import (
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/sessionshield/sessionshield/fingerprint"
)

const (
	chrome130 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
	chrome131 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefox   = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// secret stands in for a secret loaded from a secret store; it must be at
// least 32 bytes and never hard-coded in a real application.
var secret = []byte("example secret: load me from a secret store!")

func ExampleBinder_Check() {
	b, err := fingerprint.New([][]byte{secret}, fingerprint.Config{})
	if err != nil {
		log.Fatal(err)
	}

	// At login: compute the fingerprint and store it with the session.
	login := httptest.NewRequest("POST", "/login", nil)
	login.Header.Set("User-Agent", chrome130)
	login.Header.Set("Accept-Language", "en-US,en;q=0.9")
	stored := b.Compute(login, "")
	fmt.Println("stored bytes:", len(stored))

	// Later: the browser updated itself and the user's language list changed.
	later := httptest.NewRequest("GET", "/profile", nil)
	later.Header.Set("User-Agent", chrome131)
	later.Header.Set("Accept-Language", "en-GB;q=0.8")
	res := b.Check(stored, later, "")
	fmt.Println("browser update:", res.OK(), res.Fields())

	// The same cookie replayed from another browser.
	stolen := httptest.NewRequest("GET", "/profile", nil)
	stolen.Header.Set("User-Agent", firefox)
	stolen.Header.Set("Accept-Language", "ja")
	res = b.Check(stored, stolen, "")
	fmt.Println("other browser:", res.OK(), res.Fields())
	fmt.Println("hard:", res.Hard, "soft:", res.Soft)
	// Output:
	// stored bytes: 19
	// browser update: true []
	// other browser: false [user-agent accept-language]
	// hard: [user-agent] soft: [accept-language]
}

func ExampleNew_clientIP() {
	// IP binding is off by default; enable it only when clientIP comes from
	// trusted-proxy-aware resolution.
	b, err := fingerprint.New([][]byte{secret}, fingerprint.Config{IPPrefix: fingerprint.ActionHard})
	if err != nil {
		log.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", chrome131)
	stored := b.Compute(r, "198.51.100.7")

	fmt.Println("same /24:", b.Check(stored, r, "198.51.100.42").OK())
	res := b.Check(stored, r, "203.0.113.7")
	fmt.Println("other network:", res.OK(), res.Fields())
	// Output:
	// same /24: true
	// other network: false [ip-prefix]
}

func ExampleNew_rotation() {
	oldSecret := []byte("the previous secret, also 32 bytes or longer")
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", chrome131)

	before, _ := fingerprint.New([][]byte{oldSecret}, fingerprint.Config{})
	stored := before.Compute(r, "")

	// Newest first: new fingerprints use secret, old ones still verify.
	during, _ := fingerprint.New([][]byte{secret, oldSecret}, fingerprint.Config{})
	fmt.Println("during rotation:", during.Check(stored, r, "").OK())

	// Once oldSecret is dropped, its fingerprints no longer verify.
	after, _ := fingerprint.New([][]byte{secret}, fingerprint.Config{})
	res := after.Check(stored, r, "")
	fmt.Println("after rotation:", res.OK(), "malformed:", res.Malformed)
	// Output:
	// during rotation: true
	// after rotation: false malformed: true
}

func ExampleNew_errors() {
	_, err := fingerprint.New(nil, fingerprint.Config{})
	fmt.Println(err)
	_, err = fingerprint.New([][]byte{[]byte("too short")}, fingerprint.Config{})
	fmt.Println(err)
	_, err = fingerprint.New([][]byte{secret}, fingerprint.Config{IPPrefix: 7})
	fmt.Println(err)
	// Output:
	// fingerprint: no secrets
	// fingerprint: secret 0 is 9 bytes, need at least 32
	// fingerprint: invalid action 7 for field ip-prefix
}

func ExampleResult_Fields() {
	res := fingerprint.Result{
		Hard: []fingerprint.Field{fingerprint.UserAgent},
		Soft: []fingerprint.Field{fingerprint.AcceptLanguage},
	}
	// Log field names, never the header values.
	fmt.Println(res.OK(), res.Fields())
	// Output: false [user-agent accept-language]
}
