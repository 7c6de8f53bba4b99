// Package export_wasmplug_plugin_plugin is the base contract every plugin
// exports (wasmplug:plugin/plugin): its metadata and lifecycle.
package export_wasmplug_plugin_plugin

import (
	"wit_component/export_wasmplug_demo_probe"
	"wit_component/wasmplug_plugin_log"
	"wit_component/wasmplug_plugin_plugin"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// GetMetadata names the plugin; the host reads it before Init.
func GetMetadata() wasmplug_plugin_plugin.Metadata {
	return wasmplug_plugin_plugin.Metadata{
		Name:        "go-demo",
		Version:     "1.0.0",
		Description: "The seed's plugin1 in Go: V, F and Foo.M1",
	}
}

// Init is the Go plugin's `func init()` of the seed article, run by the host
// once per instance after Go's own package inits (which ran when the
// instance started).
func Init(config []witTypes.Tuple2[string, string]) witTypes.Result[witTypes.Unit, string] {
	export_wasmplug_demo_probe.Inits++
	wasmplug_plugin_log.Log(wasmplug_plugin_log.Level_Info, "plugin1 init")
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

// Shutdown runs once when the host unloads the instance.
func Shutdown() {
	wasmplug_plugin_log.Log(wasmplug_plugin_log.Level_Info, "plugin1 shutdown")
}
