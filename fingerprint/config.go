package fingerprint

import (
	"fmt"
	"strconv"
)

// Field identifies one request property a fingerprint binds.
type Field uint8

// The fields a fingerprint can bind, in the order they are stored.
const (
	UserAgent      Field = iota + 1 // the User-Agent header, version digits normalized
	AcceptLanguage                  // the primary subtag of the first Accept-Language range
	IPPrefix                        // the client address's /24 (IPv4) or /64 (IPv6) prefix
)

// numFields is the number of defined fields; fields are numbered 1..numFields.
const numFields = 3

var fieldNames = [numFields + 1]string{
	UserAgent:      "user-agent",
	AcceptLanguage: "accept-language",
	IPPrefix:       "ip-prefix",
}

// macLabels name the fields in the MAC input. They never change: stored
// fingerprints were computed with them (IPPrefix's is its first name).
var macLabels = [numFields + 1]string{
	UserAgent:      "user-agent",
	AcceptLanguage: "accept-language",
	IPPrefix:       "client-ip",
}

// String returns the field's name in logs and Result.Fields: "user-agent",
// "accept-language" or "ip-prefix".
func (f Field) String() string {
	if f.valid() {
		return fieldNames[f]
	}
	return "Field(" + strconv.Itoa(int(f)) + ")"
}

func (f Field) valid() bool { return f >= UserAgent && f <= IPPrefix }

// bit returns the field's bit in the stored presence bitmap.
func (f Field) bit() uint8 { return 1 << (f - 1) }

// Action says what a mismatch of a field does.
type Action uint8

// The actions a Config can choose per field.
const (
	ActionDefault Action = iota // the field's default action
	ActionOff                   // the field is not bound
	ActionSoft                  // a mismatch is reported, the session survives
	ActionHard                  // a mismatch ends the session
)

var actionNames = [...]string{
	ActionDefault: "default",
	ActionOff:     "off",
	ActionSoft:    "soft",
	ActionHard:    "hard",
}

// String returns the action's name: "default", "off", "soft" or "hard".
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Config chooses the action per field. The zero Config is the safe default:
// UserAgent ActionHard, AcceptLanguage ActionSoft, IPPrefix ActionOff.
//
// Turning a field on after sessions were created does not affect those
// sessions: a field that was not bound at login is never checked. Turning a
// field ActionOff stops checking it at once.
type Config struct {
	// UserAgent is the action for a User-Agent mismatch. Default: ActionHard.
	UserAgent Action
	// AcceptLanguage is the action for an Accept-Language mismatch.
	// Default: ActionSoft.
	AcceptLanguage Action
	// IPPrefix is the action for a mismatch of the client address's prefix
	// (its /24 for IPv4, its /64 for IPv6). Enable it only
	// when the client address is resolved with trusted-proxy configuration.
	// Default: ActionOff.
	IPPrefix Action
}

var defaultActions = [numFields + 1]Action{
	UserAgent:      ActionHard,
	AcceptLanguage: ActionSoft,
	IPPrefix:       ActionOff,
}

// resolve returns the effective action per field, indexed by Field.
func (c Config) resolve() ([numFields + 1]Action, error) {
	var out [numFields + 1]Action
	for f, a := range [numFields + 1]Action{UserAgent: c.UserAgent, AcceptLanguage: c.AcceptLanguage, IPPrefix: c.IPPrefix} {
		if f == 0 {
			continue
		}
		switch a {
		case ActionDefault:
			out[f] = defaultActions[f]
		case ActionOff, ActionSoft, ActionHard:
			out[f] = a
		default:
			return out, fmt.Errorf("fingerprint: invalid action %d for field %s", uint8(a), Field(f))
		}
	}
	return out, nil
}
