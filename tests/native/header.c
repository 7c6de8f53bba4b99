/* A native library carrying a wasmplug header whose fields the test suite
 * sets with -D flags, to check every header check of the native loader.
 * The layout mirrors `wasmplug_native::abi::Header` (ABI version 1). */
#include <stddef.h>
#include <stdint.h>

typedef struct { const uint8_t *ptr; size_t len; } Str;

typedef struct {
    uint8_t magic[8];
    uint32_t abi_version;
    uint32_t header_size;
    Str contract;
    Str world;
    uint8_t wit_digest[32];
    Str target;
    Str rustc;
    Str plugin_name;
    Str plugin_version;
} Header;

#define S(x) { (const uint8_t *)(x), sizeof(x) - 1 }

#ifndef MAGIC
#define MAGIC "WASMPLUG"
#endif
#ifndef ABI_VERSION
#define ABI_VERSION 1
#endif
#ifndef CONTRACT
#define CONTRACT "wasmplug:demo@1.0.0"
#endif
#ifndef WORLD
#define WORLD "wasmplug:demo/demo"
#endif
#ifndef DIGEST_BYTE
#define DIGEST_BYTE 0x11
#endif
#ifndef HEADER_SIZE
#define HEADER_SIZE sizeof(Header)
#endif
#ifndef PLUGIN_NAME
#define PLUGIN_NAME "c-fixture"
#endif
#ifndef PLUGIN_VERSION
#define PLUGIN_VERSION "1.0.0"
#endif

const Header WASMPLUG_HEADER = {
    MAGIC,
    ABI_VERSION,
    HEADER_SIZE,
    S(CONTRACT),
    S(WORLD),
#ifdef DIGEST_BYTES
    { DIGEST_BYTES },
#else
    { [0 ... 31] = DIGEST_BYTE },
#endif
    S(TARGET),
    S("cc (test fixture)"),
    S(PLUGIN_NAME),
    S(PLUGIN_VERSION),
};
