//! Lessons in the terminal: `lesson check`'s questions and verdicts.

use std::io::{self, Write};

use crate::lesson::check::Question;

/// A numbered question.
pub fn question<W: Write>(out: &mut W, n: usize, q: &Question) -> io::Result<()> {
    writeln!(out, "{n}. {}", q.text)
}

/// Right or wrong, why, and where the answer is to be read.
pub fn verdict<W: Write>(
    out: &mut W,
    n: usize,
    q: &Question,
    given: &str,
    right: bool,
) -> io::Result<()> {
    writeln!(out, "\n{n}. {}", q.text)?;
    let given = if given.is_empty() {
        "(no answer)"
    } else {
        given
    };
    if right {
        writeln!(out, "   right: {given}")?;
    } else {
        writeln!(out, "   wrong: {given}; the answer is {}", q.answer)?;
    }
    writeln!(out, "   why: {}", q.why)?;
    writeln!(out, "   field: {}", q.field)
}

/// One line of the answer key, as JSON.
pub fn key<W: Write>(out: &mut W, n: usize, q: &Question) -> io::Result<()> {
    super::json_line(
        out,
        &serde_json::json!({
            "type": "question",
            "n": n,
            "text": q.text,
            "answer": q.answer,
            "field": q.field,
            "why": q.why,
        }),
    )
}
