#!/usr/bin/env bash
# The host crate on every claimed OS: `cargo check` of wasmplug (the
# example host, which adds the native loader, and the command line) for FreeBSD and macOS from
# Linux. Checking builds no Rust code for the target, but build scripts run
# and wasmtime's compiles C for the target, so each target needs a C cross
# compiler: zig's `zig cc` (PyPI's ziglang) targets FreeBSD and macOS with
# its own libc headers; the wrappers below drop the Rust triple the `cc`
# crate passes (`--target=x86_64-unknown-freebsd`, which zig does not
# know) and name zig's target instead.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

# rust target | zig target
targets=(
    "x86_64-unknown-freebsd|x86_64-freebsd"
    "aarch64-apple-darwin|aarch64-macos"
    "x86_64-apple-darwin|x86_64-macos"
)

if ! python3 -m ziglang version >/dev/null 2>&1; then
    python3 -m pip install -q ziglang
fi
echo "cross-check: zig $(python3 -m ziglang version)"

bin=$PWD/target/cross-cc
mkdir -p "$bin"
args=()
rust_targets=()
for entry in "${targets[@]}"; do
    rust=${entry%%|*}
    zig=${entry#*|}
    cat >"$bin/cc-$zig" <<EOF
#!/usr/bin/env bash
# zig cc for $rust (written by .ci/cross-check.sh)
args=()
for a in "\$@"; do
    case "\$a" in --target=*) ;; *) args+=("\$a") ;; esac
done
exec python3 -m ziglang cc -target $zig "\${args[@]}"
EOF
    cat >"$bin/ar-$zig" <<EOF
#!/usr/bin/env bash
exec python3 -m ziglang ar "\$@"
EOF
    chmod +x "$bin/cc-$zig" "$bin/ar-$zig"
    var=${rust//-/_}
    export "CC_$var=$bin/cc-$zig" "AR_$var=$bin/ar-$zig"
    args+=(--target "$rust")
    rust_targets+=("$rust")
done
rustup target add "${rust_targets[@]}" >/dev/null 2>&1 || rustup target add "${rust_targets[@]}"

# One cargo invocation for all targets: the build scripts and proc macros
# (host artifacts, shared with the other steps' builds) compile once.
cargo check --locked -p wasmplug -p static-host -p wasmplug-cli "${args[@]}"
echo "cross-check: done in $((SECONDS - start)) s"
