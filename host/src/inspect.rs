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

/// Walks the top-level sections without validating them. Each section
/// declares its size, so the file is complete when every section's range
/// fits in it and the parser is not left wanting more.
fn check_complete(origin: &Origin, bytes: &[u8]) -> Result<(), Error> {
    let truncated = |detail: String| Error::Truncated {
        origin: origin.clone(),
        len: bytes.len(),
        detail,
    };
    let mut parser = Parser::new(0);
    let mut offset = 0;
    loop {
        match parser.parse(&bytes[offset..], false) {
            // Malformed rather than truncated: wasmtime reports it in full.
            Err(_) => return Ok(()),
            Ok(Chunk::NeedMoreData(_)) if offset == bytes.len() => return Ok(()),
            Ok(Chunk::NeedMoreData(hint)) => {
                return Err(truncated(format!(
                    "at offset {offset}, {hint} more bytes expected"
                )));
            }
            Ok(Chunk::Parsed { consumed, payload }) => {
                offset += consumed;
                // Nested modules and components, and code sections, are not
                // walked: their declared ranges must fit, and are skipped.
                let skip = match payload {
                    Payload::ModuleSection {
                        unchecked_range, ..
                    }
                    | Payload::ComponentSection {
                        unchecked_range, ..
                    } => Some(unchecked_range),
                    Payload::CodeSectionStart { range, .. } => {
                        parser.skip_section();
                        Some(range)
                    }
                    Payload::End(_) => return Ok(()),
                    _ => None,
                };
                if let Some(range) = skip {
                    if range.end > bytes.len() {
                        return Err(truncated(format!(
                            "a section at offset {} ends at {}",
                            range.start, range.end
                        )));
                    }
                    offset = range.end;
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
