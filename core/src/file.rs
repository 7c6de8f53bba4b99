//! Reading a plugin file (or its manifest) safely: only a regular file, and
//! only up to a cap, so that a FIFO, a device or an endless file is an
//! error at once instead of a hang or an exhausted memory.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

/// The default cap on a plugin file's size: 256 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 256 << 20;

/// Why a plugin file was not read.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// It could not be read.
    Io(std::io::Error),
    /// It is not a regular file (a directory, FIFO, socket or device).
    NotAFile {
        /// What it is instead.
        kind: &'static str,
    },
    /// It is larger than the cap.
    TooLarge {
        /// Its size in bytes (at least; a file growing while read is cut
        /// at `max + 1`).
        size: u64,
        /// The cap.
        max: u64,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(e) => write!(f, "{e}"),
            FileError::NotAFile { kind } => write!(f, "it is a {kind}, not a regular file"),
            FileError::TooLarge { size, max } => {
                write!(f, "it is {size} bytes, over the {max}-byte limit")
            }
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads the regular file at `path` (symlinks followed), of at most `max`
/// bytes. Whatever is not a regular file is refused before it is opened,
/// so a FIFO cannot block and a device cannot be read without end; the
/// opened file is checked again, and never more than `max + 1` bytes are
/// read from it.
///
/// # Errors
///
/// [`FileError::NotAFile`], [`FileError::TooLarge`], or
/// [`FileError::Io`] (with [`std::io::ErrorKind::NotFound`] when there is
/// no such file).
pub fn read_file(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let check = |meta: &std::fs::Metadata| {
        if !meta.is_file() {
            return Err(FileError::NotAFile {
                kind: kind_of(meta.file_type()),
            });
        }
        if meta.len() > max {
            return Err(FileError::TooLarge {
                size: meta.len(),
                max,
            });
        }
        Ok(meta.len())
    };
    check(&std::fs::metadata(path).map_err(FileError::Io)?)?;
    let file = std::fs::File::open(path).map_err(FileError::Io)?;
    // The path may have been swapped between the two calls: check what was
    // opened.
    let len = check(&file.metadata().map_err(FileError::Io)?)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(FileError::Io)?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

fn kind_of(ty: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ty.is_fifo() {
            return "FIFO";
        }
        if ty.is_socket() {
            return "socket";
        }
        if ty.is_block_device() {
            return "block device";
        }
        if ty.is_char_device() {
            return "character device";
        }
    }
    if ty.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_up_to_the_cap() {
        let dir = std::env::temp_dir().join(format!("wasmplug-core-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.wasm");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_file(&path, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_file(&path, 9),
            Err(FileError::TooLarge { size: 10, max: 9 })
        ));
        assert!(matches!(
            read_file(&dir, 100),
            Err(FileError::NotAFile { kind: "directory" })
        ));
        match read_file(&dir.join("missing"), 100) {
            Err(FileError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_unread() {
        let err = read_file(Path::new("/dev/zero"), 100).unwrap_err();
        assert!(
            matches!(
                err,
                FileError::NotAFile {
                    kind: "character device"
                }
            ),
            "{err}"
        );
    }
}
