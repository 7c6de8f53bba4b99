// Package export_wasmplug_demo_probe lets the host observe initialisation.
package export_wasmplug_demo_probe

import "wit_component/common"

// Inits counts the host's calls of Init in this instance.
var Inits uint32

// InitCount reports how many times Init ran.
func InitCount() uint32 {
	return Inits
}

// CommonInitCount reports how many times the shared package's init ran.
func CommonInitCount() uint32 {
	return common.InitCount()
}
