//! WAVE values in the native ABI's lowered form (the *Values* table of
//! [`abi`](crate::abi)), laid out in memory as the generated `repr(C)`
//! types are: what a caller that knows the world only at run time writes
//! its arguments as and reads results from.

#![allow(unsafe_code, reason = "results are read through the plugin's pointers")]

use std::borrow::Cow;
use std::ops::Range;

use wasm_wave::value::{Type, Value};
use wasm_wave::wasm::{WasmType, WasmTypeKind, WasmValue};

const PTR: usize = size_of::<usize>();

/// A lowered type's size and alignment, as `repr(C)` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) size: usize,
    pub(crate) align: usize,
}

impl Layout {
    const fn scalar(size: usize) -> Layout {
        Layout { size, align: size }
    }
}

const fn align_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

/// A C struct of `fields`: each field's offset, and the struct's layout.
fn strukt(fields: impl IntoIterator<Item = Layout>) -> (Vec<usize>, Layout) {
    let mut offsets = Vec::new();
    let mut end = 0;
    let mut align = 1;
    for f in fields {
        let at = align_up(end, f.align);
        offsets.push(at);
        end = at + f.size;
        align = align.max(f.align);
    }
    (
        offsets,
        Layout {
            size: align_up(end, align),
            align,
        },
    )
}

/// A `Str` or `Slice`: pointer and length.
const SLICE: Layout = Layout {
    size: 2 * PTR,
    align: PTR,
};
/// What a `result` without an `ok` or `err` type holds there: `()` lowers
/// to a `u8`.
const UNIT: Layout = Layout::scalar(1);
/// An option's `is_some`, a result's `is_err`.
const FLAG: Layout = Layout::scalar(1);

/// The layout of a variant `{ u32 tag; union { …payloads } payload }` with
/// the payload's offset. A union of no payloads (only its `none: ()` field)
/// has size 0.
fn variant(payloads: impl IntoIterator<Item = Layout>) -> (usize, Layout) {
    let (mut size, mut align) = (0, 1);
    for p in payloads {
        size = size.max(p.size);
        align = align.max(p.align);
    }
    let union = Layout {
        size: align_up(size, align),
        align,
    };
    let (offsets, layout) = strukt([Layout::scalar(4), union]);
    (offsets[1], layout)
}

/// Where the parts of a compound lowered value of type `ty` lie in its
/// bytes: a record's fields and a tuple's elements in order, a variant's
/// payload for each case (empty for a case without one), an option's
/// value, a result's `ok` then `err`. Nothing for any other type.
fn parts(ty: &Type) -> Result<Vec<Range<usize>>, String> {
    // The fields after `head` in a C struct of `head` then `fields`.
    let after = |head: Option<Layout>, fields: Vec<Layout>| -> Vec<Range<usize>> {
        let skip = usize::from(head.is_some());
        let (offsets, _) = strukt(head.into_iter().chain(fields.iter().copied()));
        offsets[skip..]
            .iter()
            .zip(&fields)
            .map(|(&at, l)| at..at + l.size)
            .collect()
    };
    let all = |types: Vec<Type>| types.iter().map(layout).collect::<Result<Vec<_>, _>>();
    Ok(match ty.kind() {
        WasmTypeKind::Record => after(None, all(ty.record_fields().map(|(_, t)| t).collect())?),
        WasmTypeKind::Tuple => after(None, all(ty.tuple_element_types().collect())?),
        WasmTypeKind::Option => {
            let some = ty.option_some_type().ok_or("an option without a type")?;
            after(Some(FLAG), vec![layout(&some)?])
        }
        WasmTypeKind::Result => {
            let (ok, err) = result_layouts(ty)?;
            after(Some(FLAG), vec![ok, err])
        }
        WasmTypeKind::Variant => {
            let payloads = ty
                .variant_cases()
                .map(|(_, t)| t.map(|t| layout(&t)).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            let (at, _) = variant(payloads.iter().flatten().copied());
            payloads
                .iter()
                .map(|p| at..at + p.map_or(0, |l| l.size))
                .collect()
        }
        _ => Vec::new(),
    })
}

/// The lowered layout of `ty`.
///
/// # Errors
///
/// A type ABI v1 does not carry (flags, fixed-length lists).
pub(crate) fn layout(ty: &Type) -> Result<Layout, String> {
    Ok(match ty.kind() {
        WasmTypeKind::Bool | WasmTypeKind::S8 | WasmTypeKind::U8 => Layout::scalar(1),
        WasmTypeKind::S16 | WasmTypeKind::U16 => Layout::scalar(2),
        WasmTypeKind::S32
        | WasmTypeKind::U32
        | WasmTypeKind::F32
        | WasmTypeKind::Char
        | WasmTypeKind::Enum => Layout::scalar(4),
        WasmTypeKind::S64 | WasmTypeKind::U64 | WasmTypeKind::F64 => Layout::scalar(8),
        WasmTypeKind::String | WasmTypeKind::List => SLICE,
        WasmTypeKind::Record => {
            let fields = ty
                .record_fields()
                .map(|(_, t)| layout(&t))
                .collect::<Result<Vec<_>, _>>()?;
            strukt(fields).1
        }
        WasmTypeKind::Tuple => {
            let fields = ty
                .tuple_element_types()
                .map(|t| layout(&t))
                .collect::<Result<Vec<_>, _>>()?;
            strukt(fields).1
        }
        WasmTypeKind::Variant => {
            let payloads = ty
                .variant_cases()
                .filter_map(|(_, t)| t.map(|t| layout(&t)))
                .collect::<Result<Vec<_>, _>>()?;
            variant(payloads).1
        }
        WasmTypeKind::Option => {
            let some = ty.option_some_type().ok_or("an option without a type")?;
            strukt([FLAG, layout(&some)?]).1
        }
        WasmTypeKind::Result => {
            let (ok, err) = result_layouts(ty)?;
            strukt([FLAG, ok, err]).1
        }
        other => return Err(format!("WIT type `{other}` is not in the native ABI (v1)")),
    })
}

fn result_layouts(ty: &Type) -> Result<(Layout, Layout), String> {
    let (ok, err) = ty.result_types().ok_or("a result without types")?;
    let one = |t: Option<Type>| t.map_or(Ok(UNIT), |t| layout(&t));
    Ok((one(ok)?, one(err)?))
}

/// The memory lowered arguments point to (strings, lists), kept until the
/// call returns. Every buffer is 8-byte aligned, as no lowered type needs
/// more.
#[derive(Default)]
pub(crate) struct Arena {
    buffers: Vec<Vec<u64>>,
}

impl Arena {
    /// Keeps a copy of `bytes` and returns its address.
    fn keep(&mut self, bytes: &[u8]) -> usize {
        let buffer = aligned(bytes);
        let address = buffer.as_ptr() as usize;
        // Moving the Vec into the arena does not move its heap buffer.
        self.buffers.push(buffer);
        address
    }
}

/// `bytes` in a buffer of `u64`s, so aligned for any lowered type.
pub(crate) fn aligned(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|chunk| {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            u64::from_ne_bytes(word)
        })
        .collect()
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

fn put_slice(out: &mut [u8], address: usize, len: usize) {
    put(out, 0, &address.to_ne_bytes());
    put(out, PTR, &len.to_ne_bytes());
}

/// Writes `value` (of type `ty`) lowered into `out`, whose length is
/// `layout(ty).size`; what it points to is kept in `arena`.
///
/// # Errors
///
/// A value that does not have type `ty`.
pub(crate) fn lower(
    ty: &Type,
    value: &Value,
    out: &mut [u8],
    arena: &mut Arena,
) -> Result<(), String> {
    if value.kind() != ty.kind() {
        return Err(format!(
            "a {} where a {} is expected",
            value.kind(),
            ty.kind()
        ));
    }
    match ty.kind() {
        WasmTypeKind::Bool => out[0] = u8::from(value.unwrap_bool()),
        WasmTypeKind::S8 => put(out, 0, &value.unwrap_s8().to_ne_bytes()),
        WasmTypeKind::U8 => out[0] = value.unwrap_u8(),
        WasmTypeKind::S16 => put(out, 0, &value.unwrap_s16().to_ne_bytes()),
        WasmTypeKind::U16 => put(out, 0, &value.unwrap_u16().to_ne_bytes()),
        WasmTypeKind::S32 => put(out, 0, &value.unwrap_s32().to_ne_bytes()),
        WasmTypeKind::U32 => put(out, 0, &value.unwrap_u32().to_ne_bytes()),
        WasmTypeKind::S64 => put(out, 0, &value.unwrap_s64().to_ne_bytes()),
        WasmTypeKind::U64 => put(out, 0, &value.unwrap_u64().to_ne_bytes()),
        WasmTypeKind::F32 => put(out, 0, &value.unwrap_f32().to_ne_bytes()),
        WasmTypeKind::F64 => put(out, 0, &value.unwrap_f64().to_ne_bytes()),
        WasmTypeKind::Char => put(out, 0, &u32::from(value.unwrap_char()).to_ne_bytes()),
        WasmTypeKind::String => {
            let text = value.unwrap_string();
            let address = arena.keep(text.as_bytes());
            put_slice(out, address, text.len());
        }
        WasmTypeKind::List => {
            let element = ty.list_element_type().ok_or("a list without a type")?;
            let size = layout(&element)?.size;
            let items: Vec<Cow<'_, Value>> = value.unwrap_list().collect();
            let mut bytes = vec![0; size * items.len()];
            for (i, item) in items.iter().enumerate() {
                lower(&element, item, &mut bytes[i * size..(i + 1) * size], arena)?;
            }
            let address = arena.keep(&bytes);
            put_slice(out, address, items.len());
        }
        WasmTypeKind::Record => {
            let values: Vec<(Cow<'_, str>, Cow<'_, Value>)> = value.unwrap_record().collect();
            for ((name, t), at) in ty.record_fields().zip(parts(ty)?) {
                let (_, v) = values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or_else(|| format!("the record has no field `{name}`"))?;
                lower(&t, v, &mut out[at], arena)?;
            }
        }
        WasmTypeKind::Tuple => {
            let values: Vec<Cow<'_, Value>> = value.unwrap_tuple().collect();
            let at = parts(ty)?;
            if values.len() != at.len() {
                return Err(format!(
                    "a tuple of {} where a tuple of {} is expected",
                    values.len(),
                    at.len()
                ));
            }
            for ((t, at), v) in ty.tuple_element_types().zip(at).zip(&values) {
                lower(&t, v, &mut out[at], arena)?;
            }
        }
        WasmTypeKind::Variant => {
            let (case, payload) = value.unwrap_variant();
            let (tag, (_, t)) = ty
                .variant_cases()
                .enumerate()
                .find(|(_, (name, _))| *name == case)
                .ok_or_else(|| format!("`{case}` is not a case of the variant"))?;
            put(out, 0, &(tag as u32).to_ne_bytes());
            if let (Some(t), Some(v)) = (t, payload) {
                let at = parts(ty)?.swap_remove(tag);
                lower(&t, &v, &mut out[at], arena)?;
            }
        }
        WasmTypeKind::Enum => {
            let case = value.unwrap_enum();
            let tag = ty
                .enum_cases()
                .position(|name| name == case)
                .ok_or_else(|| format!("`{case}` is not a case of the enum"))?;
            put(out, 0, &(tag as u32).to_ne_bytes());
        }
        WasmTypeKind::Option => {
            if let Some(v) = value.unwrap_option() {
                let some = ty.option_some_type().ok_or("an option without a type")?;
                out[0] = 1;
                let at = parts(ty)?.swap_remove(0);
                lower(&some, &v, &mut out[at], arena)?;
            }
        }
        WasmTypeKind::Result => {
            let (ok, err) = ty.result_types().ok_or("a result without types")?;
            let mut at = parts(ty)?;
            let (t, v, at) = match value.unwrap_result() {
                Ok(v) => (ok, v, at.swap_remove(0)),
                Err(v) => {
                    out[0] = 1;
                    (err, v, at.swap_remove(1))
                }
            };
            if let (Some(t), Some(v)) = (t, v) {
                lower(&t, &v, &mut out[at], arena)?;
            }
        }
        other => return Err(format!("WIT type `{other}` is not in the native ABI (v1)")),
    }
    Ok(())
}

fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes[at..at + N].try_into().expect("N bytes")
}

/// The bytes of a lowered string or list in `bytes`: `len` elements of
/// `size` bytes.
///
/// # Safety
///
/// `bytes` holds a `Str` or `Slice` the plugin wrote, valid until
/// post-call.
unsafe fn target(bytes: &[u8], size: usize) -> Result<(&[u8], usize), String> {
    let address = usize::from_ne_bytes(word(bytes, 0));
    let len = usize::from_ne_bytes(word(bytes, PTR));
    let total = len
        .checked_mul(size)
        .filter(|&n| isize::try_from(n).is_ok())
        .ok_or_else(|| format!("a length of {len} elements of {size} bytes"))?;
    if total == 0 {
        return Ok((&[], len));
    }
    if address == 0 {
        return Err(format!("a null pointer with a length of {len}"));
    }
    // SAFETY: the plugin's lowered value points to `len` elements, valid
    // until post-call (the caller's guarantee).
    Ok((
        unsafe { std::slice::from_raw_parts(address as *const u8, total) },
        len,
    ))
}

/// Reads a value of type `ty` from its lowered form in `bytes` (of length
/// `layout(ty).size`).
///
/// # Safety
///
/// `bytes` holds a lowered value of type `ty` the plugin wrote: its
/// pointers are valid until post-call, which has not run.
///
/// # Errors
///
/// A value that is not valid for its type (a string that is not UTF-8, a
/// tag out of range, …).
pub(crate) unsafe fn lift(ty: &Type, bytes: &[u8]) -> Result<Value, String> {
    let made = |r: Result<Value, wasm_wave::wasm::WasmValueError>| r.map_err(|e| e.to_string());
    Ok(match ty.kind() {
        WasmTypeKind::Bool => match bytes[0] {
            0 | 1 => Value::make_bool(bytes[0] == 1),
            other => return Err(format!("{other} is not a bool")),
        },
        WasmTypeKind::S8 => Value::make_s8(i8::from_ne_bytes(word(bytes, 0))),
        WasmTypeKind::U8 => Value::make_u8(bytes[0]),
        WasmTypeKind::S16 => Value::make_s16(i16::from_ne_bytes(word(bytes, 0))),
        WasmTypeKind::U16 => Value::make_u16(u16::from_ne_bytes(word(bytes, 0))),
        WasmTypeKind::S32 => Value::make_s32(i32::from_ne_bytes(word(bytes, 0))),
        WasmTypeKind::U32 => Value::make_u32(u32::from_ne_bytes(word(bytes, 0))),
        WasmTypeKind::S64 => Value::make_s64(i64::from_ne_bytes(word(bytes, 0))),
        WasmTypeKind::U64 => Value::make_u64(u64::from_ne_bytes(word(bytes, 0))),
        WasmTypeKind::F32 => Value::make_f32(f32::from_ne_bytes(word(bytes, 0))),
        WasmTypeKind::F64 => Value::make_f64(f64::from_ne_bytes(word(bytes, 0))),
        WasmTypeKind::Char => {
            let code = u32::from_ne_bytes(word(bytes, 0));
            Value::make_char(
                char::from_u32(code).ok_or_else(|| format!("{code:#x} is not a char"))?,
            )
        }
        WasmTypeKind::String => {
            // SAFETY: forwarded to the caller.
            let (text, _) = unsafe { target(bytes, 1) }?;
            let text = std::str::from_utf8(text).map_err(|e| format!("a string: {e}"))?;
            Value::make_string(Cow::Borrowed(text))
        }
        WasmTypeKind::List => {
            let element = ty.list_element_type().ok_or("a list without a type")?;
            let size = layout(&element)?.size;
            // SAFETY: forwarded to the caller.
            let (items, len) = unsafe { target(bytes, size) }?;
            let values = (0..len)
                // SAFETY: each element is a lowered `element` of the list.
                .map(|i| unsafe { lift(&element, &items[i * size..(i + 1) * size]) })
                .collect::<Result<Vec<_>, _>>()?;
            made(Value::make_list(ty, values))?
        }
        WasmTypeKind::Record => {
            let fields: Vec<(Cow<'_, str>, Type)> = ty.record_fields().collect();
            let mut values = Vec::new();
            for ((name, t), at) in fields.iter().zip(parts(ty)?) {
                // SAFETY: the field, lowered, at its offset.
                values.push((name.as_ref(), unsafe { lift(t, &bytes[at]) }?));
            }
            made(Value::make_record(ty, values))?
        }
        WasmTypeKind::Tuple => {
            let mut values = Vec::new();
            for (t, at) in ty.tuple_element_types().zip(parts(ty)?) {
                // SAFETY: the element, lowered, at its offset.
                values.push(unsafe { lift(&t, &bytes[at]) }?);
            }
            made(Value::make_tuple(ty, values))?
        }
        WasmTypeKind::Variant => {
            let tag = u32::from_ne_bytes(word(bytes, 0));
            let (name, payload) = ty
                .variant_cases()
                .nth(tag as usize)
                .ok_or_else(|| format!("{tag} is not a case of the variant"))?;
            let payload = match payload {
                Some(t) => {
                    let at = parts(ty)?.swap_remove(tag as usize);
                    // SAFETY: the tag says this case's payload was written.
                    Some(unsafe { lift(&t, &bytes[at]) }?)
                }
                None => None,
            };
            made(Value::make_variant(ty, &name, payload))?
        }
        WasmTypeKind::Enum => {
            let tag = u32::from_ne_bytes(word(bytes, 0));
            let case = ty
                .enum_cases()
                .nth(tag as usize)
                .ok_or_else(|| format!("{tag} is not a case of the enum"))?;
            made(Value::make_enum(ty, &case))?
        }
        WasmTypeKind::Option => {
            let some = ty.option_some_type().ok_or("an option without a type")?;
            let value = match bytes[0] {
                0 => None,
                // SAFETY: `is_some` says the value was written.
                1 => Some(unsafe { lift(&some, &bytes[parts(ty)?.swap_remove(0)]) }?),
                other => return Err(format!("{other} is not an option's `is_some`")),
            };
            made(Value::make_option(ty, value))?
        }
        WasmTypeKind::Result => {
            let (ok, err) = ty.result_types().ok_or("a result without types")?;
            let mut at = parts(ty)?;
            let side = |t: Option<Type>, at: Range<usize>| {
                // SAFETY: `is_err` says which side was written.
                t.map(|t| unsafe { lift(&t, &bytes[at]) }).transpose()
            };
            let value = match bytes[0] {
                0 => Ok(side(ok, at.swap_remove(0))?),
                1 => Err(side(err, at.swap_remove(1))?),
                other => return Err(format!("{other} is not a result's `is_err`")),
            };
            made(Value::make_result(ty, value))?
        }
        other => return Err(format!("WIT type `{other}` is not in the native ABI (v1)")),
    })
}

#[cfg(test)]
mod tests;
