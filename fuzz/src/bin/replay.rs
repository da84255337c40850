//! Runs fuzz targets over corpus files without libFuzzer (any toolchain;
//! `cargo build --release --no-default-features --features replay --bin replay`):
//! `replay TARGET PATH...` (files or directories), or `replay --all DIR`
//! for DIR/<target>/ of every target. A panic aborts the process, as
//! under libFuzzer: one the module's C boundary catches is a finding too.

use std::path::{Path, PathBuf};

fn files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(p).expect("read dir").map(|e| e.expect("entry").path()).collect();
        v.sort();
        for e in v {
            files(&e, out);
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

fn replay(name: &str, run: fn(&[u8]), paths: &[PathBuf]) -> usize {
    let mut all = Vec::new();
    for p in paths {
        files(p, &mut all);
    }
    let t = std::time::Instant::now();
    for f in &all {
        eprintln!("replay {name}: {}", f.display());
        run(&std::fs::read(f).expect("read input"));
    }
    println!("replay {name}: {} inputs in {:.1?}, no crash", all.len(), t.elapsed());
    all.len()
}

fn main() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::abort();
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let find =
        |n: &str| ferrohsm_fuzz::TARGETS.iter().find(|(t, _)| *t == n).unwrap_or_else(|| panic!("no target {n}")).1;
    match args.first().map(String::as_str) {
        Some("--all") => {
            let dir = PathBuf::from(args.get(1).expect("--all DIR"));
            let mut n = 0;
            for (name, run) in ferrohsm_fuzz::TARGETS {
                n += replay(name, *run, &[dir.join(name)]);
            }
            println!("{n} passed, 0 failed");
        }
        Some(t) => {
            let paths: Vec<PathBuf> = args[1..].iter().map(PathBuf::from).collect();
            replay(t, find(t), &paths);
        }
        None => {
            eprintln!("usage: replay TARGET PATH... | replay --all DIR");
            std::process::exit(2);
        }
    }
}
