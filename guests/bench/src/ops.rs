//! The bench plugin's logic, as plain Rust. The plugin exports it on both
//! backends, and the benches call this same file in-process as the
//! baseline with no plugin boundary at all.

/// `x + 1`.
#[inline(never)]
pub fn add_one(x: u64) -> u64 {
    x.wrapping_add(1)
}

/// `s` as an owned string: the plugin returns the string it was handed,
/// an in-process caller with a `&str` pays for one copy.
#[inline(never)]
pub fn echo(s: impl Into<String>) -> String {
    s.into()
}

/// The sum of `data`'s bytes.
#[inline(never)]
pub fn sum(data: &[u8]) -> u64 {
    data.iter().map(|&b| u64::from(b)).sum()
}

/// Calls `bump` `n` times on its own previous result, from 0.
#[inline(never)]
pub fn call_host(n: u32, mut bump: impl FnMut(u64) -> u64) -> u64 {
    (0..n).fold(0, |x, _| bump(x))
}
