/* The `wasmplug:demo/init-probe` world implemented in C on the native ABI
 * (wasmplug_native::abi), without the generator: the ABI is plain C, so a
 * plugin may come from any language that can export C symbols. Built by
 * the test suite; `METADATA_VERSION` lets its metadata disagree with its
 * header. The header's `WORLD` and `DIGEST_BYTES` come from the suite. */
#include "header.c"

#ifndef METADATA_VERSION
#define METADATA_VERSION "1.0.0"
#endif

typedef uint32_t Status;
typedef struct { Str name, version, description; } Metadata;
typedef struct { const void *ptr; size_t len; } Slice;
/* result<_, string>: { u8 is_err; u8 ok; string err } */
typedef struct { uint8_t is_err; uint8_t ok; Str err; } UnitOrString;
/* The host's import table for this world: its only import is log. */
typedef struct {
    const void *ctx;
    Str (*last_error)(void);
    Status (*log)(const void *ctx, uint32_t level, Str message);
} Imports;

static const Imports *imports;
static uint32_t inits;

void wasmplug_imports(const void *table) { imports = table; }
void wasmplug_post_call(void) {}
Str wasmplug_last_error(void) { return (Str)S(""); }

/* wasmplug:plugin/plugin#get-metadata */
Status wasmplug_wasmplug_0plugin_1plugin_4get_metadata(Metadata *out) {
    out->name = (Str)S("c-fixture");
    out->version = (Str)S(METADATA_VERSION);
    out->description = (Str)S("init-probe in C");
    return 0;
}

/* wasmplug:plugin/plugin#init */
Status wasmplug_wasmplug_0plugin_1plugin_4init(Slice config, UnitOrString *out) {
    inits += 1;
    imports->log(imports->ctx, 2 /* info */, (Str)S("c plugin init"));
    if (config.len != 0) {
        out->is_err = 1;
        out->err = (Str)S("no settings, please");
    } else {
        out->is_err = 0;
    }
    return 0;
}

/* wasmplug:plugin/plugin#shutdown */
Status wasmplug_wasmplug_0plugin_1plugin_4shutdown(void) { return 0; }

/* wasmplug:demo/probe#init-count */
Status wasmplug_wasmplug_0demo_1probe_4init_count(uint32_t *out) {
    *out = inits;
    return 0;
}

/* wasmplug:demo/probe#common-init-count */
Status wasmplug_wasmplug_0demo_1probe_4common_init_count(uint32_t *out) {
    *out = 0;
    return 0;
}
