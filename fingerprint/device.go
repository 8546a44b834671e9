package fingerprint

import "strings"

// maxDevice caps the length of a Device description, in bytes.
const maxDevice = 40

// deviceScanLimit bounds how much of a User-Agent Device looks at.
const deviceScanLimit = 1024

// uaToken maps a User-Agent substring to the name Device shows for it.
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

// Device returns a short, non-identifying description of a User-Agent for a
// "your sessions" list, such as "Chrome on Windows", "Firefox on Linux",
// "Safari on iPhone", "Edge on Windows", "Chrome on Android", "curl" or
// "Unknown device".
//
// Device only ever returns names from a fixed list, never version numbers or
// any part of the raw string, and at most 40 bytes. It is a display helper:
// the result plays no part in fingerprint checks.
func Device(userAgent string) string {
	ua := trimSpace(userAgent)
	if len(ua) > deviceScanLimit {
		ua = ua[:deviceScanLimit]
	}
	for _, c := range clients {
		if strings.HasPrefix(ua, c.token) {
			return capDevice(c.name)
		}
	}
	browser := find(ua, browsers)
	if browser == "Safari" && !strings.Contains(ua, "Version/") {
		// Real Safari always sends Version/; WebViews and others don't.
		browser = ""
	}
	platform := find(ua, platforms)
	switch {
	case browser != "" && platform != "":
		return capDevice(browser + " on " + platform)
	case browser != "":
		return capDevice(browser)
	case platform != "" && strings.HasPrefix(ua, "Mozilla/"):
		return capDevice("Browser on " + platform)
	}
	return "Unknown device"
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
