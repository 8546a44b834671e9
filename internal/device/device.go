// Package device turns a User-Agent into the short description a "your
// sessions" list shows ("Chrome on Windows"), through a two-byte code that
// the session store keeps next to a session. It is internal: the codes are a
// storage format; ginsession's SessionInfo.Device shows the description.
package device

import "strings"

// maxDevice caps the length of a description, in bytes.
const maxDevice = 40

// deviceScanLimit bounds how much of a User-Agent Code looks at.
const deviceScanLimit = 1024

// uaToken maps a User-Agent substring to the name shown for it.
type uaToken struct{ token, name string }

// clients are non-browser HTTP clients, recognized by their product prefix.
var clients = []uaToken{
	{"curl/", "curl"},
	{"Wget/", "Wget"},
	{"python-requests/", "python-requests"},
	{"python-httpx/", "python-httpx"},
	{"Python-urllib/", "Python urllib"},
	{"aiohttp/", "aiohttp"},
	{"Go-http-client/", "Go HTTP client"},
	{"okhttp/", "OkHttp"},
	{"PostmanRuntime/", "Postman"},
	{"HTTPie/", "HTTPie"},
	{"node-fetch/", "node-fetch"},
	{"axios/", "axios"},
}

// browsers are checked in order: Chromium-based browsers name Chrome and
// Safari too, and Chrome names Safari, so the most specific token comes first.
var browsers = []uaToken{
	{"Edg/", "Edge"},
	{"EdgA/", "Edge"},
	{"EdgiOS/", "Edge"},
	{"OPR/", "Opera"},
	{"OPiOS/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"YaBrowser/", "Yandex Browser"},
	{"Vivaldi/", "Vivaldi"},
	{"Firefox/", "Firefox"},
	{"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
	{"Safari/", "Safari"},
}

// platforms are checked in order: iPhone and iPad User-Agents say "like Mac
// OS X", Android ones say "Linux", ChromeOS ones say "X11".
var platforms = []uaToken{
	{"iPhone", "iPhone"},
	{"iPad", "iPad"},
	{"iPod", "iPod"},
	{"Android", "Android"},
	{"Windows", "Windows"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Linux", "Linux"},
	{"X11", "Linux"},
}

// browserNames and platformNames number the names a description can
// show, for Code. Append only: a stored code must keep its meaning.
var (
	browserNames  = []string{"Edge", "Opera", "Samsung Internet", "Yandex Browser", "Vivaldi", "Firefox", "Chrome", "Chromium", "Safari"}
	platformNames = []string{"iPhone", "iPad", "iPod", "Android", "Windows", "ChromeOS", "macOS", "Linux"}
)

// The first byte of a device code: 'A'+i names clients[i], 'a'+i names
// browserNames[i], genericBrowser a browser no name is given for, and
// unknownDevice nothing recognized. The second byte is '0'+i for
// platformNames[i] or noPlatform.
const (
	genericBrowser = '*'
	unknownDevice  = '?'
	noPlatform     = '-'
)

// Code returns the description of a User-Agent as a two-byte code, for
// storing it compactly next to a session; Name turns the code back into the
// description. Codes are stable across versions: stored sessions depend on
// them.
func Code(userAgent string) string {
	ua := strings.Trim(userAgent, asciiSpace)
	if len(ua) > deviceScanLimit {
		ua = ua[:deviceScanLimit]
	}
	for i, c := range clients {
		if strings.HasPrefix(ua, c.token) {
			return string([]byte{'A' + byte(i), noPlatform})
		}
	}
	browser := find(ua, browsers)
	if browser == "Safari" && !strings.Contains(ua, "Version/") {
		// Real Safari always sends Version/; WebViews and others don't.
		browser = ""
	}
	code := [2]byte{unknownDevice, noPlatform}
	if p := index(platformNames, find(ua, platforms)); p >= 0 {
		code[1] = '0' + byte(p)
	}
	switch b := index(browserNames, browser); {
	case b >= 0:
		code[0] = 'a' + byte(b)
	case code[1] != noPlatform && strings.HasPrefix(ua, "Mozilla/"):
		code[0] = genericBrowser
	default:
		code[1] = noPlatform
	}
	return string(code[:])
}

// Name returns the description of a code from Code, such as "Chrome on
// Windows", "curl" or "Unknown device" (also for a code it does not know):
// names from a fixed list, never version numbers or any part of the raw
// User-Agent, and at most 40 bytes.
func Name(code string) string {
	if len(code) != 2 {
		return "Unknown device"
	}
	platform := ""
	if p := int(code[1]) - '0'; code[1] != noPlatform && p >= 0 && p < len(platformNames) {
		platform = platformNames[p]
	}
	browser := ""
	switch c := code[0]; {
	case c >= 'A' && int(c-'A') < len(clients) && code[1] == noPlatform:
		return capDevice(clients[c-'A'].name)
	case c >= 'a' && int(c-'a') < len(browserNames):
		browser = browserNames[c-'a']
	case c == genericBrowser && platform != "":
		browser = "Browser"
	default:
		return "Unknown device"
	}
	if platform == "" {
		return capDevice(browser)
	}
	return capDevice(browser + " on " + platform)
}

func index(names []string, name string) int {
	if name == "" {
		return -1
	}
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

func find(ua string, tokens []uaToken) string {
	for _, t := range tokens {
		if strings.Contains(ua, t.token) {
			return t.name
		}
	}
	return ""
}

func capDevice(s string) string {
	if len(s) > maxDevice {
		return s[:maxDevice]
	}
	return s
}

// asciiSpace is the white space the fingerprint's canonical forms trim:
// ASCII only, never Unicode spaces.
const asciiSpace = " \t\n\v\f\r"
