//! Puts the memory map (`memory.x`, or `memory-budget.x` with feature `budget`) and
//! the interrupt names (`device.x`) where the linker finds them.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let memory = if env::var_os("CARGO_FEATURE_BUDGET").is_some() {
        "memory-budget.x"
    } else {
        "memory.x"
    };
    fs::copy(memory, out.join("memory.x")).expect("copy memory.x");
    fs::copy("device.x", out.join("device.x")).expect("copy device.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=memory-budget.x");
    println!("cargo:rerun-if-changed=device.x");
    println!("cargo:rerun-if-env-changed=CARGO_FEATURE_BUDGET");
    if env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo:rustc-link-arg=-Tdefmt.x");
    }
}
