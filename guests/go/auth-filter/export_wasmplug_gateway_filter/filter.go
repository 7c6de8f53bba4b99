// Package export_wasmplug_gateway_filter is the filter the gateway calls
// for every request.
package export_wasmplug_gateway_filter

import (
	"runtime"
	"runtime/debug"

	"wit_component/auth"
	"wit_component/wasmplug_gateway_types"
)

// collectEvery is how many requests pass between garbage collections.
const collectEvery = 256

var requests uint

// Go's collector reads the clock, a WASI import. Left to itself it may
// finish a cycle inside cabi_realloc, while the host copies a request into
// Go's memory, where imports are forbidden: the call traps with "cannot
// leave component instance" (wasmtime#14318). So the filter turns the
// automatic collector off and collects itself, inside its export, every
// collectEvery requests (a few hundred KB of garbage at most).
func init() {
	debug.SetGCPercent(-1)
}

// OnRequest decides what happens to req.
func OnRequest(req wasmplug_gateway_types.Request) wasmplug_gateway_types.Verdict {
	verdict := auth.Decide(req)
	requests++
	if requests%collectEvery == 0 {
		runtime.GC()
	}
	return verdict
}
