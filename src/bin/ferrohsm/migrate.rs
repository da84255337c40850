//! `ferrohsm migrate-softhsm` (in progress).

pub fn run(_args: &[String]) -> i32 {
    eprintln!("ferrohsm migrate-softhsm: not built yet");
    1
}
