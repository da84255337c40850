//! A panic caught at the C boundary leaves the module usable: the locks it
//! held are taken again by the next calls (no CKR_CANT_LOCK until
//! C_Finalize). Only builds with `--features test-hooks`, whose fault
//! points panic where FERROHSM_TEST_PANIC says; `.ci/test` runs it that way.
#![cfg(feature = "test-hooks")]

#[macro_use]
mod common;

use std::ptr::null_mut;

use common::raw::*;
use common::{world, USER_PIN};
use cryptoki_sys::*;

fn panic_at(point: Option<&str>) {
    match point {
        Some(p) => std::env::set_var("FERROHSM_TEST_PANIC", p),
        None => std::env::remove_var("FERROHSM_TEST_PANIC"),
    }
}

#[test]
fn calls_after_a_caught_panic_succeed() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);

    // A panic inside C_DigestUpdate, with the session's operation lock held.
    let mut m = mech(CKM_SHA256);
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
    let mut data = *b"abc";
    panic_at(Some("C_DigestUpdate"));
    assert_eq!(call!(r, C_DigestUpdate(h, data.as_mut_ptr(), 3)), CKR_GENERAL_ERROR);
    panic_at(None);
    // The same session's operation lock works: the digest goes on.
    assert_eq!(call!(r, C_DigestUpdate(h, data.as_mut_ptr(), 3)), CKR_OK);
    let mut out = [0u8; 32];
    let mut n: CK_ULONG = 32;
    assert_eq!(call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut n)), CKR_OK);
    assert_eq!(n, 32);
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
    assert_eq!(call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut n)), CKR_OK);

    // A panic inside C_Login, with the slot's login lock held.
    assert_eq!(call!(r, C_Logout(h)), CKR_OK);
    let (u, u_len) = pin_args(USER_PIN);
    panic_at(Some("C_Login"));
    assert_eq!(call!(r, C_Login(h, CKU_USER, u, u_len)), CKR_GENERAL_ERROR);
    panic_at(None);
    assert_eq!(call!(r, C_Login(h, CKU_USER, u, u_len)), CKR_OK);
    let mut h2 = 0;
    assert_eq!(call!(r, C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, &mut h2)), CKR_OK);
    assert_eq!(call!(r, C_CloseSession(h2)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}
