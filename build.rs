//! Embeds every lessons/*.md into the binary, so `wirelab tour` works wherever it is run.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=lessons");
    let dir = Path::new("lessons");
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".md"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let root = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let mut src = String::from("/// (file name, text) of every lesson, in file-name order.\n");
    src.push_str("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for n in &names {
        println!("cargo:rerun-if-changed=lessons/{n}");
        src.push_str(&format!(
            "    ({n:?}, include_str!({:?})),\n",
            Path::new(&root).join("lessons").join(n)
        ));
    }
    src.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("lessons.rs");
    fs::write(out, src).unwrap_or_else(|e| panic!("cannot write lessons.rs: {e}"));
}
