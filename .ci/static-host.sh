#!/usr/bin/env bash
# A static host: builds the example host (examples/static-host) as one
# static x86_64-unknown-linux-musl executable, checks that it is static
# (`file`, `ldd`), and runs it on the bundled components, which it compiles
# and calls. It is also handed demo1's native library: a static executable
# has no dynamic loader, and the host must get the typed
# NativeError::Load, not crash (the program exits non-zero otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

target=x86_64-unknown-linux-musl
if ! command -v musl-gcc >/dev/null || ! command -v file >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq musl-tools file >/dev/null
fi
rustup target add "$target" >/dev/null 2>&1 || rustup target add "$target"
# wasmtime's build script compiles C for the target.
export CC_x86_64_unknown_linux_musl=musl-gcc

# The bundled plugins, built by the guest builder (the README's test command
# builds them when it runs first; this test builds them otherwise, and runs
# the same host dynamically linked, where the native backend loads).
guests=target/guests/wasm32-wasip2/release
native=target/guests/native/libdemo1.so
if [ ! -f "$guests/demo1.wasm" ] || [ ! -f "$native" ]; then
    cargo test --locked -p static-host
fi

cargo build --locked -p static-host --target "$target"
exe=${CARGO_TARGET_DIR:-target}/$target/debug/static-host
file "$exe"
file "$exe" | grep -Eq 'static(-pie)? linked|statically linked'
# glibc's ldd says "not a dynamic executable" (static) or "statically
# linked" (static-pie), with exit codes that vary by version.
deps=$(ldd "$exe" 2>&1 || true)
echo "ldd: $deps"
if ! grep -Eq 'not a dynamic executable|statically linked' <<<"$deps"; then
    echo "static-host: ldd lists dynamic dependencies" >&2
    exit 1
fi

"$exe" "$guests" "$native" | tee target/static-host.out
grep -q "static-host: x86_64-linux, static executable" target/static-host.out
grep -q "native backend: unavailable in a static executable" target/static-host.out
grep -q "static-host: ok" target/static-host.out
echo "static-host: done in $((SECONDS - start)) s"
