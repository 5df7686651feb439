//! Tables fit the terminal: `COLUMNS=80` gives lines of at most 80 columns; piped output with
//! no COLUMNS keeps the full tables.

mod common;

use common::wirelab;

fn run(columns: Option<&str>, args: &[&str]) -> (String, Option<i32>) {
    let mut c = wirelab();
    c.env_remove("COLUMNS").args(args);
    if let Some(w) = columns {
        c.env("COLUMNS", w);
    }
    let out = c.output().expect("run wirelab");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn layers_fits_80_columns_and_is_whole_when_piped() {
    let (narrow, code) = run(Some("80"), &["layers"]);
    assert_eq!(code, Some(0));
    assert!(widest(&narrow) <= 80, "{narrow}");
    for word in [
        "application",
        "transport",
        "ws connect",
        "capture",
        "segment",
    ] {
        assert!(
            narrow.contains(word),
            "{word} lost at 80 columns:\n{narrow}"
        );
    }
    let (full, _) = run(None, &["layers"]);
    assert!(
        widest(&full) > 100,
        "piped output should keep the full table:\n{full}"
    );
    assert!(full.contains("wirelab ws connect"));
}

#[test]
fn compare_fits_80_columns_and_is_whole_when_piped() {
    let args = ["compare", "--count", "200", "--loss", "0.1"];
    let (narrow, code) = run(Some("80"), &args);
    assert_eq!(code, Some(0), "{narrow}");
    assert!(widest(&narrow) <= 80, "{narrow}");
    for word in ["reliable-udp", "delivered", "retrans", "duplicated"] {
        assert!(
            narrow.contains(word),
            "{word} lost at 80 columns:\n{narrow}"
        );
    }
    let (full, _) = run(None, &args);
    assert!(widest(&full) > 100, "{full}");
    assert!(
        full.contains("out_of_order") && full.contains("goodput Mbit/s"),
        "{full}"
    );
}

/// On a terminal (a pseudo-terminal from `script`), a long compare shows how many messages
/// reliable UDP has delivered so far; piped, it shows none of that.
#[test]
fn compare_shows_progress_on_a_terminal_only() {
    common::require("script");
    let bin = env!("CARGO_BIN_EXE_wirelab");
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{bin} compare --count 3000 --loss 0.3 --rate 3000"),
            "/dev/null",
        ])
        .output()
        .expect("script");
    assert!(out.status.success());
    let tty = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<u64> = tty
        .split("running reliable-udp: ")
        .skip(1)
        .filter_map(|s| s.split(' ').next()?.parse().ok())
        .collect();
    assert!(
        counts.iter().any(|&n| n > 0 && n < 3000),
        "no progress shown: {counts:?}"
    );
    assert!(tty.contains("of 3000 messages delivered so far"));
    let (piped, _) = run(None, &["compare", "--count", "300", "--loss", "0.3"]);
    assert!(!piped.contains("delivered so far"), "{piped}");
}
