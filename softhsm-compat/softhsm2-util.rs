//! `softhsm2-util`: the same front as `ferrohsm softhsm2-util`, under the
//! name scripts written for SoftHSM call.

#[allow(dead_code)]
#[path = "../src/bin/ferrohsm/common.rs"]
mod common;
#[path = "../src/bin/ferrohsm/pem.rs"]
mod pem;
#[path = "../src/bin/ferrohsm/softhsm_util.rs"]
mod softhsm_util;

fn main() {
    ferrohsm::sys::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(softhsm_util::run(&args));
}
