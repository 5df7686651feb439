//! The captures the lessons read, built into the binary so a lesson runs from any directory
//! and from an installed wirelab. The runner writes them to `fixtures/` in its scratch
//! directory; `lesson check` reads them from here.

use std::path::Path;

/// (file name, bytes) of every bundled capture.
pub static FIXTURES: &[(&str, &[u8])] = &[
    ("http.pcap", include_bytes!("../../fixtures/http.pcap")),
    ("dns.pcap", include_bytes!("../../fixtures/dns.pcap")),
    (
        "arp-vlan.pcap",
        include_bytes!("../../fixtures/arp-vlan.pcap"),
    ),
    (
        "websocket.pcap",
        include_bytes!("../../fixtures/websocket.pcap"),
    ),
    (
        "socketio.pcap",
        include_bytes!("../../fixtures/socketio.pcap"),
    ),
];

/// The bytes of the bundled capture `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Writes every bundled capture to `dir/fixtures/`.
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    let d = dir.join("fixtures");
    std::fs::create_dir_all(&d)?;
    for (name, bytes) in FIXTURES {
        std::fs::write(d.join(name), bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_fixture_a_lesson_names_is_bundled() {
        for l in super::super::all().unwrap() {
            for s in l.steps() {
                for a in &s.args {
                    if let Some(name) = a.strip_prefix("fixtures/") {
                        assert!(super::get(name).is_some(), "{}: {a} is not bundled", l.id);
                    }
                }
            }
        }
    }
}
