//! The native plugin ABI's layout that more than the loader needs: the
//! header (read by the loader, and by tools that inspect a library without
//! loading it), the text type it uses, and the symbol names of entry points.
//! The ABI itself is specified in `wasmplug-native`'s `abi` module.

#![allow(unsafe_code, reason = "the header is raw pointers across a C boundary")]

/// `WASMPLUG` in ASCII.
pub const MAGIC: [u8; 8] = *b"WASMPLUG";

/// The ABI version this crate implements.
pub const ABI_VERSION: u32 = 1;

/// Name of the header static every plugin exports.
pub const HEADER_SYMBOL: &str = "WASMPLUG_HEADER";

/// `extern "C" fn(table: *const c_void)`: receives the host import table.
pub const IMPORTS_SYMBOL: &str = "wasmplug_imports";

/// `extern "C" fn()`: frees the results of this thread's last call.
pub const POST_CALL_SYMBOL: &str = "wasmplug_post_call";

/// `extern "C" fn() -> Str`: the message of this thread's last panic.
pub const LAST_ERROR_SYMBOL: &str = "wasmplug_last_error";

/// Borrowed UTF-8 text: a pointer and a length in bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Str {
    /// First byte; dangling (never null) when `len` is 0.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

impl Str {
    /// Borrows `s`.
    pub const fn new(s: &str) -> Self {
        Str {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The text, borrowed from this `Str`: it cannot outlive it, however
    /// long the bytes live. Copy it (or keep the `Str` alive) to use it
    /// longer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to `len` initialised bytes that stay valid and
    /// unchanged while the returned text is used.
    ///
    /// # Errors
    ///
    /// When the bytes are not UTF-8: a plugin cannot make the host read
    /// invalid text.
    ///
    /// ```
    /// use wasmplug_core::abi::Str;
    /// let owned = String::from("lent for the call");
    /// let raw = Str::new(&owned);
    /// // SAFETY: `owned` outlives `text`.
    /// let text = unsafe { raw.as_str() }.unwrap();
    /// assert_eq!(text, "lent for the call");
    /// ```
    pub unsafe fn as_str(&self) -> Result<&str, std::str::Utf8Error> {
        // SAFETY: the caller guarantees `ptr` is valid for `len` bytes while
        // the result (bounded by `&self`) lives; `from_raw_parts` needs a
        // non-null pointer, which `Str::new` provides even for empty strings.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes)
    }
}

/// The header every plugin exports as [`HEADER_SYMBOL`].
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<Header>()` in the plugin's ABI version.
    pub header_size: u32,
    /// The contract package and version, `ns:pkg@1.2.3`.
    pub contract: Str,
    /// The world, `ns:pkg/world`.
    pub world: Str,
    /// SHA-256 of the world's canonical description.
    pub wit_digest: [u8; 32],
    /// The target triple the plugin was built for.
    pub target: Str,
    /// The compiler it was built with (`rustc -V`).
    pub rustc: Str,
    /// The plugin's name.
    pub plugin_name: Str,
    /// The plugin's version.
    pub plugin_version: Str,
}

// SAFETY: a `Header` is immutable static data; its pointers refer to other
// immutable statics (string literals), so sharing it between threads is sound.
unsafe impl Sync for Header {}

/// The native symbol name of export `name` (`interface#function`, or a
/// world-level `function`): `wasmplug_` followed by the name with `-` as
/// `_` and every other character that is not an ASCII letter or digit
/// escaped as `_` and a digit — `:` `_0`, `/` `_1`, `@` `_2`, `.` `_3`,
/// `#` `_4`, `[` `_5`, `]` `_6`. WIT words start with a letter, so an
/// escape never collides with a `-`: the mangling is injective.
///
/// ```
/// use wasmplug_core::abi::mangle;
/// assert_eq!(mangle("wasmplug:demo/api#get-v"), "wasmplug_wasmplug_0demo_1api_4get_v");
/// assert_eq!(mangle("wasmplug:demo/api#[method]foo.m1"), "wasmplug_wasmplug_0demo_1api_4_5method_6foo_3m1");
/// ```
pub fn mangle(name: &str) -> String {
    let mut out = String::with_capacity(9 + name.len() * 2);
    out.push_str("wasmplug_");
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => out.push(c),
            '-' => out.push('_'),
            ':' => out.push_str("_0"),
            '/' => out.push_str("_1"),
            '@' => out.push_str("_2"),
            '.' => out.push_str("_3"),
            '#' => out.push_str("_4"),
            '[' => out.push_str("_5"),
            ']' => out.push_str("_6"),
            other => {
                // Not in WIT names; kept injective all the same.
                out.push_str(&format!("_7{:x}_", u32::from(other)));
            }
        }
    }
    out
}

/// The symbol of export `name`'s *dynamic* entry point (see the ABI):
/// [`mangle`]`(name)` with the prefix `wasmplugdyn_` instead of
/// `wasmplug_`, so that it is never the symbol of another export.
pub fn dynamic_symbol(name: &str) -> String {
    let mangled = mangle(name);
    format!("wasmplugdyn_{}", &mangled["wasmplug_".len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangling_is_injective_on_wit_names() {
        let names = [
            "wasmplug:demo/api@1.0.0#get-v",
            "wasmplug:demo/api@1.0.0#get_v",
            "wasmplug:demo/api@1.0.1#get-v",
            "wasmplug:demo/api@10.0.0#get-v",
            "wasmplug:demo/api@1.0.0#[method]foo.m1",
            "wasmplug:demo/api@1.0.0#[method]foo-m1",
            "f",
            "f-0",
        ];
        let mangled: std::collections::HashSet<_> = names
            .iter()
            .flat_map(|n| [mangle(n), dynamic_symbol(n)])
            .collect();
        assert_eq!(mangled.len(), 2 * names.len());
        for m in &mangled {
            assert!(
                m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{m}"
            );
        }
    }
}
