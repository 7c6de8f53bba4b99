//! The native loader's header checks, on C libraries built here with `cc`:
//! a foreign library, and a header with each field wrong in turn.

#![allow(unsafe_code, reason = "opening native libraries is unsafe by nature")]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wasmplug_native::abi::{self, Status, mangle};
use wasmplug_native::{Expected, NativeError, NativeLibrary};

const DIGEST: wasmplug_native::Digest = wasmplug_native::Digest::from_bytes([0x11; 32]);

fn expected() -> Expected<'static> {
    Expected {
        contract: "wasmplug:demo@1.0.0",
        world: "wasmplug:demo/demo",
        wit_digest: DIGEST,
    }
}

fn out_dir() -> PathBuf {
    // Per target: a cross-built suite (`.ci/arm64.sh`) builds its own.
    xtask::workspace_root()
        .join("target")
        .join("native-fixtures")
        .join(abi::TARGET)
}

/// Builds `source` into a shared library named `name` with `defines`.
pub(crate) fn cc(name: &str, source: &str, defines: &[String]) -> PathBuf {
    let dir = out_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("lib{name}.so"));
    let src = xtask::workspace_root().join("tests/native").join(source);
    let status = crate::support::c_compiler()
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .args(defines)
        .status()
        .expect("a C compiler (`cc`) is needed to build the native fixtures");
    assert!(status.success(), "cc failed on {}", src.display());
    out
}

/// The fixtures, built once: name → library.
fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let target = format!("-DTARGET=\"{}\"", abi::TARGET);
        let variants: [(&str, &[&str]); 8] = [
            ("good", &[]),
            ("bad-magic", &["-DMAGIC=\"NOTAPLUG\""]),
            ("abi-99", &["-DABI_VERSION=99"]),
            ("contract-v2", &["-DCONTRACT=\"wasmplug:demo@2.0.0\""]),
            ("changed-wit", &["-DDIGEST_BYTE=0x22"]),
            // The size of ABI version 1's header without its last field.
            (
                "short-header",
                &["-DHEADER_SIZE=(sizeof(Header)-sizeof(Str))"],
            ),
            // Latin-1, not UTF-8.
            ("latin1-name", &[r#"-DPLUGIN_NAME="caf\xe9""#]),
            ("other-target", &[]),
        ];
        let mut built: Vec<(String, PathBuf)> = variants
            .iter()
            .map(|(name, defines)| {
                let mut args: Vec<String> = defines.iter().map(|d| (*d).to_owned()).collect();
                args.push(if *name == "other-target" {
                    "-DTARGET=\"riscv64gc-unknown-linux-gnu\"".to_owned()
                } else {
                    target.clone()
                });
                (
                    (*name).to_owned(),
                    cc(&format!("hdr-{name}"), "header.c", &args),
                )
            })
            .collect();
        built.push(("plain".to_owned(), cc("plain", "plain.c", &[])));
        built
    });
    built
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p.clone())
        .expect("a known fixture")
}

fn open(path: &Path) -> Result<NativeLibrary, NativeError> {
    // SAFETY: the fixtures are built above from this repository's C sources;
    // they have no initialisers and follow the ABI's header layout.
    unsafe { NativeLibrary::open(path, &expected()) }
}

#[test]
fn a_good_header_opens_and_reports_itself() {
    let lib = open(&fixture("good")).unwrap();
    let info = lib.info();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("c-fixture", "1.0.0")
    );
    assert_eq!(info.target, abi::TARGET);
    assert_eq!(
        info.rustc, "cc (test fixture)",
        "another compiler is fine: the ABI is C"
    );

    let export = "wasmplug:demo/api#get-v";
    // SAFETY: never called; the lookup fails.
    let err = unsafe { lib.entry::<extern "C" fn()>(export) }.unwrap_err();
    match &err {
        NativeError::MissingEntryPoint {
            export: e, symbol, ..
        } => {
            assert_eq!(e, export);
            assert_eq!(*symbol, mangle(export));
        }
        other => panic!("expected MissingEntryPoint, got {other}"),
    }
}

#[test]
fn libraries_that_are_not_plugins() {
    let err = open(&fixture("plain")).unwrap_err();
    assert!(matches!(err, NativeError::NotAPlugin { .. }), "{err}");

    // A system library: the C library's maths.
    let libm = crate::support::c_compiler()
        .arg("-print-file-name=libm.so.6")
        .output()
        .unwrap();
    let libm = PathBuf::from(String::from_utf8(libm.stdout).unwrap().trim());
    assert!(
        libm.is_absolute(),
        "cc knows where libm is: {}",
        libm.display()
    );
    let err = open(&libm).unwrap_err();
    assert!(matches!(err, NativeError::NotAPlugin { .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("plugin.so");
    std::fs::write(&text, "not an ELF file").unwrap();
    let err = open(&text).unwrap_err();
    assert!(matches!(err, NativeError::Load { .. }), "{err}");
    let err = open(Path::new("/nonexistent/plugin.so")).unwrap_err();
    assert!(matches!(err, NativeError::Io { .. }), "{err}");
}

#[test]
fn each_header_check_has_its_error() {
    let err = open(&fixture("bad-magic")).unwrap_err();
    assert!(matches!(err, NativeError::BadMagic { .. }), "{err}");
    let err = open(&fixture("abi-99")).unwrap_err();
    assert!(
        matches!(
            err,
            NativeError::AbiVersion {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = open(&fixture("other-target")).unwrap_err();
    assert!(
        matches!(&err, NativeError::Target { found, .. } if found == "riscv64gc-unknown-linux-gnu"),
        "{err}"
    );
    let err = open(&fixture("contract-v2")).unwrap_err();
    assert!(
        matches!(&err, NativeError::Contract { found, .. } if found == "wasmplug:demo@2.0.0"),
        "{err}"
    );
    let err = open(&fixture("changed-wit")).unwrap_err();
    assert!(
        matches!(&err, NativeError::WitDigest { found, .. } if found.starts_with("2222")),
        "{err}"
    );
}

#[test]
fn a_malformed_header_is_refused_naming_what_is_wrong() {
    let short = fixture("short-header");
    let err = open(&short).unwrap_err();
    match &err {
        NativeError::MalformedHeader { path, what } => {
            assert_eq!(*what, "header size");
            assert_eq!(*path, short.canonicalize().unwrap());
        }
        other => panic!("expected MalformedHeader, got {other}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "{} has a malformed header: its header size is smaller than this ABI's header",
            short.canonicalize().unwrap().display()
        )
    );

    let latin1 = fixture("latin1-name");
    let err = open(&latin1).unwrap_err();
    assert!(
        matches!(
            &err,
            NativeError::MalformedHeader {
                what: "plugin name",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("has a malformed header: its plugin name is not UTF-8"),
        "{err}"
    );
}

/// The native fault fixture (`tests/native/faulty`), built once.
fn faulty_native() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(
            || match xtask::build_native("tests/native/faulty", "faulty_native") {
                Ok(path) => path,
                Err(message) => panic!("the native fault fixture could not be built:\n{message}"),
            },
        )
        .clone()
}

type GetV = unsafe extern "C" fn(*mut i64) -> Status;
type InitCount = unsafe extern "C" fn(*mut u32) -> Status;
type SetV = extern "C" fn(i64) -> Status;
type F = extern "C" fn() -> Status;

#[test]
fn a_panic_in_a_native_plugin_is_a_typed_error_and_the_host_lives() {
    let lib = open(&faulty_native()).unwrap();
    assert_eq!(lib.info().rustc, abi::RUSTC);
    // SAFETY: these are the types the ABI gives these exports.
    let (get_v, init_count) = unsafe {
        (
            lib.entry::<GetV>("wasmplug:demo/api#get-v").unwrap(),
            lib.entry::<InitCount>("wasmplug:demo/probe#init-count")
                .unwrap(),
        )
    };
    for _ in 0..3 {
        let mut v = 0;
        // SAFETY: `v` is a valid out-pointer for the call.
        let err = lib.check(unsafe { get_v(&mut v) }, "get-v").unwrap_err();
        match &err {
            NativeError::Panic {
                plugin,
                export,
                message,
            } => {
                assert_eq!(plugin, "faulty-native@1.0.0");
                assert_eq!(export, "get-v");
                // Without the imports handed over (this test skips the
                // loader), the plugin's panic hook is std's: no location.
                assert_eq!(message, "deliberate native panic");
            }
            other => panic!("expected Panic, got {other}"),
        }
        // The host, and the plugin's other exports, carry on.
        let mut count = 0;
        // SAFETY: `count` is a valid out-pointer for the call.
        lib.check(unsafe { init_count(&mut count) }, "init-count")
            .unwrap();
        assert_eq!(count, 7);
    }
}

/// Runs `test` (an ignored test of this binary) in a child process with
/// `fault` in its environment, and returns how the child ended. A child
/// that exits normally must have run and passed that one test.
fn run_child(test: &str, fault: &str) -> std::process::ExitStatus {
    xtask::build_guests().expect("guests build");
    let out = crate::support::this_test_binary()
        .args(["--ignored", "--exact", test, "--test-threads=1"])
        .env("WASMPLUG_FAULT", fault)
        .env(xtask::GUESTS_BUILT_ENV, "1")
        .output()
        .unwrap();
    if out.status.success() {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("test result: ok. 1 passed"),
            "the child ran {test}:\n{stdout}"
        );
    }
    out.status
}

#[test]
fn a_segfault_or_abort_in_a_native_plugin_kills_the_host_where_wasm_does_not() {
    use std::os::unix::process::ExitStatusExt;

    let native = "native::crash_child_native";
    let wasm = "native::crash_child_wasm";
    // Native: the fault takes the whole process down, catch_unwind or not.
    assert_eq!(
        run_child(native, "segv").signal(),
        Some(11),
        "SIGSEGV killed the host"
    );
    assert_eq!(
        run_child(native, "abort").signal(),
        Some(6),
        "SIGABRT killed the host"
    );
    // The child itself works when nothing faults.
    assert!(run_child(native, "none").success());
    // Wasm: the same kinds of fault are errors, and the host exits normally.
    assert!(run_child(wasm, "segv").success());
    assert!(run_child(wasm, "abort").success());
}

#[test]
#[ignore = "run in a child process by a_segfault_or_abort_in_a_native_plugin_kills_the_host_where_wasm_does_not"]
fn crash_child_native() {
    let lib = open(&faulty_native()).unwrap();
    // SAFETY: these are the types the ABI gives these exports.
    let (set_v, f) = unsafe {
        (
            lib.entry::<SetV>("wasmplug:demo/api#set-v").unwrap(),
            lib.entry::<F>("wasmplug:demo/api#f").unwrap(),
        )
    };
    match std::env::var("WASMPLUG_FAULT").as_deref() {
        Ok("segv") => {
            let _ = set_v(1);
        }
        Ok("abort") => {
            let _ = f();
        }
        _ => {}
    }
}

#[test]
#[ignore = "run in a child process by a_segfault_or_abort_in_a_native_plugin_kills_the_host_where_wasm_does_not"]
fn crash_child_wasm() {
    use crate::faults::{Faults, faults::exports::acme::faults::faults::Fault};

    let rt = crate::support::runtime();
    let plugin = rt
        .open::<Faults>(crate::support::wasm("misbehave"))
        .unwrap();
    let fault = match std::env::var("WASMPLUG_FAULT").as_deref() {
        // Wild memory access, and an abort (a panic is an abort in the guest).
        Ok("segv") => Fault::OutOfRangeList,
        _ => Fault::Panic,
    };
    let outcome = plugin.call(|f, s| f.acme_faults_faults().call_misbehave(s, fault));
    match outcome {
        Err(wasmplug::Error::Trap { code, reason, .. }) => match fault {
            Fault::OutOfRangeList => assert!(reason.contains("out of bounds"), "{reason}"),
            _ => assert_eq!(code, Some(wasmplug::wasmtime::Trap::UnreachableCodeReached)),
        },
        other => panic!("expected Trap, got {other:?}"),
    }
    // And the host goes on serving.
    let pong = plugin.call(|f, s| f.acme_faults_faults().call_ping(s, 1));
    assert_eq!(pong.unwrap(), 2);
}

#[test]
fn the_header_read_from_the_file_is_the_loaded_one() {
    let read = |name: &str| wasmplug_native::read_header(fixture(name), u64::MAX);
    let loaded = open(&fixture("good")).unwrap();
    assert_eq!(&read("good").unwrap(), loaded.info());
    // The checks that need no contract fail the same way, without loading.
    assert!(matches!(
        read("bad-magic"),
        Err(NativeError::BadMagic { .. })
    ));
    assert!(matches!(
        read("abi-99"),
        Err(NativeError::AbiVersion { found: 99, .. })
    ));
    assert!(matches!(
        read("short-header"),
        Err(NativeError::MalformedHeader {
            what: "header size",
            ..
        })
    ));
    assert!(matches!(
        read("latin1-name"),
        Err(NativeError::MalformedHeader { .. })
    ));
    assert!(matches!(read("plain"), Err(NativeError::NotAPlugin { .. })));
    // Contract, digest and target are read, not checked.
    assert_eq!(read("contract-v2").unwrap().contract, "wasmplug:demo@2.0.0");
    assert_eq!(
        read("other-target").unwrap().target,
        "riscv64gc-unknown-linux-gnu"
    );
}
