package serveapp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// WriteOnlyMarker stands in config views for an env var value that came
// from a write-only argument: not even a hash of it goes into state, so a
// change shows through the argument's version, not here.
const WriteOnlyMarker = "(write-only)"

// HashMarker is how Redact shows a secret value: "sha256:" and the first 12
// hex digits of its SHA-256. A changed value changes the marker, so drift
// still shows in a plan, and 48 bits of a hash reveal nothing of a token.
func HashMarker(v any) string {
	s, ok := v.(string)
	if !ok {
		b, _ := json.Marshal(v)
		s = string(b)
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])[:12]
}

// Redact returns a deep copy of an application config (Render's result or
// a deployed config) for plan and state: the values of every env_vars
// object, at any depth (the app's runtime_env and any per-deployment one),
// are replaced by HashMarker, and those of the top-level runtime_env named
// in writeOnly by WriteOnlyMarker. Keys stay, so an added or removed
// variable shows by name. What is sent to Ray is never redacted.
// The copy goes through JSON first, so that a map or struct of any Go type
// is seen as the object Ray will see.
func Redact(app map[string]any, writeOnly map[string]bool) (map[string]any, error) {
	b, err := json.Marshal(app)
	if err != nil {
		return nil, err
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil, err
	}
	out, _ := redact(generic, "", writeOnly).(map[string]any)
	return out, nil
}

func redact(v any, at string, writeOnly map[string]bool) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			if k == "env_vars" {
				env, ok := e.(map[string]any)
				if !ok {
					m[k] = HashMarker(e) // not an object: Ray refuses it, but hide it all the same
					continue
				}
				vars := make(map[string]any, len(env))
				for name, val := range env {
					if at == "runtime_env" && writeOnly[name] {
						vars[name] = WriteOnlyMarker
					} else {
						vars[name] = HashMarker(val)
					}
				}
				m[k] = vars
				continue
			}
			m[k] = redact(e, joinPath(at, k), writeOnly)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = redact(e, fmt.Sprintf("%s[%d]", at, i), writeOnly)
		}
		return l
	default:
		return v
	}
}

func joinPath(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

// RedactedJSON is Redact for a JSON config (a deployed_app_config), in
// Canonical form.
func RedactedJSON(raw []byte, writeOnly map[string]bool) (string, error) {
	var app map[string]any
	if err := json.Unmarshal(raw, &app); err != nil {
		return "", err
	}
	red, err := Redact(app, writeOnly)
	if err != nil {
		return "", err
	}
	return CanonicalValue(red)
}

// CanonicalRedacted is the Canonical form of Redact(app, writeOnly): the
// view of a rendered config that goes into config_json.
func CanonicalRedacted(app map[string]any, writeOnly map[string]bool) (string, error) {
	red, err := Redact(app, writeOnly)
	if err != nil {
		return "", err
	}
	return CanonicalValue(red)
}
