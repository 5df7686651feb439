//! Errors that name the cause, and guesses that say they are guesses.

mod common;

use common::wirelab;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = wirelab().args(args).output().expect("run wirelab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const ICMP_V4: &str =
    " 45 00 00 1c 00 01 00 00 40 01 f7 e2 7f 00 00 01 7f 00 00 01 08 00 f7 ff 00 00 00 00";

#[test]
fn dissect_hex_guesses_the_link_from_the_first_nibble_and_says_so() {
    let (code, out, err) = run(&["dissect", "--hex", ICMP_V4]);
    assert_eq!(code, 0);
    assert!(
        out.contains("IP 127.0.0.1 > 127.0.0.1: ICMP echo request"),
        "{out}"
    );
    assert!(
        err.contains("guessed --link ipv4: the first byte 0x45"),
        "{err}"
    );

    // IPv6: version 6 in the first nibble.
    let v6 = format!(
        "60 00 00 00 00 00 3b 40 {} {}",
        "00 ".repeat(15) + "01",
        "00 ".repeat(15) + "01"
    );
    let (code, out, err) = run(&["dissect", "--hex", &v6]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("::1"), "{out}");
    assert!(err.contains("guessed --link ipv6"), "{err}");

    // An Ethernet frame (first nibble 0) stays Ethernet, and that is said too.
    let eth = format!("00 11 22 33 44 55 66 77 88 99 aa bb 08 00{ICMP_V4}");
    let (code, out, err) = run(&["dissect", "--hex", &eth, "--format", "json"]);
    assert_eq!(code, 0);
    assert!(out.contains(r#""name":"eth""#), "{out}");
    assert!(
        err.contains("guessed --link ethernet: the first nibble 0"),
        "{err}"
    );

    // With --link there is no guess to report.
    let (_, _, err) = run(&["dissect", "--hex", ICMP_V4, "--link", "ipv4"]);
    assert!(!err.contains("guessed"), "{err}");
}

#[test]
fn dissect_a_directory_is_bad_input_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, _, err) = run(&["dissect", d]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.matches("is a directory").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_ten_byte_file_is_a_cut_header_not_a_cut_record() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/http.pcap")).unwrap();
    let p = dir.path().join("ten.pcap");
    std::fs::write(&p, &pcap[..10]).unwrap();
    let (code, _, err) = run(&["dissect", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the pcap file header is cut at 10 of 24 bytes"),
        "{err}"
    );
    assert!(!err.contains("offset 0"), "{err}");
    // At the edge: exactly the 24-byte header is a valid, empty capture.
    std::fs::write(&p, &pcap[..24]).unwrap();
    let (code, out, err) = run(&["dissect", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out}");
}
