//! Tells what a byte string is before anything compiles it: not Wasm, a core
//! module, a truncated binary, or a component worth handing to wasmtime.

use wasmparser::{Chunk, Parser, Payload};

use crate::error::{Error, Origin};

const MAGIC: &[u8; 4] = b"\0asm";
/// Version and layer of a core module (`01 00`, `00 00`).
const CORE_MODULE: [u8; 4] = [0x01, 0x00, 0x00, 0x00];

/// Checks the header and that the binary is complete. Validation proper is
/// left to wasmtime's compiler, which does it anyway.
pub(crate) fn check(origin: &Origin, bytes: &[u8]) -> Result<(), Error> {
    let head = &bytes[..bytes.len().min(8)];
    if !head.starts_with(&MAGIC[..head.len().min(4)]) || head.is_empty() {
        return Err(Error::NotWasm {
            origin: origin.clone(),
            head: head.to_vec(),
        });
    }
    if bytes.len() < 8 {
        return Err(Error::Truncated {
            origin: origin.clone(),
            len: bytes.len(),
            detail: "the 8-byte header is incomplete".into(),
        });
    }
    if bytes[4..8] == CORE_MODULE {
        return Err(Error::CoreModule {
            origin: origin.clone(),
        });
    }
    check_complete(origin, bytes)
}

/// Walks the binary's sections without validating them. A parser that still
/// wants data while bytes remain, or inside a nested module, means the file
/// was cut short.
fn check_complete(origin: &Origin, bytes: &[u8]) -> Result<(), Error> {
    let mut parser = Parser::new(0);
    let mut offset = 0;
    let mut depth = 0usize;
    loop {
        match parser.parse(&bytes[offset..], false) {
            // Malformed, not truncated: wasmtime reports it in full.
            Err(_) => return Ok(()),
            Ok(Chunk::NeedMoreData(hint)) => {
                if offset == bytes.len() && depth == 0 {
                    return Ok(());
                }
                return Err(Error::Truncated {
                    origin: origin.clone(),
                    len: bytes.len(),
                    detail: format!("at offset {offset}, {hint} more bytes expected"),
                });
            }
            Ok(Chunk::Parsed { consumed, payload }) => {
                offset += consumed;
                match payload {
                    Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => {
                        depth += 1;
                    }
                    Payload::End(_) => {
                        if depth == 0 {
                            return Ok(());
                        }
                        depth -= 1;
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::Bytes("test".into())
    }

    #[test]
    fn empty_and_text_are_not_wasm() {
        assert!(matches!(check(&origin(), b""), Err(Error::NotWasm { .. })));
        assert!(matches!(
            check(&origin(), b"#!/bin/sh\n"),
            Err(Error::NotWasm { .. })
        ));
    }

    #[test]
    fn short_header_is_truncated() {
        assert!(matches!(
            check(&origin(), b"\0as"),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            check(&origin(), b"\0asm\x0d\0"),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn core_module_header() {
        assert!(matches!(
            check(&origin(), b"\0asm\x01\0\0\0"),
            Err(Error::CoreModule { .. })
        ));
    }

    #[test]
    fn empty_component_is_complete() {
        assert!(check(&origin(), b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn cut_section_is_truncated() {
        // A custom section announcing 16 bytes, with only 3 present.
        let bytes = b"\0asm\x0d\0\x01\0\x00\x10\x01a";
        assert!(matches!(
            check(&origin(), bytes),
            Err(Error::Truncated { .. })
        ));
    }
}
