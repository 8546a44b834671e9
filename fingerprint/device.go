package fingerprint

import "github.com/sessionshield/sessionshield/internal/device"

// Device returns a short, non-identifying description of a User-Agent for a
// "your sessions" list, such as "Chrome on Windows", "Firefox on Linux",
// "Safari on iPhone", "Edge on Windows", "Chrome on Android", "curl" or
// "Unknown device".
//
// Device only ever returns names from a fixed list, never version numbers or
// any part of the raw string, and at most 40 bytes. It is a display helper:
// the result plays no part in fingerprint checks.
func Device(userAgent string) string {
	return device.Name(device.Code(userAgent))
}
