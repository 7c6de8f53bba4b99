//! The contracts bundled with wasmplug, as examples of [`contract!`](crate::contract!)
//! and for the bundled plugins and benches.

crate::contract! {
    /// The seed article's demo1 plugin: `V`, `F` and `Foo.M1`
    /// (`wasmplug:demo/demo`).
    pub struct Demo {
        package: "wasmplug:demo@1.0.0",
        world: "wasmplug:demo/demo",
        path: ["../wit/plugin", "../wit/demo"],
        bindings: demo::{Demo, DemoIndices},
    }
}

crate::contract! {
    /// The seed article's demo2 plugin: an init with a visible side effect
    /// (`wasmplug:demo/init-probe`).
    pub struct InitProbe {
        package: "wasmplug:demo@1.0.0",
        world: "wasmplug:demo/init-probe",
        path: ["../wit/plugin", "../wit/demo"],
        bindings: init_probe::{InitProbe, InitProbeIndices},
    }
}

crate::contract! {
    /// A gateway request filter (`wasmplug:gateway/gateway-filter`).
    pub struct GatewayFilter {
        package: "wasmplug:gateway@1.0.0",
        world: "wasmplug:gateway/gateway-filter",
        path: ["../wit/plugin", "../wit/gateway"],
        bindings: gateway::{GatewayFilter, GatewayFilterIndices},
        derives: [PartialEq, Eq],
    }
}
