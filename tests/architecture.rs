//! The layout docs/architecture.md promises: inside `src/hub/` no module imports its own
//! importer (no circle, a `mod.rs` included), and the hub prints nothing itself (it imports
//! neither `render` nor `cmd`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path ("hub::inbox::redis") of every file under src/hub.
fn modules(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            modules(&p, &format!("{prefix}::{name}"), out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let m = if name == "mod" {
                prefix.to_string()
            } else {
                format!("{prefix}::{name}")
            };
            out.insert(m, std::fs::read_to_string(&p).unwrap());
        }
    }
}

/// The longest module that `path` (segments) names.
fn resolve(path: &[&str], known: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| known.contains_key(m))
}

/// Modules one file refers to through `super::` and `crate::hub::` paths.
fn imports(module: &str, text: &str, known: &BTreeMap<String, String>) -> BTreeSet<String> {
    let parent: Vec<&str> = {
        let mut v: Vec<&str> = module.split("::").collect();
        v.pop();
        v
    };
    let mut out = BTreeSet::new();
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    for (start, base) in [("super::", parent.clone()), ("crate::hub::", vec!["hub"])] {
        for (i, _) in code.match_indices(start) {
            if i > 0 && code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[i + start.len()..];
            let heads: Vec<String> = if let Some(inner) = rest.strip_prefix('{') {
                let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                inner.split(',').map(|s| s.trim().to_string()).collect()
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(rest.len());
                vec![rest[..end].to_string()]
            };
            for h in heads {
                let mut segs = base.clone();
                segs.extend(h.split("::").filter(|s| !s.is_empty()));
                if let Some(m) = resolve(&segs, known) {
                    if m != module {
                        out.insert(m);
                    }
                }
            }
        }
    }
    out
}

#[test]
fn hub_modules_import_in_one_direction_and_never_print() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/hub");
    let mut known = BTreeMap::new();
    modules(&root, "hub", &mut known);
    assert!(known.contains_key("hub::route") && known.contains_key("hub::inbox::sqlite"));
    let graph: BTreeMap<String, BTreeSet<String>> = known
        .iter()
        .map(|(m, t)| (m.clone(), imports(m, t, &known)))
        .collect();
    for (m, text) in &known {
        for bad in ["crate::render", "crate::cmd", "println!", "eprintln!"] {
            assert!(
                !text.contains(bad),
                "{m} uses {bad}: printing lives in render/"
            );
        }
    }
    // Depth-first search for a circle.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == m) {
            panic!("import circle: {} -> {m}", path[i..].join(" -> "));
        }
        path.push(m.to_string());
        for d in graph.get(m).into_iter().flatten() {
            visit(d, graph, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
    // The edges the drawing shows, so that the parser above is known to see imports.
    assert!(graph["hub::route"].contains("hub::inbox"), "{graph:#?}");
    assert!(
        graph["hub::inbox::redis"].contains("hub::inbox"),
        "{graph:#?}"
    );
    assert!(
        !graph["hub::inbox"].contains("hub::inbox::redis"),
        "{graph:#?}"
    );
}
