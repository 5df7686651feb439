//! Help that is right: every `--help` names only flags that exist.

mod common;

use std::collections::BTreeMap;

use common::wirelab;

/// Every command path ("", "tcp", "tcp send", ...) with its long flags (and their aliases).
fn commands() -> BTreeMap<String, Vec<String>> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut BTreeMap<String, Vec<String>>) {
        let mut flags: Vec<String> = cmd
            .get_arguments()
            .flat_map(|a| {
                a.get_long_and_visible_aliases()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| format!("--{l}"))
            })
            .collect();
        flags.extend(["--help".to_string(), "--version".to_string()]);
        out.insert(path.to_string(), flags);
        for sub in cmd.get_subcommands() {
            let p = if path.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{path} {}", sub.get_name())
            };
            walk(sub, &p, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&wirelab::cli::command(), "", &mut out);
    out
}

/// `--word` tokens in a line.
fn flags_in(line: &str) -> Vec<String> {
    let mut v = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        let starts = b[i] == b'-'
            && b[i + 1] == b'-'
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric() && b[i - 1] != b'-');
        if starts && b[i + 2].is_ascii_lowercase() {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
                j += 1;
            }
            v.push(line[i..j].trim_end_matches('-').to_string());
            i = j;
        } else {
            i += 1;
        }
    }
    v
}

#[test]
fn every_help_names_only_flags_that_exist() {
    let cmds = commands();
    assert!(cmds.len() > 20, "{cmds:?}");
    let mut bad = Vec::new();
    for (path, flags) in &cmds {
        let mut args: Vec<&str> = path.split_whitespace().collect();
        args.push("--help");
        let out = wirelab().args(&args).output().expect("run --help");
        assert!(out.status.success(), "wirelab {path} --help failed");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            for f in flags_in(line) {
                if flags.contains(&f) {
                    continue;
                }
                // A line may name another command's flag ("hub listen --queue NAME"), or be
                // a subcommand's entry in this command's list ("  emit    Connect, ...").
                let first = line.split_whitespace().next().unwrap_or_default();
                let child = if path.is_empty() {
                    first.to_string()
                } else {
                    format!("{path} {first}")
                };
                let elsewhere = cmds
                    .iter()
                    .filter(|(p, _)| {
                        !p.is_empty() && p.contains(' ') && line.contains(p.as_str())
                            || **p == child
                    })
                    .any(|(_, fl)| fl.contains(&f));
                if !elsewhere {
                    bad.push(format!(
                        "`wirelab {path} --help` names {f}, which does not exist: {line:?}"
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The old mistakes, pinned: clap ate `{n}`, and the emit targets named `--client`.
#[test]
fn hub_emit_help_shows_the_placeholder_and_the_real_flag() {
    let out = wirelab().args(["hub", "emit", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("{ n }"), "{text}");
    assert!(text.contains("--to-client ID"), "{text}");
    assert!(!text.contains("--client ID"), "{text}");
}

#[test]
fn zero_where_at_least_one_is_needed_says_so() {
    for args in [
        &["tcp", "serve", "--max-conns", "0"][..],
        &["udp", "send", "9", "--count", "0"][..],
        &["compare", "--count", "0"][..],
    ] {
        let out = wirelab().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("0 is not allowed: give at least 1"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("18446744073709551615"), "{err}");
    }
}

#[test]
fn flag_tokens() {
    assert_eq!(
        flags_in("use --to-client ID, not --client; x--y and -- alone are not flags"),
        vec!["--to-client", "--client"]
    );
}
