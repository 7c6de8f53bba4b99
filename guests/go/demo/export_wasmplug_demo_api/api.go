// Package export_wasmplug_demo_api is the seed article's plugin1.go:
//
//	var V int
//	func F() { fmt.Printf("plugin1: public integer variable V=%d\n", V) }
//	type foo struct{}
//	func (f foo) M1() { fmt.Println("plugin1: invoke foo.M1") }
//	var Foo foo
//
// A component exports functions, not variables: V is read and written
// through GetV and SetV, and Foo is a resource the host holds a handle to.
package export_wasmplug_demo_api

import (
	"fmt"
	"runtime"

	"wit_component/wasmplug_plugin_log"
)

// V is the plugin's public integer.
var V int64

// SetV sets V.
func SetV(v int64) {
	V = v
}

// GetV reads V.
func GetV() int64 {
	return V
}

// F reports V, through the host's log and as its result.
func F() string {
	line := fmt.Sprintf("plugin1: public integer variable V=%d", V)
	wasmplug_plugin_log.Log(wasmplug_plugin_log.Level_Info, line)
	return line
}

// Foo is Go's `foo`. The pinner and handle fields belong to the generated
// resource code (wit_bindings.go, beside this file); calls is its own state.
type Foo struct {
	pinner runtime.Pinner
	handle int32
	calls  int
}

// GetFoo returns a new Foo; the host owns it until it drops the handle.
func GetFoo() *Foo {
	return &Foo{}
}

// M1 is Go's `foo.M1`: it logs and returns what it did.
func (f *Foo) M1() string {
	f.calls++
	line := fmt.Sprintf("plugin1: invoke foo.M1 (call %d)", f.calls)
	wasmplug_plugin_log.Log(wasmplug_plugin_log.Level_Info, line)
	return line
}

// OnDrop runs when the host drops its handle.
func (f *Foo) OnDrop() {}
