//! Reading a native plugin's header from its file, without loading it:
//! `dlopen` runs the library's initialisers (static constructors) before
//! anything can be checked, so a tool that only wants to know what a
//! library is reads the header static from the file instead.
//!
//! The header (`wasmplug_core::abi::Header`) holds pointers to its
//! strings. In a shared library these are relocated when it is loaded, so
//! the file's bytes alone do not say where the strings are: the dynamic
//! relocation at each pointer does (on ELF, `R_*_RELATIVE` with the
//! string's address as addend).

use std::collections::HashMap;
use std::path::Path;

use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};

use wasmplug_core::Digest;

use crate::abi;
use crate::error::NativeError;
use crate::library::HeaderInfo;

/// The header of the native plugin library at `path`, read from the file:
/// the library is not loaded, and none of its code runs. Nothing is
/// checked against a contract (see [`NativeLibrary::open`](crate::NativeLibrary::open)
/// for that); the magic, ABI version and header size are.
///
/// Reads ELF files (Linux, FreeBSD); Mach-O and PE libraries are read as
/// far as their pointers are stored in the file.
///
/// # Errors
///
/// [`NativeError::Io`], [`NativeError::NotAFile`], [`NativeError::TooLarge`]
/// for the file; [`NativeError::Load`] when it is not an object file;
/// [`NativeError::NotAPlugin`] when it has no header symbol;
/// [`NativeError::BadMagic`], [`NativeError::AbiVersion`],
/// [`NativeError::MalformedHeader`] for a header this crate cannot read.
pub fn read_header(path: impl AsRef<Path>, max_size: u64) -> Result<HeaderInfo, NativeError> {
    let path = path.as_ref();
    let bytes = wasmplug_core::read_file(path, max_size).map_err(|e| match e {
        wasmplug_core::FileError::NotAFile { kind } => NativeError::NotAFile {
            path: path.to_owned(),
            kind,
        },
        wasmplug_core::FileError::TooLarge { size, max } => NativeError::TooLarge {
            path: path.to_owned(),
            size,
            max,
        },
        wasmplug_core::FileError::Io(source) => NativeError::Io {
            path: path.to_owned(),
            source,
        },
        other => NativeError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(other.to_string()),
        },
    })?;
    let file = object::File::parse(&*bytes).map_err(|e| NativeError::Load {
        path: path.to_owned(),
        reason: format!("not an object file: {e}"),
    })?;
    let image = Image::new(&file);
    let not_a_plugin = || NativeError::NotAPlugin {
        path: path.to_owned(),
    };
    let mangled = format!("_{}", abi::HEADER_SYMBOL);
    let symbol = file
        .dynamic_symbols()
        .chain(file.symbols())
        .find(|s| {
            s.is_definition()
                && s.name()
                    .is_ok_and(|n| n == abi::HEADER_SYMBOL || n == mangled)
        })
        .ok_or_else(not_a_plugin)?;
    let base = symbol.address();
    let malformed = |what: &'static str| NativeError::MalformedHeader {
        path: path.to_owned(),
        what,
    };
    let word = if file.is_64() { 8 } else { 4 };
    let magic = image.bytes(base, 8).ok_or_else(not_a_plugin)?;
    if magic != abi::MAGIC {
        return Err(NativeError::BadMagic {
            path: path.to_owned(),
        });
    }
    let abi_version = image.u32(base + 8).ok_or(malformed("ABI version"))?;
    if abi_version != abi::ABI_VERSION {
        return Err(NativeError::AbiVersion {
            path: path.to_owned(),
            found: abi_version,
            supported: abi::ABI_VERSION,
        });
    }
    let header_size = image.u32(base + 12).ok_or(malformed("header size"))?;
    // Magic, version, size, two strings, the digest, four strings.
    let layout_size = 16 + 2 * 2 * word + 32 + 4 * 2 * word;
    if u64::from(header_size) < layout_size {
        return Err(malformed(crate::error::HEADER_SIZE));
    }
    // `field` is the string's offset in the header.
    let string = |field: u64, what: &'static str| -> Result<String, NativeError> {
        let at = base + field;
        let ptr = image.pointer(at, word).ok_or(malformed(what))?;
        let len = image.word(at + word, word).ok_or(malformed(what))?;
        let bytes = image.bytes(ptr, len).ok_or(malformed(what))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| malformed(what))
    };
    let contract = string(16, "contract")?;
    let world = string(16 + 2 * word, "world")?;
    let digest_at = base + 16 + 4 * word;
    let digest: [u8; 32] = image
        .bytes(digest_at, 32)
        .and_then(|b| b.try_into().ok())
        .ok_or(malformed("WIT digest"))?;
    let after_digest = 16 + 4 * word + 32;
    Ok(HeaderInfo {
        contract,
        world,
        wit_digest: Digest::from_bytes(digest),
        target: string(after_digest, "target")?,
        rustc: string(after_digest + 2 * word, "rustc")?,
        name: string(after_digest + 4 * word, "plugin name")?,
        version: string(after_digest + 6 * word, "plugin version")?,
    })
}

/// The file's sections by address, and what the dynamic loader would
/// write at each relocated address.
struct Image<'data> {
    sections: Vec<(u64, &'data [u8])>,
    relocated: HashMap<u64, u64>,
    little_endian: bool,
}

impl<'data> Image<'data> {
    fn new(file: &object::File<'data>) -> Self {
        let sections = file
            .sections()
            .filter_map(|s| Some((s.address(), s.data().ok()?)))
            .filter(|(_, data)| !data.is_empty())
            .collect();
        let symbols: HashMap<_, _> = file
            .dynamic_symbols()
            .map(|s| (s.index(), s.address()))
            .collect();
        let mut image = Image {
            sections,
            relocated: HashMap::new(),
            little_endian: file.is_little_endian(),
        };
        let word = if file.is_64() { 8 } else { 4 };
        for (at, reloc) in file.dynamic_relocations().into_iter().flatten() {
            let target = match reloc.target() {
                RelocationTarget::Absolute => 0,
                RelocationTarget::Symbol(index) => match symbols.get(&index) {
                    Some(&address) => address,
                    None => continue,
                },
                _ => continue,
            };
            let implicit = if reloc.has_implicit_addend() {
                image.word(at, word).unwrap_or(0)
            } else {
                0
            };
            let value = target
                .wrapping_add(implicit)
                .wrapping_add(reloc.addend() as u64);
            image.relocated.insert(at, value);
        }
        image
    }

    fn bytes(&self, address: u64, len: u64) -> Option<&'data [u8]> {
        self.sections.iter().find_map(|&(start, data)| {
            let offset = address.checked_sub(start)?;
            let end = offset.checked_add(len)?;
            (end <= data.len() as u64).then(|| &data[offset as usize..end as usize])
        })
    }

    fn u32(&self, address: u64) -> Option<u32> {
        let b: [u8; 4] = self.bytes(address, 4)?.try_into().ok()?;
        Some(if self.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn word(&self, address: u64, word: u64) -> Option<u64> {
        if word == 4 {
            return self.u32(address).map(u64::from);
        }
        let b: [u8; 8] = self.bytes(address, 8)?.try_into().ok()?;
        Some(if self.little_endian {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    /// A pointer as the loaded library would hold it, relative to the
    /// library's load address.
    fn pointer(&self, address: u64, word: u64) -> Option<u64> {
        match self.relocated.get(&address) {
            Some(&value) => Some(value),
            None => self.word(address, word),
        }
    }
}
