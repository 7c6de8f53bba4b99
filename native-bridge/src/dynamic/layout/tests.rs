//! The layouts against the generated types', and values there and back.

use super::*;
use crate::abi::{Opt, Res, Slice, Str, Tuple2};

#[test]
fn layouts_are_those_of_the_generated_types() {
    assert_eq!(
        layout(&Type::STRING).unwrap(),
        Layout {
            size: size_of::<Str>(),
            align: align_of::<Str>()
        }
    );
    let list = Type::list(Type::U16);
    assert_eq!(layout(&list).unwrap().size, size_of::<Slice<u16>>());
    let option = Type::option(Type::U64);
    assert_eq!(layout(&option).unwrap().size, size_of::<Opt<u64>>());
    let result = Type::result(Some(Type::U8), None);
    assert_eq!(layout(&result).unwrap().size, size_of::<Res<u8, u8>>());
    let tuple = Type::tuple([Type::U8, Type::STRING]).unwrap();
    assert_eq!(layout(&tuple).unwrap().size, size_of::<Tuple2<u8, Str>>());
    #[repr(C)]
    union Payload {
        _none: (),
        _c0: u8,
        _c1: Str,
    }
    #[repr(C)]
    struct Variant {
        _tag: u32,
        _payload: Payload,
    }
    let variant = Type::variant([
        ("a", Some(Type::U8)),
        ("b", Some(Type::STRING)),
        ("c", None),
    ])
    .unwrap();
    assert_eq!(layout(&variant).unwrap().size, size_of::<Variant>());
    #[repr(C)]
    union Empty {
        _none: (),
    }
    #[repr(C)]
    struct Bare {
        _tag: u32,
        _payload: Empty,
    }
    let bare = Type::variant([("x", None::<Type>), ("y", None)]).unwrap();
    assert_eq!(layout(&bare).unwrap().size, size_of::<Bare>());
}

#[test]
fn a_value_lowered_then_lifted_is_the_same_value() {
    let ty = Type::record([
        ("name", Type::STRING),
        ("tags", Type::list(Type::STRING)),
        ("weight", Type::option(Type::F64)),
        (
            "outcome",
            Type::result(
                Some(Type::tuple([Type::CHAR, Type::BOOL]).unwrap()),
                Some(Type::S16),
            ),
        ),
        (
            "shape",
            Type::variant([("dot", None), ("square", Some(Type::U32))]).unwrap(),
        ),
    ])
    .unwrap();
    let text = r#"{name: "ünïcode", tags: ["a", "", "ccc"], weight: some(2.5), outcome: ok(('x', true)), shape: square(7)}"#;
    let value: Value = wasm_wave::from_str(&ty, text).unwrap();
    let l = layout(&ty).unwrap();
    let mut arena = Arena::default();
    let mut bytes = vec![0u8; l.size];
    lower(&ty, &value, &mut bytes, &mut arena).unwrap();
    // SAFETY: just lowered; `arena` keeps what it points to.
    let back = unsafe { lift(&ty, &bytes) }.unwrap();
    assert_eq!(wasm_wave::to_string(&back).unwrap(), text);
}

#[test]
fn a_value_of_another_type_is_refused() {
    let mut bytes = [0u8; 8];
    let err = lower(
        &Type::U32,
        &Value::make_string("x".into()),
        &mut bytes,
        &mut Arena::default(),
    )
    .unwrap_err();
    assert_eq!(err, "a string where a u32 is expected");
}

#[test]
fn invalid_lowered_values_are_refused() {
    // SAFETY: scalars only: no pointer is read.
    unsafe {
        assert_eq!(lift(&Type::BOOL, &[2]).unwrap_err(), "2 is not a bool");
        let bad_char = 0xd800_u32.to_ne_bytes();
        assert_eq!(
            lift(&Type::CHAR, &bad_char).unwrap_err(),
            "0xd800 is not a char"
        );
        let e = Type::enum_ty(["a", "b"]).unwrap();
        assert_eq!(
            lift(&e, &5u32.to_ne_bytes()).unwrap_err(),
            "5 is not a case of the enum"
        );
    }
    // A string of length 3 at address 0.
    let mut bytes = vec![0u8; 2 * PTR];
    bytes[PTR..2 * PTR].copy_from_slice(&3usize.to_ne_bytes());
    // SAFETY: a null pointer is refused before it is read.
    let err = unsafe { lift(&Type::STRING, &bytes) }.unwrap_err();
    assert_eq!(err, "a null pointer with a length of 3");
}
