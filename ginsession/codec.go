package ginsession

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
)

// A session is one Redis hash. Each value of Session.Values is one field, so
// a save writes only the fields that changed and two requests that set
// different keys of one session never overwrite each other.
//
// Field names:
//   - a string key is the field name as it is ("cart"), unless it is empty or
//     starts with '_' or '~'; then it is "~s" followed by the key;
//   - any other key is '~' followed by its value encoding (so the int key 7
//     is "~i7");
//   - fields that start with '_' belong to the store (see the meta* consts).
//
// Field values start with a one-byte type tag followed by the payload, so
// values come back with their Go types:
//
//	s string      i int       I int64     f float64    b bool ("1"/"0")
//	B []byte      t time.Time (MarshalBinary)          n nil
//	g anything else, gob-encoded (register the type with gob.Register)
//
// Numbers are decimal text: readable in redis-cli and exact on the way back.
const (
	metaCreated   = "_c" // creation time, Unix ms; the authentication time once logged in
	metaLastSeen  = "_a" // last activity, ms after _c (a small number stores smaller)
	metaUser      = "_u" // user ID, set by Login
	metaFP        = "_f" // fingerprint MACs, set by Login
	metaDevice    = "_d" // device code (internal/device's Code) for the sessions list, set by Login
	metaRemember  = "_r" // "1" for a session Login started with Remember: the longer timeouts
	metaTombstone = "_t" // the only field of a tombstone: a key where a session must not be written (see endScript)
)

const (
	tagString  = 's'
	tagInt     = 'i'
	tagInt64   = 'I'
	tagFloat64 = 'f'
	tagBool    = 'b'
	tagBytes   = 'B'
	tagTime    = 't'
	tagGob     = 'g'
	tagNil     = 'n'
)

// gobBox carries a value of any gob-registered type through gob.
type gobBox struct{ V any }

// encodeValue returns the tagged encoding of v.
func encodeValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return string(tagNil), nil
	case string:
		return string(tagString) + x, nil
	case int:
		return string(tagInt) + strconv.Itoa(x), nil
	case int64:
		return string(tagInt64) + strconv.FormatInt(x, 10), nil
	case float64:
		return string(tagFloat64) + strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		if x {
			return string(tagBool) + "1", nil
		}
		return string(tagBool) + "0", nil
	case []byte:
		return string(tagBytes) + string(x), nil
	case time.Time:
		b, err := x.MarshalBinary()
		if err != nil {
			return "", fmt.Errorf("%w: %T: %w", ErrEncode, v, err)
		}
		return string(tagTime) + string(b), nil
	}
	var buf bytes.Buffer
	buf.WriteByte(tagGob)
	if err := gob.NewEncoder(&buf).Encode(gobBox{V: v}); err != nil {
		return "", fmt.Errorf("%w: %T (register the type with gob.Register): %w", ErrEncode, v, err)
	}
	return buf.String(), nil
}

// decodeValue reverses encodeValue.
func decodeValue(s string) (any, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty value", ErrDecode)
	}
	p := s[1:]
	switch s[0] {
	case tagString:
		return p, nil
	case tagNil:
		return nil, nil
	case tagInt:
		n, err := strconv.ParseInt(p, 10, strconv.IntSize)
		return int(n), wrapDecode(err)
	case tagInt64:
		n, err := strconv.ParseInt(p, 10, 64)
		return n, wrapDecode(err)
	case tagFloat64:
		f, err := strconv.ParseFloat(p, 64)
		if err != nil && !math.IsInf(f, 0) {
			return nil, wrapDecode(err)
		}
		return f, nil
	case tagBool:
		switch p {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
		return nil, fmt.Errorf("%w: bad bool", ErrDecode)
	case tagBytes:
		return []byte(p), nil
	case tagTime:
		var t time.Time
		return t, wrapDecode(t.UnmarshalBinary([]byte(p)))
	case tagGob:
		var box gobBox
		if err := gob.NewDecoder(bytes.NewReader([]byte(p))).Decode(&box); err != nil {
			return nil, wrapDecode(err)
		}
		return box.V, nil
	}
	return nil, fmt.Errorf("%w: unknown type tag", ErrDecode)
}

// wrapDecode reports a value that does not decode. It names the kind of
// failure but not the error's text: strconv's would quote the stored
// value, and errors end up in logs.
func wrapDecode(err error) error {
	if err == nil {
		return nil
	}
	var num *strconv.NumError
	if errors.As(err, &num) {
		return fmt.Errorf("%w: malformed number", ErrDecode)
	}
	return fmt.Errorf("%w: %w", ErrDecode, err)
}

// encodeKey returns the hash field name of a session key.
func encodeKey(k any) (string, error) {
	if s, ok := k.(string); ok {
		if s != "" && s[0] != '_' && s[0] != '~' {
			return s, nil
		}
		return "~" + string(tagString) + s, nil
	}
	v, err := encodeValue(k)
	if err != nil {
		return "", err
	}
	return "~" + v, nil
}

// isMeta reports whether a hash field belongs to the store.
func isMeta(field string) bool { return field != "" && field[0] == '_' }

// decodeKey reverses encodeKey. A key that cannot be a map key (a []byte,
// a slice or map from gob), which encodeKey never writes but a corrupt or
// hostile Redis field may hold, is an ErrDecode error, not a panic.
func decodeKey(field string) (any, error) {
	if field == "" || field[0] != '~' {
		return field, nil
	}
	k, err := decodeValue(field[1:])
	if err == nil && k != nil && !reflect.ValueOf(k).Comparable() {
		return nil, fmt.Errorf("%w: a key of type %T cannot be a map key", ErrDecode, k)
	}
	return k, err
}

// encodeValues encodes every session value into hash fields and reports
// their total size.
func encodeValues(values map[any]any) (map[string]string, int, error) {
	out := make(map[string]string, len(values))
	size := 0
	for k, v := range values {
		if _, ok := k.(stateMarker); ok {
			continue
		}
		f, err := encodeKey(k)
		if err != nil {
			return nil, 0, err
		}
		e, err := encodeValue(v)
		if err != nil {
			return nil, 0, err
		}
		out[f] = e
		size += len(f) + len(e)
	}
	return out, size, nil
}
