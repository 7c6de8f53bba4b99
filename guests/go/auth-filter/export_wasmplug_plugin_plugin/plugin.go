// Package export_wasmplug_plugin_plugin is the base contract: metadata and
// lifecycle, with the filter's settings applied in Init.
package export_wasmplug_plugin_plugin

import (
	"fmt"

	"wit_component/auth"
	"wit_component/wasmplug_plugin_log"
	"wit_component/wasmplug_plugin_plugin"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// GetMetadata names the plugin; the host reads it before Init.
func GetMetadata() wasmplug_plugin_plugin.Metadata {
	return wasmplug_plugin_plugin.Metadata{
		Name:        "go-auth-filter",
		Version:     "1.0.0",
		Description: "Bearer-token authentication with a deny list, in Go",
	}
}

// Init applies the settings; an error refuses the load (Error::Init).
func Init(config []witTypes.Tuple2[string, string]) witTypes.Result[witTypes.Unit, string] {
	if err := auth.Configure(config); err != nil {
		return witTypes.Err[witTypes.Unit, string](err.Error())
	}
	wasmplug_plugin_log.Log(wasmplug_plugin_log.Level_Debug,
		fmt.Sprintf("go-auth-filter: %d denied tokens", auth.Denied()))
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

// Shutdown has nothing to release.
func Shutdown() {}
