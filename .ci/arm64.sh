#!/usr/bin/env bash
# arm64 Linux, run: cross-builds the test suite for aarch64-unknown-linux-gnu
# (the host crate, the native bridge and its macros, xtask, the integration
# suite) and runs it under qemu-aarch64 (user-mode emulation, a cargo
# runner). Inside the emulated suite the guest builder builds the native
# guests and fixtures for aarch64 (xtask's NATIVE_TARGET) with the cross
# compiler, and reuses the very same .wasm files as the x86_64 run (one
# target dir, target/guests): their digests, recorded by
# tests/suite/portability.rs in each run, must be equal.
#
# Tests that cannot work under user-mode emulation are skipped by name
# below, with the reason printed; everything else runs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null \
    || [ ! -d "$sysroot/lib" ]; then
    apt-get update -qq
    apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null
fi
# Each Runtime's pooling allocator reserves ~150 GiB of address space, and
# qemu 7 keeps page bookkeeping for guest mappings that this made grow by
# gigabytes per Runtime: under Debian 12's qemu 7.2 the suite passed 20 GB
# and was OOM-killed (errors::a_truncated_file_at_any_cut alone reached 3 GB
# in 12 s). qemu 8 tracks guest pages in an interval tree; measured with
# 10.0 (bookworm-backports) the same test peaks at 234 MB and takes 5 s.
qemu_major=$(qemu-aarch64 --version | sed -n 's/^qemu-aarch64 version \([0-9]*\).*/\1/p')
if [ "${qemu_major:-0}" -lt 8 ]; then
    if grep -q '^VERSION_CODENAME=bookworm' /etc/os-release; then
        # The backports suite of the mirror this machine already uses.
        mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
        echo "deb ${mirror:?no Debian mirror configured} bookworm-backports main" \
            >/etc/apt/sources.list.d/bookworm-backports.list
        apt-get update -qq
        apt-get install -y -qq -t bookworm-backports qemu-user >/dev/null
    else
        echo "arm64: qemu-aarch64 $qemu_major is too old (need 8 or newer)" >&2
        exit 1
    fi
fi
echo "arm64: $(qemu-aarch64 --version | head -1)"
rustup target add "$target" wasm32-wasip2 >/dev/null 2>&1 || rustup target add "$target" wasm32-wasip2

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot"
# Tests that re-run their own binary in a child process go through the
# emulator too (it cannot exec a foreign binary by itself without
# binfmt_misc): tests/suite/support.rs, this_test_binary. Those children are
# the crash tests and the two that measure resident memory over 1,000
# reloads or faults. Under qemu the process's resident memory includes the
# emulator's cache of translated code, which grows with every fresh mapping
# of plugin code (each reload maps its code anew) until the cache fills
# (its default size): the reload test measured +108 MB with the default and
# +52 KiB with the cache capped at 16 MiB, which keeps qemu's own share
# constant so that the test measures wasmplug again.
export WASMPLUG_TEST_RUNNER="qemu-aarch64 -tb-size 16 -L $sysroot"

# name | why it cannot work under user-mode emulation. None today: every
# test of the suite runs under qemu 8+ (see above for qemu 7).
skips=(
)
skip_args=()
for entry in "${skips[@]}"; do
    name=${entry%%|*}
    echo "arm64: skipping $name: ${entry#*|}"
    skip_args+=(--skip "$name")
done

packages=(-p wasmplug -p wasmplug-native -p wasmplug-native-macros -p wasmplug-tests -p xtask -p wasmplug-gateway)
echo "arm64: not run under emulation: wasmplug-benches (criterion, timing only)," \
    "static-host (spawns its own binary; run natively and as a static musl binary by .ci/static-host.sh)," \
    "wasmplug-cli (its tests run the built binary, which cannot be executed without binfmt_misc;" \
    "the API it calls, DynamicLoader and read_header, is tested in the suite under emulation)"

cargo test --locked --target "$target" "${packages[@]}" -- "${skip_args[@]}"

# The same .wasm bytes on both architectures. The x86_64 digests come from
# the README's test command when it ran first (.ci/run); otherwise from the
# one test that records them.
digests=target/portability
if [ ! -f "$digests/wasm-digests-x86_64-unknown-linux-gnu.txt" ]; then
    cargo test --locked -p wasmplug-tests --test suite -- --exact \
        portability::the_bundled_components_answer_and_their_digests_are_recorded
fi
if ! diff -u "$digests/wasm-digests-x86_64-unknown-linux-gnu.txt" "$digests/wasm-digests-$target.txt"; then
    echo "arm64: the components loaded under emulation are not those of the x86_64 run" >&2
    exit 1
fi
echo "arm64: the same $(grep -c loaded: "$digests/wasm-digests-$target.txt") bundled components" \
    "($(grep -vc loaded: "$digests/wasm-digests-$target.txt") .wasm files) loaded and answered on x86_64 and aarch64:"
grep loaded: "$digests/wasm-digests-$target.txt"
echo "arm64: done in $((SECONDS - start)) s"
