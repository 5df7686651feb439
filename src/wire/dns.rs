//! DNS messages (RFC 1035 §4): header, questions and answer records. Written by hand rather
//! than with pnet's DNS module, which panics on valid opcodes ≥ 4 and on non-UTF-8 names.
//!
//! ```text
//! | ID(16) | QR|Opcode(4)|AA|TC|RD|RA|Z|AD|CD|RCODE(4) | QDCOUNT | ANCOUNT | NSCOUNT | ARCOUNT |
//! | questions: name, type(16), class(16) | answers: name, type, class, TTL(32), RDLENGTH, RDATA |
//! ```
//!
//! Names may use compression pointers (§4.1.4); a pointer must point to an earlier offset than
//! the one it sits at, so a loop is impossible.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::header_error::{array, be16, be32, byte, need, HeaderError};

pub const HEADER_LEN: usize = 12;
/// At most this many questions or answers are decoded (the counts are still reported).
pub const MAX_RECORDS: usize = 64;

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// Where the name starts and ends in the message (the type follows it).
    pub name_at: (usize, usize),
}

/// Decoded record data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// CNAME, NS, PTR: a domain name.
    Name(String),
    Mx(u16, String),
    Txt(String),
    /// Anything else: its length.
    Other(usize),
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    /// Seconds a resolver may cache the record.
    pub ttl: u32,
    pub data: RData,
    /// Where the name starts and ends in the message (type, class, TTL and length follow
    /// it, then the data to `data_end`).
    pub name_at: (usize, usize),
    pub data_end: usize,
}

/// A parsed DNS message. When a question or record is cut or malformed, what came before it
/// is kept and `problem` says what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Transaction ID: matches a response to its query.
    pub id: u16,
    /// The 16 flag bits, as Wireshark's `dns.flags`.
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub problem: Option<HeaderError>,
    /// Over TCP: the two-byte length that comes before the message (RFC 1035 §4.2.2),
    /// which the parser's caller read; offsets above are within the message after it.
    pub tcp_length: Option<u16>,
}

impl Message {
    /// Response (1) or query (0).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// Opcode: 0 standard query, 1 inverse, 2 status, 4 notify, 5 update.
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    /// Response code: 0 no error, 3 name does not exist, …
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
    /// Recursion desired.
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }

    pub fn parse(b: &[u8]) -> Result<Message, HeaderError> {
        need(b, HEADER_LEN, "dns", "header")?;
        let mut m = Message {
            id: be16(b, 0),
            flags: be16(b, 2),
            qdcount: be16(b, 4),
            ancount: be16(b, 6),
            nscount: be16(b, 8),
            arcount: be16(b, 10),
            questions: Vec::new(),
            answers: Vec::new(),
            problem: None,
            tcp_length: None,
        };
        let mut at = HEADER_LEN;
        for _ in 0..usize::from(m.qdcount).min(MAX_RECORDS) {
            match read_question(b, at) {
                Ok((q, next)) => {
                    m.questions.push(q);
                    at = next;
                }
                Err(e) => {
                    m.problem = Some(e);
                    return Ok(m);
                }
            }
        }
        for _ in 0..usize::from(m.ancount).min(MAX_RECORDS) {
            match read_record(b, at) {
                Ok((r, next)) => {
                    m.answers.push(r);
                    at = next;
                }
                Err(e) => {
                    m.problem = Some(e);
                    return Ok(m);
                }
            }
        }
        Ok(m)
    }
}

fn read_question(b: &[u8], start: usize) -> Result<(Question, usize), HeaderError> {
    let (name, at) = read_name(b, start)?;
    need(b, at + 4, "dns", "question type and class")?;
    Ok((
        Question {
            name,
            qtype: be16(b, at),
            qclass: be16(b, at + 2),
            name_at: (start, at),
        },
        at + 4,
    ))
}

fn read_record(b: &[u8], name_start: usize) -> Result<(Record, usize), HeaderError> {
    let (name, at) = read_name(b, name_start)?;
    need(b, at + 10, "dns", "record type, class, TTL and length")?;
    let (rtype, class, ttl) = (be16(b, at), be16(b, at + 2), be32(b, at + 4));
    let rdlen = usize::from(be16(b, at + 8));
    let start = at + 10;
    let end = start + rdlen;
    need(b, end, "dns", "record data")?;
    let data = match (rtype, rdlen) {
        (1, 4) => RData::A(Ipv4Addr::from(array::<4>(b, start))),
        (28, 16) => RData::Aaaa(Ipv6Addr::from(array::<16>(b, start))),
        (2 | 5 | 12, _) => RData::Name(read_name(b, start)?.0),
        (15, n) if n >= 3 => RData::Mx(be16(b, start), read_name(b, start + 2)?.0),
        (16, _) => {
            let mut s = String::new();
            let mut i = start;
            while i < end {
                let l = usize::from(byte(b, i));
                let chunk = b.get(i + 1..(i + 1 + l).min(end)).unwrap_or(&[]);
                push_text(&mut s, chunk);
                i += 1 + l;
            }
            RData::Txt(s)
        }
        _ => RData::Other(rdlen),
    };
    Ok((
        Record {
            name,
            rtype,
            class,
            ttl,
            data,
            name_at: (name_start, at),
            data_end: end,
        },
        end,
    ))
}

/// Appends bytes as text: printable ASCII as is, anything else as `\DDD` (RFC 1035 §5.1).
fn push_text(s: &mut String, bytes: &[u8]) {
    for &c in bytes {
        if c.is_ascii_graphic() || c == b' ' {
            s.push(c as char);
        } else {
            let _ = write!(s, "\\{c:03}");
        }
    }
}

/// Reads a possibly compressed name at `at`; returns it and the offset just after it (after
/// the first pointer, if any). The root name is "<Root>", as Wireshark shows it.
pub fn read_name(b: &[u8], mut at: usize) -> Result<(String, usize), HeaderError> {
    let mut name = String::new();
    let mut after: Option<usize> = None;
    let mut total = 0usize;
    loop {
        let len = match b.get(at) {
            Some(&l) => l,
            None => {
                return Err(HeaderError::Truncated {
                    layer: "dns",
                    what: "name",
                    needed: at + 1,
                    got: b.len(),
                })
            }
        };
        match len & 0xc0 {
            0x00 if len == 0 => {
                let end = after.unwrap_or(at + 1);
                if name.is_empty() {
                    name.push_str("<Root>");
                }
                return Ok((name, end));
            }
            0x00 => {
                let l = usize::from(len);
                need(b, at + 1 + l, "dns", "label")?;
                total += l + 1;
                if total > 255 {
                    return Err(HeaderError::Malformed {
                        layer: "dns",
                        field: "name length",
                        value: total as u64,
                        reason: "a name is at most 255 bytes",
                    });
                }
                if !name.is_empty() {
                    name.push('.');
                }
                push_text(&mut name, b.get(at + 1..at + 1 + l).unwrap_or(&[]));
                at += 1 + l;
            }
            0xc0 => {
                need(b, at + 2, "dns", "compression pointer")?;
                let target = usize::from(be16(b, at) & 0x3fff);
                if target >= at {
                    return Err(HeaderError::Malformed {
                        layer: "dns",
                        field: "compression pointer",
                        value: target as u64,
                        reason: "a pointer must point to an earlier offset",
                    });
                }
                after.get_or_insert(at + 2);
                at = target;
            }
            _ => {
                return Err(HeaderError::Malformed {
                    layer: "dns",
                    field: "label type",
                    value: u64::from(len >> 6),
                    reason: "label types 01 and 10 are reserved",
                })
            }
        }
    }
}

/// The name of a record type.
pub fn type_name(t: u16) -> &'static str {
    match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        48 => "DNSKEY",
        65 => "HTTPS",
        255 => "ANY",
        _ => "unknown",
    }
}

/// The meaning of a response code.
pub fn rcode_name(r: u8) -> &'static str {
    match r {
        0 => "no error",
        1 => "format error",
        2 => "server failure",
        3 => "no such name",
        4 => "not implemented",
        5 => "refused",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real response (fixtures/dns.pcap frame 2) from the loopback responder: example.test A 192.0.2.7, the
    /// answer's name compressed to a pointer at offset 12.
    static RESPONSE: [u8; 46] = [
        0x46, 0xf0, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x07, b'e', b'x',
        b'a', b'm', b'p', b'l', b'e', 0x04, b't', b'e', b's', b't', 0x00, 0x00, 0x01, 0x00, 0x01,
        0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 192, 0, 2, 7,
    ];

    #[test]
    fn response_with_pointer() {
        let m = Message::parse(&RESPONSE).unwrap();
        assert_eq!((m.id, m.flags), (0x46f0, 0x8580));
        assert!(m.is_response() && m.rd());
        assert_eq!((m.opcode(), m.rcode()), (0, 0));
        assert_eq!(m.questions[0].name, "example.test");
        assert_eq!(m.questions[0].qtype, 1);
        assert_eq!(m.answers[0].name, "example.test");
        assert_eq!(m.answers[0].ttl, 60);
        assert_eq!(m.answers[0].data, RData::A(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(m.problem, None);
        // Where each part is: the question's name is 14 bytes at 12 (7example4test0), the
        // answer's name the 2-byte pointer after the question's type and class, its data the
        // last 4 bytes.
        assert_eq!(m.questions[0].name_at, (12, 26));
        assert_eq!(m.answers[0].name_at, (30, 32));
        assert_eq!(m.answers[0].data_end, RESPONSE.len());
    }

    #[test]
    fn truncated_answer_keeps_question() {
        let m = Message::parse(&RESPONSE[..40]).unwrap();
        assert_eq!(m.questions.len(), 1);
        assert!(m.answers.is_empty());
        assert!(m.problem.unwrap().is_truncated());
        assert!(Message::parse(&RESPONSE[..11]).is_err());
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_rejected() {
        let mut b = RESPONSE;
        b[31] = 30; // pointer at 30 pointing at itself
        let m = Message::parse(&b).unwrap();
        assert!(matches!(
            m.problem,
            Some(HeaderError::Malformed {
                field: "compression pointer",
                ..
            })
        ));
        let mut b = RESPONSE;
        b[12] = 0x80; // reserved label type
        assert!(Message::parse(&b).unwrap().problem.is_some());
    }

    #[test]
    fn odd_opcodes_and_binary_labels_do_not_panic() {
        let mut b = RESPONSE;
        b[2] = 0xff; // opcode 15
        b[3] = 0x0f; // rcode 15
        b[13] = 0xff; // non-UTF-8 byte in a label
        let m = Message::parse(&b).unwrap();
        assert_eq!((m.opcode(), m.rcode()), (15, 15));
        assert_eq!(m.questions[0].name, "\\255xample.test");
    }
}
