#!/usr/bin/env bash
# Runs the shell steps of docs/writing-a-plugin.md (every ```sh block, in
# order, verbatim, each from this directory), so the guide cannot rot: they
# build the example plugin for wasm32-wasip2, test and build the host, and
# run it on the plugin; the host asserts what it gets and exits non-zero on
# anything unexpected. Called by .ci/run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
guide="$root/docs/writing-a-plugin.md"

# The two crates are outside the workspace, as a user's would be; their
# build products go under the workspace's target/ (unless they already have
# target directories of their own): the host shares the workspace's
# (wasmtime), the plugin has one of its own there.
# The plugin's own directory, not the guest builder's: what the builder
# made is exactly what the suite records (tests/suite/portability.rs).
mkdir -p "$root/target/embedder-plugin"
[ -e "$here/plugin/target" ] || ln -s "$root/target/embedder-plugin" "$here/plugin/target"
[ -e "$here/host/target" ] || ln -s "$root/target" "$here/host/target"

steps=$(awk '/^```sh$/ { inside = 1; next } /^```$/ { if (inside) print "---"; inside = 0; next } inside' "$guide")
[ -n "$steps" ] || { echo "no \`\`\`sh steps in $guide" >&2; exit 1; }

start=$SECONDS
n=0
step=""
while IFS= read -r line; do
    if [ "$line" = "---" ]; then
        n=$((n + 1))
        echo "== step $n: ${step%%$'\n'*}"
        (cd "$here" && bash -euo pipefail -c "$step")
        step=""
    else
        step+="$line"$'\n'
    fi
done <<<"$steps"
echo "== the guide's $n steps passed in $((SECONDS - start)) s"

# The steps rewrite the base WIT's copy from the wasmplug they build: if
# that changed a committed file, the repository's copy is stale.
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1 &&
    ! git -C "$root" diff --quiet -- examples/embedder/wit; then
    echo "examples/embedder/wit changed: commit the base WIT the guide's steps wrote" >&2
    exit 1
fi
