//! `keep` used to return `&'static T` to a result that the safe `post_call`
//! then freed. It now returns only the result's lowered form: raw pointers,
//! which nothing reads without `unsafe`.

use wasmplug_native::__private::guest;

fn main() {
    let kept: &'static String = guest::keep(String::from("a result"));
    println!("{kept}");
}
