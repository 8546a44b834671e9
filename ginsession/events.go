package ginsession

import (
	"context"
	"log/slog"
	"net/http"
)

// EventType names a security event.
type EventType string

// The security events a Store reports.
const (
	// EventLogin: Login issued a new session for a user.
	EventLogin EventType = "login"
	// EventLogout: Logout destroyed a session.
	EventLogout EventType = "logout"
	// EventDestroyed: a logged-in session was destroyed by Save with a
	// negative MaxAge.
	EventDestroyed EventType = "destroyed"
	// EventFingerprintMismatch: a hard fingerprint field differed, or the
	// stored fingerprint could not be checked (malformed, or keyed with a
	// secret no longer in Config.Secrets); the session was destroyed.
	// Fields names the differing fields, never their values (none in the
	// second case).
	EventFingerprintMismatch EventType = "fingerprint_mismatch"
	// EventFingerprintSoft: a soft fingerprint field differed; the session
	// was kept.
	EventFingerprintSoft EventType = "fingerprint_soft_mismatch"
	// EventExpired: a session was found past its idle or absolute timeout
	// and deleted; Reason is "idle" or "absolute".
	EventExpired EventType = "expired"
	// EventRevoked: RevokeSession or RevokeUser ended a session (Reason
	// "revoked"), or Login ended one of the user's oldest sessions to keep
	// them within Config.MaxSessionsPerUser (Reason "session-limit").
	EventRevoked EventType = "revoked"
	// EventStaleLogin: Login refused credentials checked before a
	// revocation of the user's sessions (see CheckedAt).
	EventStaleLogin EventType = "stale_login"
	// EventStoreError: a Redis command failed (Err); what needed it failed
	// closed. The sessions of an end whose announcement to the other
	// Stores' caches failed (Config.LocalCache) have still ended.
	EventStoreError EventType = "store_error"
	// EventInvalidCookie: a request carried a session cookie that is forged,
	// tampered, malformed or signed with a retired secret; it was treated
	// as no session, without any Redis command. Many of them from one
	// client suggest ID guessing: count them in OnEvent, by
	// Event.Request, and throttle or alert. Logged at Debug level only, so
	// that an attack does not flood the log.
	EventInvalidCookie EventType = "invalid_cookie"
)

// Event is one security event. No field but Request holds a session ID, a
// cookie value, a password or a raw header. Request is never logged; an
// OnEvent hook reads what it needs from it and never logs or keeps it.
type Event struct {
	Type   EventType
	UserID string   // the user, when known
	Ref    string   // the session's ref (see SessionInfo.Ref), when known
	Fields []string // mismatched fingerprint fields
	Reason string   // why a session ended (logout, idle, absolute, fingerprint, revoked, session-limit, save)
	Err    error    // the store error, for EventStoreError
	// Request is the request behind an invalid cookie or a fingerprint
	// mismatch (hard or soft), for OnEvent hooks that count per client;
	// nil for the other events. It is never logged: its headers hold the
	// session cookie and what the fingerprint binds.
	Request *http.Request
}

func (s *Store) emit(ctx context.Context, e Event) {
	level := slog.LevelInfo
	switch e.Type {
	case EventInvalidCookie:
		level = slog.LevelDebug
	case EventFingerprintMismatch, EventFingerprintSoft, EventStaleLogin:
		level = slog.LevelWarn
	case EventStoreError:
		level = slog.LevelError
	}
	attrs := make([]slog.Attr, 0, 5)
	if e.UserID != "" {
		attrs = append(attrs, slog.String("user", e.UserID))
	}
	if e.Ref != "" {
		attrs = append(attrs, slog.String("ref", e.Ref))
	}
	if len(e.Fields) > 0 {
		attrs = append(attrs, slog.Any("fields", e.Fields))
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	s.log.LogAttrs(ctx, level, "ginsession."+string(e.Type), attrs...)
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}
