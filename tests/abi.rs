//! The raw C ABI: NULL pointers, short buffers, bad handles and arguments,
//! the function and interface tables, fork. These are the calls the safe
//! `cryptoki` wrapper will not make.

#[macro_use]
mod common;

use std::ptr::null_mut;

use common::raw::*;
use common::*;
use cryptoki_sys::*;

#[test]
fn initialize_and_finalize_arguments() {
    let _w = world("");
    let r = raw();
    let mut info: CK_INFO = unsafe { std::mem::zeroed() };
    assert_eq!(call!(r, C_GetInfo(&mut info)), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_CRYPTOKI_NOT_INITIALIZED);
    let mut slot: CK_SLOT_ID = 0;
    assert_eq!(call!(r, C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null_mut())), CKR_CRYPTOKI_NOT_INITIALIZED);

    let mut args: CK_C_INITIALIZE_ARGS = unsafe { std::mem::zeroed() };
    let mut reserved = 0u8;
    args.pReserved = &mut reserved as *mut u8 as *mut _;
    assert_eq!(call!(r, C_Initialize(&mut args as *mut _ as *mut _)), CKR_ARGUMENTS_BAD);

    unsafe extern "C" fn create(_: *mut *mut std::ffi::c_void) -> CK_RV {
        CKR_OK
    }
    unsafe extern "C" fn other(_: *mut std::ffi::c_void) -> CK_RV {
        CKR_OK
    }
    let mut args: CK_C_INITIALIZE_ARGS = unsafe { std::mem::zeroed() };
    args.CreateMutex = Some(create);
    assert_eq!(call!(r, C_Initialize(&mut args as *mut _ as *mut _)), CKR_ARGUMENTS_BAD, "some callbacks only");
    args.DestroyMutex = Some(other);
    args.LockMutex = Some(other);
    args.UnlockMutex = Some(other);
    assert_eq!(call!(r, C_Initialize(&mut args as *mut _ as *mut _)), CKR_CANT_LOCK, "callbacks without OS locking");
    args.flags = CKF_OS_LOCKING_OK;
    assert_eq!(call!(r, C_Initialize(&mut args as *mut _ as *mut _)), CKR_OK);
    assert_eq!(call!(r, C_Initialize(null_mut())), CKR_CRYPTOKI_ALREADY_INITIALIZED);

    assert_eq!(call!(r, C_GetInfo(null_mut())), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_GetInfo(&mut info)), CKR_OK);
    assert_eq!((info.cryptokiVersion.major, info.cryptokiVersion.minor), (3, 0));
    assert!(info.manufacturerID.starts_with(b"FerroHSM"));
    assert_eq!(call!(r, C_Finalize(&mut reserved as *mut u8 as *mut _)), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn function_list_and_interfaces() {
    let _w = world("");
    let r = raw();
    assert_eq!((r.f.version.major, r.f.version.minor), (2, 40));
    type GetList = unsafe extern "C" fn(*mut CK_INTERFACE, *mut CK_ULONG) -> CK_RV;
    type GetIface = unsafe extern "C" fn(*mut u8, *mut CK_VERSION, *mut *mut CK_INTERFACE, CK_FLAGS) -> CK_RV;
    let list: libloading::Symbol<GetList> = unsafe { r.lib.get(b"C_GetInterfaceList") }.unwrap();
    let get: libloading::Symbol<GetIface> = unsafe { r.lib.get(b"C_GetInterface") }.unwrap();

    let mut n: CK_ULONG = 0;
    assert_eq!(unsafe { list(null_mut(), null_mut()) }, CKR_ARGUMENTS_BAD);
    assert_eq!(unsafe { list(null_mut(), &mut n) }, CKR_OK);
    assert_eq!(n, 4);
    let mut ifaces: [CK_INTERFACE; 4] = unsafe { std::mem::zeroed() };
    n = 1;
    assert_eq!(unsafe { list(ifaces.as_mut_ptr(), &mut n) }, CKR_BUFFER_TOO_SMALL);
    assert_eq!(n, 4);
    assert_eq!(unsafe { list(ifaces.as_mut_ptr(), &mut n) }, CKR_OK);
    let names: Vec<_> =
        ifaces.iter().map(|i| unsafe { std::ffi::CStr::from_ptr(i.pInterfaceName as *const _) }.to_bytes()).collect();
    assert_eq!(names, [&b"PKCS 11"[..], b"PKCS 11", b"PKCS 11", b"FerroHSM KMS"]);

    let mut iface: *mut CK_INTERFACE = null_mut();
    assert_eq!(unsafe { get(null_mut(), null_mut(), null_mut(), 0) }, CKR_ARGUMENTS_BAD);
    // The default (NULL name) is the newest: 3.2.
    assert_eq!(unsafe { get(null_mut(), null_mut(), &mut iface, 0) }, CKR_OK);
    let f32 = unsafe { &*((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_2) };
    assert_eq!((f32.version.major, f32.version.minor), (3, 2));
    let name = c"PKCS 11";
    let mut v30 = CK_VERSION { major: 3, minor: 0 };
    assert_eq!(unsafe { get(name.as_ptr() as *mut u8, &mut v30, &mut iface, 0) }, CKR_OK);
    let f3 = unsafe { &*((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0) };
    assert_eq!((f3.version.major, f3.version.minor), (3, 0));
    let mut v240 = CK_VERSION { major: 2, minor: 40 };
    assert_eq!(unsafe { get(name.as_ptr() as *mut u8, &mut v240, &mut iface, 0) }, CKR_OK);
    let f2 = unsafe { &*((*iface).pFunctionList as *const CK_FUNCTION_LIST) };
    assert_eq!((f2.version.major, f2.version.minor), (2, 40));
    assert_eq!(unsafe { get(c"Vendor X".as_ptr() as *mut u8, null_mut(), &mut iface, 0) }, CKR_ARGUMENTS_BAD);
    assert_eq!(unsafe { get(c"FerroHSM KMS".as_ptr() as *mut u8, null_mut(), &mut iface, 0) }, CKR_OK);
    let kms = unsafe { &*((*iface).pFunctionList as *const CK_VERSION) };
    assert_eq!((kms.major, kms.minor), (1, 0));
    let mut v9 = CK_VERSION { major: 9, minor: 9 };
    assert_eq!(unsafe { get(name.as_ptr() as *mut u8, &mut v9, &mut iface, 0) }, CKR_ARGUMENTS_BAD);

    // Every 3.0 entry is present; unimplemented ones say so instead of crashing.
    init(&r);
    assert_eq!(unsafe { (f3.C_GetOperationState.unwrap())(1, null_mut(), null_mut()) }, CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(
        unsafe { (f3.C_SignEncryptUpdate.unwrap())(1, null_mut(), 0, null_mut(), null_mut()) },
        CKR_SESSION_HANDLE_INVALID
    );
    assert_eq!(unsafe { (f3.C_MessageSignFinal.unwrap())(1) }, CKR_FUNCTION_NOT_SUPPORTED);
    // The message-based encryption calls are implemented (tests/message_aead.rs).
    assert_eq!(unsafe { (f3.C_MessageEncryptFinal.unwrap())(1) }, CKR_SESSION_HANDLE_INVALID);
    assert_eq!(unsafe { (f3.C_GetFunctionStatus.unwrap())(1) }, CKR_FUNCTION_NOT_PARALLEL);
    // The 3.2 table: the 3.0 entries are the same functions; the 3.2 ones
    // beyond encapsulation answer CKR_FUNCTION_NOT_SUPPORTED.
    assert_eq!(f32.C_SignInit.map(|f| f as usize), f3.C_SignInit.map(|f| f as usize));
    assert_eq!(
        unsafe { (f32.C_VerifySignatureInit.unwrap())(1, null_mut(), 0, null_mut(), 0) },
        CKR_FUNCTION_NOT_SUPPORTED
    );
    assert_eq!(unsafe { (f32.C_VerifySignature.unwrap())(1, null_mut(), 0) }, CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(unsafe { (f32.C_VerifySignatureUpdate.unwrap())(1, null_mut(), 0) }, CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(unsafe { (f32.C_VerifySignatureFinal.unwrap())(1) }, CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(unsafe { (f32.C_GetSessionValidationFlags.unwrap())(1, 0, null_mut()) }, CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(unsafe { (f32.C_AsyncComplete.unwrap())(1, null_mut(), null_mut()) }, CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(unsafe { (f32.C_AsyncGetID.unwrap())(1, null_mut(), null_mut()) }, CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(unsafe { (f32.C_AsyncJoin.unwrap())(1, null_mut(), 0, null_mut(), 0) }, CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(
        unsafe { (f32.C_WrapKeyAuthenticated.unwrap())(1, null_mut(), 0, 0, null_mut(), 0, null_mut(), null_mut()) },
        CKR_FUNCTION_NOT_SUPPORTED
    );
    assert_eq!(
        unsafe {
            (f32.C_UnwrapKeyAuthenticated.unwrap())(
                1,
                null_mut(),
                0,
                null_mut(),
                0,
                null_mut(),
                0,
                null_mut(),
                0,
                null_mut(),
            )
        },
        CKR_FUNCTION_NOT_SUPPORTED
    );
    // Encapsulation is implemented: a bad session is just that.
    let mut m = CK_MECHANISM { mechanism: CKM_ML_KEM, pParameter: null_mut(), ulParameterLen: 0 };
    let (mut ct_len, mut hk) = (0 as CK_ULONG, 0 as CK_OBJECT_HANDLE);
    assert_eq!(
        unsafe { (f32.C_EncapsulateKey.unwrap())(999, &mut m, 1, null_mut(), 0, null_mut(), &mut ct_len, &mut hk) },
        CKR_SESSION_HANDLE_INVALID
    );
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn slot_and_session_arguments() {
    let _w = world("");
    let r = raw();
    init(&r);
    let mut n: CK_ULONG = 0;
    assert_eq!(call!(r, C_GetSlotList(0, null_mut(), null_mut())), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_GetSlotList(0, null_mut(), &mut n)), CKR_OK);
    assert_eq!(n, 1);
    let h = ready_session(&r);
    let mut slots = [0 as CK_SLOT_ID; 4];
    n = 1;
    assert_eq!(call!(r, C_GetSlotList(1, slots.as_mut_ptr(), &mut n)), CKR_BUFFER_TOO_SMALL);
    assert_eq!(n, 2);
    assert_eq!(call!(r, C_GetSlotList(1, slots.as_mut_ptr(), &mut n)), CKR_OK);
    assert_eq!(&slots[..2], &[0, 1]);

    let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
    assert_eq!(call!(r, C_GetTokenInfo(0, null_mut())), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_GetTokenInfo(42, &mut info)), CKR_SLOT_ID_INVALID);
    let mut s2 = 0;
    assert_eq!(
        call!(r, C_OpenSession(0, CKF_RW_SESSION, null_mut(), None, &mut s2)),
        CKR_SESSION_PARALLEL_NOT_SUPPORTED
    );
    assert_eq!(call!(r, C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, null_mut())), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_OpenSession(42, CKF_SERIAL_SESSION, null_mut(), None, &mut s2)), CKR_SLOT_ID_INVALID);
    assert_eq!(call!(r, C_OpenSession(1, CKF_SERIAL_SESSION, null_mut(), None, &mut s2)), CKR_TOKEN_NOT_RECOGNIZED);
    let mut si: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    assert_eq!(call!(r, C_GetSessionInfo(h, &mut si)), CKR_OK);
    assert_eq!(si.state, CKS_RW_USER_FUNCTIONS);
    assert_eq!(call!(r, C_GetSessionInfo(h + 1000, &mut si)), CKR_SESSION_HANDLE_INVALID);
    assert_eq!(call!(r, C_GetSessionInfo(h, null_mut())), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_Login(h, CKU_USER, null_mut(), 4)), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_Login(h, 77, null_mut(), 0)), CKR_USER_TYPE_INVALID);
    assert_eq!(call!(r, C_InitToken(0, null_mut(), 0, null_mut())), CKR_ARGUMENTS_BAD);
    let mut mi: CK_MECHANISM_INFO = unsafe { std::mem::zeroed() };
    assert_eq!(call!(r, C_GetMechanismInfo(0, CKM_AES_KEY_GEN, &mut mi)), CKR_OK);
    assert_eq!(call!(r, C_GetMechanismInfo(0, CKM_SHA256_RSA_PKCS, &mut mi)), CKR_OK);
    assert_eq!((mi.ulMinKeySize, mi.ulMaxKeySize), (1024, 16384), "RSA sizes are in bits");
    assert_eq!(call!(r, C_GetMechanismInfo(0, CKM_DES_OFB64, &mut mi)), CKR_MECHANISM_INVALID);
    assert_eq!(call!(r, C_GenerateRandom(h, null_mut(), 16)), CKR_ARGUMENTS_BAD);
    // No slot event ever happens (tokens are never removed): a poll says
    // so; a blocking wait would never return and is refused.
    let mut slot: CK_SLOT_ID = 99;
    assert_eq!(call!(r, C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null_mut())), CKR_NO_EVENT);
    assert_eq!(slot, 99, "nothing written");
    assert_eq!(call!(r, C_WaitForSlotEvent(CKF_DONT_BLOCK, null_mut(), null_mut())), CKR_ARGUMENTS_BAD);
    let mut junk = 0u8;
    assert_eq!(
        call!(r, C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, &mut junk as *mut u8 as *mut _)),
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(call!(r, C_WaitForSlotEvent(0, &mut slot, null_mut())), CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(call!(r, C_CloseSession(h)), CKR_OK);
    assert_eq!(call!(r, C_CloseSession(h)), CKR_SESSION_HANDLE_INVALID);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

fn attr(t: CK_ATTRIBUTE_TYPE, p: *mut std::ffi::c_void, len: usize) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE { type_: t, pValue: p, ulValueLen: len as CK_ULONG }
}

#[test]
fn object_arguments_and_the_attribute_protocol() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_AES;
    let mut yes: CK_BBOOL = 1;
    let mut no: CK_BBOOL = 0;
    let mut value = [7u8; 16];
    let mut label = *b"raw-key";
    let ul = std::mem::size_of::<CK_ULONG>();
    let mut tmpl = [
        attr(CKA_CLASS, &mut class as *mut _ as *mut _, ul),
        attr(CKA_KEY_TYPE, &mut kt as *mut _ as *mut _, ul),
        attr(CKA_TOKEN, &mut yes as *mut _ as *mut _, 1),
        attr(CKA_SENSITIVE, &mut yes as *mut _ as *mut _, 1),
        attr(CKA_EXTRACTABLE, &mut no as *mut _ as *mut _, 1),
        attr(CKA_LABEL, label.as_mut_ptr() as *mut _, label.len()),
        attr(CKA_VALUE, value.as_mut_ptr() as *mut _, 16),
    ];
    let mut obj = 0;
    let n = tmpl.len() as CK_ULONG;
    assert_eq!(call!(r, C_CreateObject(h, null_mut(), 3, &mut obj)), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_CreateObject(h, tmpl.as_mut_ptr(), n, null_mut())), CKR_ARGUMENTS_BAD);
    tmpl[2].ulValueLen = 2; // a CK_BBOOL of the wrong size
    assert_eq!(call!(r, C_CreateObject(h, tmpl.as_mut_ptr(), n, &mut obj)), CKR_ATTRIBUTE_VALUE_INVALID);
    tmpl[2].ulValueLen = 1;
    tmpl[5].pValue = null_mut(); // NULL value with a length
    assert_eq!(call!(r, C_CreateObject(h, tmpl.as_mut_ptr(), n, &mut obj)), CKR_ARGUMENTS_BAD);
    tmpl[5].pValue = label.as_mut_ptr() as *mut _;
    assert_eq!(call!(r, C_CreateObject(h + 99, tmpl.as_mut_ptr(), n, &mut obj)), CKR_SESSION_HANDLE_INVALID);
    assert_eq!(call!(r, C_CreateObject(h, tmpl.as_mut_ptr(), n, &mut obj)), CKR_OK);

    // Size query, then a sensitive value, an unknown type and a short buffer
    // in one call: every entry is processed, SENSITIVE wins.
    let mut q = [attr(CKA_LABEL, null_mut(), 0), attr(CKA_VALUE, null_mut(), 0)];
    assert_eq!(call!(r, C_GetAttributeValue(h, obj, q.as_mut_ptr(), 2)), CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(q[0].ulValueLen, 7);
    assert_eq!(q[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    let mut small = [0u8; 3];
    let mut big = [0u8; 32];
    let mut q = [
        attr(CKA_LABEL, small.as_mut_ptr() as *mut _, 3),
        attr(0x7fff_0001, big.as_mut_ptr() as *mut _, 32),
        attr(CKA_VALUE, big.as_mut_ptr() as *mut _, 32),
    ];
    assert_eq!(call!(r, C_GetAttributeValue(h, obj, q.as_mut_ptr(), 3)), CKR_ATTRIBUTE_SENSITIVE);
    assert!(q.iter().all(|a| a.ulValueLen == CK_UNAVAILABLE_INFORMATION));
    let mut q = [attr(CKA_LABEL, small.as_mut_ptr() as *mut _, 3), attr(0x7fff_0001, null_mut(), 0)];
    assert_eq!(call!(r, C_GetAttributeValue(h, obj, q.as_mut_ptr(), 2)), CKR_ATTRIBUTE_TYPE_INVALID);
    let mut q = [attr(CKA_LABEL, small.as_mut_ptr() as *mut _, 3)];
    assert_eq!(call!(r, C_GetAttributeValue(h, obj, q.as_mut_ptr(), 1)), CKR_BUFFER_TOO_SMALL);
    assert_eq!(q[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    let mut q = [attr(CKA_LABEL, big.as_mut_ptr() as *mut _, 32)];
    assert_eq!(call!(r, C_GetAttributeValue(h, obj, q.as_mut_ptr(), 1)), CKR_OK);
    assert_eq!(&big[..q[0].ulValueLen as usize], b"raw-key");
    assert_eq!(call!(r, C_GetAttributeValue(h, obj, null_mut(), 1)), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_GetAttributeValue(h, obj + 1000, q.as_mut_ptr(), 1)), CKR_OBJECT_HANDLE_INVALID);

    // Nested template attribute: the array protocol one level down.
    let mut encrypt = yes;
    let mut inner = [attr(CKA_ENCRYPT, &mut encrypt as *mut _ as *mut _, 1)];
    let asz = std::mem::size_of::<CK_ATTRIBUTE>();
    let mut class2 = CKO_SECRET_KEY;
    let mut gen = [
        attr(CKA_CLASS, &mut class2 as *mut _ as *mut _, ul),
        attr(CKA_VALUE_LEN, &mut (16 as CK_ULONG) as *mut _ as *mut _, ul),
        attr(CKA_WRAP_TEMPLATE, inner.as_mut_ptr() as *mut _, asz),
    ];
    let mut mech = CK_MECHANISM { mechanism: CKM_AES_KEY_GEN, pParameter: null_mut(), ulParameterLen: 0 };
    let mut k2 = 0;
    assert_eq!(call!(r, C_GenerateKey(h, &mut mech, gen.as_mut_ptr(), 3, &mut k2)), CKR_OK);
    let mut q = [attr(CKA_WRAP_TEMPLATE, null_mut(), 0)];
    assert_eq!(call!(r, C_GetAttributeValue(h, k2, q.as_mut_ptr(), 1)), CKR_OK);
    assert_eq!(q[0].ulValueLen as usize, asz);
    let mut out_flag: CK_BBOOL = 0;
    let mut out_inner = [attr(0, &mut out_flag as *mut _ as *mut _, 1)];
    q[0].pValue = out_inner.as_mut_ptr() as *mut _;
    assert_eq!(call!(r, C_GetAttributeValue(h, k2, q.as_mut_ptr(), 1)), CKR_OK);
    assert_eq!((out_inner[0].type_, out_flag), (CKA_ENCRYPT, 1));
    let mut bad_param = 5u8;
    mech.pParameter = &mut bad_param as *mut _ as *mut _;
    mech.ulParameterLen = 1;
    assert_eq!(call!(r, C_GenerateKey(h, &mut mech, gen.as_mut_ptr(), 3, &mut k2)), CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(call!(r, C_GenerateKey(h, null_mut(), gen.as_mut_ptr(), 3, &mut k2)), CKR_ARGUMENTS_BAD);

    // Find: operation state rules.
    let mut found = [0 as CK_OBJECT_HANDLE; 8];
    let mut count: CK_ULONG = 0;
    assert_eq!(call!(r, C_FindObjects(h, found.as_mut_ptr(), 8, &mut count)), CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(call!(r, C_FindObjectsFinal(h)), CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(call!(r, C_FindObjectsInit(h, null_mut(), 0)), CKR_OK);
    assert_eq!(call!(r, C_FindObjectsInit(h, null_mut(), 0)), CKR_OPERATION_ACTIVE);
    assert_eq!(call!(r, C_FindObjects(h, null_mut(), 8, &mut count)), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_FindObjects(h, found.as_mut_ptr(), 1, &mut count)), CKR_OK);
    assert_eq!(count, 1);
    assert_eq!(call!(r, C_FindObjects(h, found.as_mut_ptr(), 8, &mut count)), CKR_OK);
    assert_eq!(count, 1);
    assert_eq!(call!(r, C_FindObjects(h, found.as_mut_ptr(), 8, &mut count)), CKR_OK);
    assert_eq!(count, 0);
    assert_eq!(call!(r, C_FindObjectsFinal(h)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn a_forked_child_must_initialize_again() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    // SAFETY (test): the child only calls into the module and _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut info: CK_INFO = unsafe { std::mem::zeroed() };
        let mut ok = call!(r, C_GetInfo(&mut info)) == CKR_CRYPTOKI_NOT_INITIALIZED;
        ok &= call!(r, C_CloseSession(h)) == CKR_CRYPTOKI_NOT_INITIALIZED;
        ok &= call!(r, C_Initialize(null_mut())) == CKR_OK;
        let mut n: CK_ULONG = 0;
        ok &= call!(r, C_GetSlotList(0, null_mut(), &mut n)) == CKR_OK && n == 2;
        let mut s = 0;
        ok &= call!(r, C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, &mut s)) == CKR_OK;
        ok &= call!(r, C_Finalize(null_mut())) == CKR_OK;
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
    // The parent is unaffected.
    let mut si: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    assert_eq!(call!(r, C_GetSessionInfo(h, &mut si)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn a_forked_child_never_repeats_the_parents_random_bytes() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    // The parent draws once, so its thread's block of random bytes is full
    // when it forks.
    let mut first = [0u8; 16];
    assert_eq!(call!(r, C_GenerateRandom(h, first.as_mut_ptr(), 16)), CKR_OK);
    let mut fds = [0i32; 2];
    // SAFETY (test): a pipe for the child's bytes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY (test): the child only calls into the module, writes and _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut ok = call!(r, C_Initialize(null_mut())) == CKR_OK;
        let mut s = 0;
        ok &= call!(r, C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, &mut s)) == CKR_OK;
        let mut bytes = [0u8; 64];
        for chunk in bytes.chunks_mut(16) {
            ok &= call!(r, C_GenerateRandom(s, chunk.as_mut_ptr(), 16)) == CKR_OK;
        }
        ok &= unsafe { libc::write(fds[1], bytes.as_ptr().cast(), 64) } == 64;
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut parent = [0u8; 64];
    for chunk in parent.chunks_mut(16) {
        assert_eq!(call!(r, C_GenerateRandom(h, chunk.as_mut_ptr(), 16)), CKR_OK);
    }
    let mut child = [0u8; 64];
    // SAFETY (test): reading the child's 64 bytes from the pipe.
    assert_eq!(unsafe { libc::read(fds[0], child.as_mut_ptr().cast(), 64) }, 64);
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
    for (i, c) in child.chunks(16).enumerate() {
        assert!(parent.chunks(16).all(|p| p != c), "child chunk {i} repeats a parent chunk");
        assert_ne!(c, &first[..]);
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}
