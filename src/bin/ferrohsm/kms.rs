//! KMS commands (issue 7).

pub fn run(args: &[String]) -> i32 {
    eprintln!("ferrohsm {}: the KMS commands are not built yet", args[0]);
    1
}
