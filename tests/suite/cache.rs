//! The precompiled cache: loads after the first skip compilation; bad
//! entries are discarded and rebuilt, never trusted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use wasmplug::{CacheStats, Runtime};
use wasmplug_contracts::Demo;

use crate::support::{wasm, wasm_bytes};

fn runtime_with_cache(dir: &Path) -> Runtime {
    Runtime::builder()
        .max_instances(4)
        .cache_dir(dir)
        .build()
        .unwrap()
}

fn stats(hits: u64, misses: u64, discarded: u64) -> CacheStats {
    let mut s = CacheStats::default();
    s.hits = hits;
    s.misses = misses;
    s.discarded = discarded;
    s
}

fn works(rt: &Runtime) {
    let plugin = rt.open::<Demo>(wasm("demo1")).unwrap();
    plugin
        .call(|d, s| d.wasmplug_demo_api().call_set_v(s, 3))
        .unwrap();
    assert_eq!(
        plugin
            .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
            .unwrap(),
        3
    );
}

#[test]
fn a_second_runtime_loads_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let first = runtime_with_cache(&root);
    works(&first);
    assert_eq!(first.cache_stats(), Some(stats(0, 1, 0)));

    let entry = first.cache_entry(&wasm_bytes("demo1")).unwrap();
    assert!(entry.is_file());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(entry.parent().unwrap()), 0o700);
    assert_eq!(mode(&entry), 0o600);

    let second = runtime_with_cache(&root);
    works(&second);
    assert_eq!(second.cache_stats(), Some(stats(1, 0, 0)));
}

#[test]
fn corrupt_truncated_and_foreign_entries_are_discarded_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let seed = runtime_with_cache(dir.path());
    works(&seed);
    let entry = seed.cache_entry(&wasm_bytes("demo1")).unwrap();
    let good = std::fs::read(&entry).unwrap();

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let truncated = good[..good.len() - 100].to_vec();
    let mut foreign = b"not a wasmplug cache entry".to_vec();
    foreign.resize(good.len(), 0);
    // A valid entry, but of another component, under this one's name.
    let other = {
        let rt = runtime_with_cache(dir.path());
        rt.open::<wasmplug_contracts::InitProbe>(wasm("init-probe"))
            .unwrap();
        std::fs::read(rt.cache_entry(&wasm_bytes("init-probe")).unwrap()).unwrap()
    };

    for (what, bytes) in [
        ("flipped", flipped),
        ("truncated", truncated),
        ("foreign", foreign),
        ("empty", Vec::new()),
        ("another component's", other),
    ] {
        std::fs::write(&entry, &bytes).unwrap();
        let rt = runtime_with_cache(dir.path());
        works(&rt);
        assert_eq!(rt.cache_stats(), Some(stats(0, 1, 1)), "{what}");
        assert_eq!(std::fs::read(&entry).unwrap(), good, "{what}: rebuilt");
    }
}

#[test]
fn a_cache_directory_others_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let rt = runtime_with_cache(dir.path());
    assert_eq!(rt.cache_stats(), None, "the cache is off");
    works(&rt);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn a_disabled_cache_writes_nothing() {
    let rt = Runtime::builder()
        .max_instances(4)
        .cache(false)
        .build()
        .unwrap();
    works(&rt);
    assert_eq!(rt.cache_stats(), None);
    assert_eq!(rt.cache_entry(b"anything"), None);
}
