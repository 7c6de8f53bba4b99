// The module name is the one wit-bindgen's generated code imports its
// packages by. The guest builder adds the bindings beside these sources and
// a `replace` of go.bytecodealliance.org/pkg by the copy shipped in the
// crates.io crate wit-bindgen-go (see docs/go.md).
module wit_component

go 1.25

require go.bytecodealliance.org/pkg v0.4.0
