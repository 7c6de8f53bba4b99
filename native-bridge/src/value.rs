//! How WIT values cross the native ABI: every Rust type that stands for a
//! WIT type has a C-layout *lowered* form ([`Lower::Lowered`]), made by
//! [`Lower::lower`] on the sending side and turned back into an owned value
//! by [`Lift::lift`] on the receiving side. The mapping is specified in
//! [`abi`](crate::abi#values); generated code (plugin exports and host
//! bindings) is the only caller, through `__private`.
//!
//! Lowering never copies bytes: strings and lists of scalars are borrowed
//! as (pointer, length). Lists of other element types are lowered element
//! by element into an array kept alive by an [`Arena`] for the call.
//! Lifting copies into owned values and checks what the other side cannot
//! be trusted with (UTF-8, `bool` and `char` values, variant tags).

#![allow(unsafe_code, reason = "lifting reads memory the other side lent")]

use std::any::Any;
use std::fmt;
use std::mem::{ManuallyDrop, MaybeUninit};

use crate::abi::{Opt, Res, Slice, Str, Tuple1, Tuple2, Tuple3, Tuple4};

/// Keeps the lowered arrays of one call alive until the call's results are
/// released (the host drops it after the call; a plugin keeps it until
/// post-call).
///
/// Every call makes one, most never use it: making and dropping an empty
/// arena costs a compare, not a call (a scalar call through the bridge
/// took 10.4 ns with the drop out of line, 4.6 ns without).
#[derive(Default)]
pub struct Arena {
    kept: ManuallyDrop<Vec<Box<dyn Any>>>,
}

impl Arena {
    /// An empty arena. Allocates nothing until a list needs one.
    pub const fn new() -> Self {
        Arena {
            kept: ManuallyDrop::new(Vec::new()),
        }
    }

    /// Keeps `items` and borrows them as a [`Slice`], valid as long as the
    /// arena lives (moving the arena does not move the items).
    pub fn slice<T: 'static>(&mut self, items: Vec<T>) -> Slice<T> {
        let slice = Slice {
            ptr: items.as_ptr(),
            len: items.len(),
        };
        if items.capacity() != 0 {
            self.kept.push(Box::new(items));
        }
        slice
    }
}

impl Drop for Arena {
    #[inline]
    fn drop(&mut self) {
        #[cold]
        #[inline(never)]
        fn release(kept: &mut ManuallyDrop<Vec<Box<dyn Any>>>) {
            // SAFETY: called once, from `drop`; `kept` is not used again.
            unsafe { ManuallyDrop::drop(kept) }
        }
        if self.kept.capacity() != 0 {
            release(&mut self.kept);
        }
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("kept", &self.kept.len())
            .finish()
    }
}

/// A value and the arrays it was lowered into, kept together so that its
/// lowered form stays valid for as long as this lives, wherever it moves:
/// what one side holds for the other until the other is done reading (a
/// plugin's results until post-call, the host's import results until the
/// next import call).
pub(crate) struct Kept {
    _value: Box<dyn Any>,
    _arena: Arena,
}

impl Kept {
    /// Lowers `value` where it will stay (on the heap, not in a frame that
    /// ends or moves), so the lowered form's pointers stay valid as long as
    /// the returned `Kept` lives. The lowered form holds raw pointers only:
    /// reading through them is `unsafe`, and the reader answers for it.
    pub(crate) fn new<T: Lower + 'static>(value: T) -> (Kept, T::Lowered) {
        let value = Box::new(value);
        let mut arena = Arena::new();
        let lowered = value.lower(&mut arena);
        let kept = Kept {
            _value: value,
            _arena: arena,
        };
        (kept, lowered)
    }
}

/// A value the other side sent that is not valid for its WIT type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiftError(pub String);

impl LiftError {
    /// A lift error saying `what`.
    pub fn new(what: impl Into<String>) -> Self {
        LiftError(what.into())
    }
}

impl fmt::Display for LiftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LiftError {}

/// A Rust type that can be sent across the native ABI.
pub trait Lower {
    /// Its C-layout form.
    type Lowered: Copy + 'static;

    /// The lowered form, borrowing from `self`; arrays it needs are kept in
    /// `arena`.
    fn lower(&self, arena: &mut Arena) -> Self::Lowered;

    /// Lowers a list of `Self`. The default lowers each element into an
    /// array kept in `arena`; scalars override it to borrow `items` as is.
    fn lower_list(items: &[Self], arena: &mut Arena) -> Slice<Self::Lowered>
    where
        Self: Sized,
    {
        let lowered: Vec<Self::Lowered> = items.iter().map(|item| item.lower(arena)).collect();
        arena.slice(lowered)
    }
}

/// A Rust type that can be received across the native ABI.
pub trait Lift: Lower + Sized {
    /// An owned value copied from `lowered`.
    ///
    /// # Safety
    ///
    /// Every pointer in `lowered` must be valid for reads of its length for
    /// the duration of the call, as the ABI guarantees for arguments (the
    /// call) and results (until post-call); every resource handle in it must
    /// be one the other side made, has not released and gives up (the
    /// lifted value owns the handle).
    ///
    /// # Errors
    ///
    /// When the value is invalid for its type: a string that is not UTF-8,
    /// a `bool` other than 0 or 1, a `char` that is not a Unicode scalar
    /// value, an unknown variant or enum tag.
    unsafe fn lift(lowered: &Self::Lowered) -> Result<Self, LiftError>;

    /// Lifts a list.
    ///
    /// # Safety
    ///
    /// As [`Lift::lift`], for the slice and every element.
    ///
    /// # Errors
    ///
    /// As [`Lift::lift`], for any element.
    unsafe fn lift_list(list: &Slice<Self::Lowered>) -> Result<Vec<Self>, LiftError> {
        // SAFETY: forwarded to the caller.
        let items = unsafe { list.as_slice() };
        items
            .iter()
            // SAFETY: forwarded to the caller, element by element.
            .map(|item| unsafe { Self::lift(item) })
            .collect()
    }
}

impl<T> Slice<T> {
    /// Borrows `items`.
    pub const fn new(items: &[T]) -> Self {
        Slice {
            ptr: items.as_ptr(),
            len: items.len(),
        }
    }

    /// The elements, borrowed from this `Slice`: they cannot outlive it,
    /// however long the elements live.
    ///
    /// # Safety
    ///
    /// `ptr` must point to `len` initialised elements that stay valid and
    /// unchanged while the returned slice is used (never null; dangling is
    /// fine when `len` is 0).
    pub unsafe fn as_slice(&self) -> &[T] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T: Lower + ?Sized> Lower for &T {
    type Lowered = T::Lowered;
    fn lower(&self, arena: &mut Arena) -> Self::Lowered {
        (**self).lower(arena)
    }
}

/// Scalars whose lowered form is themselves: lists of them are borrowed.
macro_rules! scalars {
    ($($t:ty),*) => {$(
        impl Lower for $t {
            type Lowered = $t;
            fn lower(&self, _: &mut Arena) -> $t {
                *self
            }
            fn lower_list(items: &[Self], _: &mut Arena) -> Slice<$t> {
                Slice::new(items)
            }
        }
        impl Lift for $t {
            unsafe fn lift(lowered: &$t) -> Result<$t, LiftError> {
                Ok(*lowered)
            }
            unsafe fn lift_list(list: &Slice<$t>) -> Result<Vec<$t>, LiftError> {
                // SAFETY: forwarded to the caller.
                Ok(unsafe { list.as_slice() }.to_vec())
            }
        }
    )*};
}
scalars!(u8, u16, u32, u64, i8, i16, i32, i64, f32, f64);

impl Lower for bool {
    type Lowered = u8;
    fn lower(&self, _: &mut Arena) -> u8 {
        u8::from(*self)
    }
}

impl Lift for bool {
    unsafe fn lift(lowered: &u8) -> Result<bool, LiftError> {
        match lowered {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(LiftError::new(format!("{other} is not a bool"))),
        }
    }
}

impl Lower for char {
    type Lowered = u32;
    fn lower(&self, _: &mut Arena) -> u32 {
        u32::from(*self)
    }
}

impl Lift for char {
    unsafe fn lift(lowered: &u32) -> Result<char, LiftError> {
        char::from_u32(*lowered)
            .ok_or_else(|| LiftError::new(format!("{lowered:#x} is not a Unicode scalar value")))
    }
}

/// `result<_, E>` and friends: the unit lowers to a byte, always 0.
impl Lower for () {
    type Lowered = u8;
    fn lower(&self, _: &mut Arena) -> u8 {
        0
    }
}

impl Lift for () {
    unsafe fn lift(_: &u8) -> Result<(), LiftError> {
        Ok(())
    }
}

impl Lower for str {
    type Lowered = Str;
    fn lower(&self, _: &mut Arena) -> Str {
        Str::new(self)
    }
}

impl Lower for String {
    type Lowered = Str;
    fn lower(&self, _: &mut Arena) -> Str {
        Str::new(self)
    }
}

impl Lift for String {
    unsafe fn lift(lowered: &Str) -> Result<String, LiftError> {
        // SAFETY: forwarded to the caller.
        unsafe { lowered.as_str() }
            .map(str::to_owned)
            .map_err(|e| LiftError::new(format!("invalid UTF-8 in a string: {e}")))
    }
}

impl<T: Lower> Lower for [T] {
    type Lowered = Slice<T::Lowered>;
    fn lower(&self, arena: &mut Arena) -> Self::Lowered {
        T::lower_list(self, arena)
    }
}

impl<T: Lower> Lower for Vec<T> {
    type Lowered = Slice<T::Lowered>;
    fn lower(&self, arena: &mut Arena) -> Self::Lowered {
        T::lower_list(self, arena)
    }
}

impl<T: Lift> Lift for Vec<T> {
    unsafe fn lift(lowered: &Self::Lowered) -> Result<Self, LiftError> {
        // SAFETY: forwarded to the caller.
        unsafe { T::lift_list(lowered) }
    }
}

impl<T: Lower> Lower for Option<T> {
    type Lowered = Opt<T::Lowered>;
    fn lower(&self, arena: &mut Arena) -> Self::Lowered {
        match self {
            None => Opt {
                is_some: 0,
                value: MaybeUninit::uninit(),
            },
            Some(value) => Opt {
                is_some: 1,
                value: MaybeUninit::new(value.lower(arena)),
            },
        }
    }
}

impl<T: Lift> Lift for Option<T> {
    unsafe fn lift(lowered: &Self::Lowered) -> Result<Self, LiftError> {
        match lowered.is_some {
            0 => Ok(None),
            // SAFETY: `is_some` says `value` was written; its pointers are
            // the caller's to guarantee.
            1 => Ok(Some(unsafe { T::lift(lowered.value.assume_init_ref()) }?)),
            other => Err(LiftError::new(format!("{other} is not an option tag"))),
        }
    }
}

impl<T: Lower, E: Lower> Lower for Result<T, E> {
    type Lowered = Res<T::Lowered, E::Lowered>;
    fn lower(&self, arena: &mut Arena) -> Self::Lowered {
        match self {
            Ok(ok) => Res {
                is_err: 0,
                ok: MaybeUninit::new(ok.lower(arena)),
                err: MaybeUninit::uninit(),
            },
            Err(err) => Res {
                is_err: 1,
                ok: MaybeUninit::uninit(),
                err: MaybeUninit::new(err.lower(arena)),
            },
        }
    }
}

impl<T: Lift, E: Lift> Lift for Result<T, E> {
    unsafe fn lift(lowered: &Self::Lowered) -> Result<Self, LiftError> {
        match lowered.is_err {
            // SAFETY: the tag says which field was written.
            0 => Ok(Ok(unsafe { T::lift(lowered.ok.assume_init_ref()) }?)),
            // SAFETY: as above.
            1 => Ok(Err(unsafe { E::lift(lowered.err.assume_init_ref()) }?)),
            other => Err(LiftError::new(format!("{other} is not a result tag"))),
        }
    }
}

macro_rules! tuples {
    ($($tuple:ident($($t:ident $i:tt),+);)*) => {$(
        impl<$($t: Lower),+> Lower for ($($t,)+) {
            type Lowered = $tuple<$($t::Lowered),+>;
            fn lower(&self, arena: &mut Arena) -> Self::Lowered {
                $tuple($(self.$i.lower(arena)),+)
            }
        }
        impl<$($t: Lift),+> Lift for ($($t,)+) {
            unsafe fn lift(lowered: &Self::Lowered) -> Result<Self, LiftError> {
                // SAFETY: forwarded to the caller, field by field.
                Ok(($(unsafe { $t::lift(&lowered.$i) }?,)+))
            }
        }
    )*};
}
tuples! {
    Tuple1(A 0);
    Tuple2(A 0, B 1);
    Tuple3(A 0, B 1, C 2);
    Tuple4(A 0, B 1, C 2, D 3);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Lift + PartialEq + fmt::Debug>(value: T) {
        let mut arena = Arena::new();
        let lowered = value.lower(&mut arena);
        // SAFETY: `lowered` borrows `value` and `arena`, both alive.
        let lifted = unsafe { T::lift(&lowered) }.unwrap();
        assert_eq!(lifted, value);
    }

    #[test]
    fn values_round_trip() {
        round_trip(42_i64);
        round_trip(true);
        round_trip('é');
        round_trip(String::from("grüße"));
        round_trip(String::new());
        round_trip(vec![1_u8, 2, 3]);
        round_trip(Vec::<u8>::new());
        round_trip(vec![("a".to_owned(), "b".to_owned()); 3]);
        round_trip(Some("x".to_owned()));
        round_trip(None::<String>);
        round_trip(Ok::<(), String>(()));
        round_trip(Err::<(), String>("no".into()));
        round_trip((1_u16, "two".to_owned(), vec![3.0_f64], 'c'));
        round_trip(vec![vec!["nested".to_owned()]]);
    }

    #[test]
    fn byte_lists_are_borrowed_not_copied() {
        let bytes = vec![7_u8; 64];
        let lowered = bytes.lower(&mut Arena::new());
        assert_eq!(lowered.ptr, bytes.as_ptr());
    }

    #[test]
    fn invalid_values_do_not_lift() {
        let bad = [0xff_u8, 0xfe];
        let s = Str {
            ptr: bad.as_ptr(),
            len: 2,
        };
        // SAFETY: `bad` is alive.
        assert!(unsafe { String::lift(&s) }.is_err());
        // SAFETY: no pointers.
        assert!(unsafe { bool::lift(&2) }.is_err());
        // SAFETY: no pointers.
        assert!(unsafe { char::lift(&0xd800) }.is_err());
    }
}
