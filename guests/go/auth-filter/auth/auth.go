// Package auth is the filter's logic, the same as the Rust auth-filter's
// (guests/auth-filter): bearer-token authentication with a deny list.
//
// Requests without `authorization: Bearer <token>` get 401; a denied token
// gets 403; any other token is forwarded with `x-auth-user: <token>` set and
// the `authorization` header removed. Paths under the public prefix pass.
package auth

import (
	"fmt"
	"strings"

	"wit_component/wasmplug_gateway_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// The settings `Configure` applied. One instance serves one call at a
// time, so plain variables do.
var (
	deny         []string
	publicPrefix = "/public/"
)

// Configure applies the host's settings: `deny` (comma-separated tokens)
// and `public-prefix`. An unknown key is an error.
func Configure(config []witTypes.Tuple2[string, string]) error {
	for _, kv := range config {
		switch kv.F0 {
		case "deny":
			deny = nil
			for _, token := range strings.Split(kv.F1, ",") {
				if token = strings.TrimSpace(token); token != "" {
					deny = append(deny, token)
				}
			}
		case "public-prefix":
			publicPrefix = kv.F1
		default:
			return fmt.Errorf("unknown setting `%s`", kv.F0)
		}
	}
	return nil
}

// Denied reports how many tokens are refused.
func Denied() int {
	return len(deny)
}

// Decide is the filter's verdict on req.
func Decide(req wasmplug_gateway_types.Request) wasmplug_gateway_types.Verdict {
	if strings.HasPrefix(req.Path, publicPrefix) {
		return wasmplug_gateway_types.MakeVerdictAllow()
	}
	token, ok := bearer(req.Headers)
	switch {
	case !ok:
		return wasmplug_gateway_types.MakeVerdictReject(wasmplug_gateway_types.Rejection{
			Status: 401,
			Reason: "missing bearer token",
		})
	case isDenied(token):
		return wasmplug_gateway_types.MakeVerdictReject(wasmplug_gateway_types.Rejection{
			Status: 403,
			Reason: fmt.Sprintf("token `%s` is denied", token),
		})
	default:
		return wasmplug_gateway_types.MakeVerdictRewrite(wasmplug_gateway_types.Rewrite{
			Path:          witTypes.None[string](),
			SetHeaders:    []witTypes.Tuple2[string, string]{{F0: "x-auth-user", F1: token}},
			RemoveHeaders: []string{"authorization"},
		})
	}
}

// bearer finds the first `authorization` header and its bearer token.
func bearer(headers []witTypes.Tuple2[string, string]) (string, bool) {
	for _, h := range headers {
		if strings.EqualFold(h.F0, "authorization") {
			return strings.CutPrefix(h.F1, "Bearer ")
		}
	}
	return "", false
}

func isDenied(token string) bool {
	for _, d := range deny {
		if d == token {
			return true
		}
	}
	return false
}
