// Package export_wasmplug_gateway_filter is the filter the gateway calls
// for every request.
package export_wasmplug_gateway_filter

import (
	"wit_component/auth"
	"wit_component/wasmplug_gateway_types"
)

// OnRequest decides what happens to req.
func OnRequest(req wasmplug_gateway_types.Request) wasmplug_gateway_types.Verdict {
	return auth.Decide(req)
}
