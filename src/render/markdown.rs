//! Lesson prose for the terminal: markdown parsed by pulldown-cmark, drawn with headings,
//! bold, inline code, code blocks, lists and tables. Colour (ANSI) only when asked for (a
//! terminal without `NO_COLOR`); otherwise plain text with no markup left in it.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Should lesson text use colour: stdout is a terminal and `NO_COLOR` is not set.
pub fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

const BOLD: &str = "\x1b[1m";
const CODE: &str = "\x1b[36m";
const HEAD: &str = "\x1b[1;4m";
const RESET: &str = "\x1b[0m";

/// Renders markdown `text` for the terminal.
pub fn render(text: &str, colour: bool) -> String {
    let mut out = String::new();
    let mut line = String::new();
    let mut list_depth = 0usize;
    let mut in_code = false;
    let mut heading: Option<HeadingLevel> = None;
    let mut table: Option<Vec<Vec<String>>> = None;
    let mut cell = String::new();
    let style = |s: &str| if colour { s.to_string() } else { String::new() };
    let flush = |out: &mut String, line: &mut String| {
        if !line.is_empty() {
            wrap(out, line.trim_end(), WIDTH);
            line.clear();
        }
    };
    for ev in Parser::new_ext(text, Options::ENABLE_TABLES) {
        let target = if table.is_some() {
            &mut cell
        } else {
            &mut line
        };
        match ev {
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&mut out, &mut line);
                heading = Some(level);
                line.push_str(&style(HEAD));
            }
            Event::End(TagEnd::Heading(_)) => {
                line.push_str(&style(RESET));
                let plain_len = strip_ansi(&line).chars().count();
                flush(&mut out, &mut line);
                if !colour {
                    let ch = if heading == Some(HeadingLevel::H1) {
                        '='
                    } else {
                        '-'
                    };
                    out.push_str(&ch.to_string().repeat(plain_len));
                    out.push('\n');
                }
                out.push('\n');
                heading = None;
            }
            Event::Start(Tag::Paragraph) => {}
            Event::End(TagEnd::Paragraph) => {
                flush(&mut out, &mut line);
                if list_depth == 0 {
                    out.push('\n');
                }
            }
            Event::Start(Tag::Strong) => target.push_str(&style(BOLD)),
            Event::End(TagEnd::Strong) => target.push_str(&style(RESET)),
            Event::Start(Tag::Emphasis) | Event::End(TagEnd::Emphasis) => {}
            Event::Code(c) => {
                target.push_str(&style(CODE));
                target.push_str(&c);
                target.push_str(&style(RESET));
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                flush(&mut out, &mut line);
                in_code = true;
                if let CodeBlockKind::Fenced(_) = kind {
                    out.push_str(&style(CODE));
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                out.push_str(&style(RESET));
                out.push('\n');
            }
            Event::Start(Tag::List(_)) => {
                flush(&mut out, &mut line);
                list_depth += 1;
            }
            Event::End(TagEnd::List(_)) => {
                list_depth = list_depth.saturating_sub(1);
                if list_depth == 0 {
                    out.push('\n');
                }
            }
            Event::Start(Tag::Item) => {
                flush(&mut out, &mut line);
                line.push_str(&"  ".repeat(list_depth.saturating_sub(1)));
                line.push_str("• ");
            }
            Event::End(TagEnd::Item) => flush(&mut out, &mut line),
            Event::Start(Tag::Table(_)) => {
                flush(&mut out, &mut line);
                table = Some(Vec::new());
            }
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => {
                if let Some(t) = &mut table {
                    t.push(Vec::new());
                }
            }
            Event::End(TagEnd::TableCell) => {
                if let Some(row) = table.as_mut().and_then(|t| t.last_mut()) {
                    row.push(std::mem::take(&mut cell));
                }
            }
            Event::End(TagEnd::Table) => {
                if let Some(rows) = table.take() {
                    let mut it = rows.into_iter();
                    let head = it.next().unwrap_or_default();
                    let refs: Vec<&str> = head.iter().map(String::as_str).collect();
                    let mut t = super::table(&refs);
                    for r in it {
                        t.add_row(r);
                    }
                    out.push_str(&t.to_string());
                    out.push_str("\n\n");
                }
            }
            Event::Text(t) if in_code => {
                for l in t.lines() {
                    out.push_str("    ");
                    out.push_str(l);
                    out.push('\n');
                }
            }
            Event::Text(t) => target.push_str(&t),
            Event::SoftBreak => target.push(' '),
            Event::HardBreak => flush(&mut out, &mut line),
            Event::Rule => {
                flush(&mut out, &mut line);
                out.push_str(&"─".repeat(40));
                out.push_str("\n\n");
            }
            Event::Html(h) | Event::InlineHtml(h) => target.push_str(&h),
            _ => {}
        }
    }
    flush(&mut out, &mut line);
    out
}

/// Prose lines are wrapped to this many columns.
const WIDTH: usize = 96;

/// Appends `text` to `out` wrapped at `width` visible columns; continuation lines are
/// indented like the first line's leading spaces and bullet.
fn wrap(out: &mut String, text: &str, width: usize) {
    let lead = text.len() - text.trim_start().len();
    let bullet = text.trim_start().starts_with("• ");
    let indent = " ".repeat(lead + if bullet { 2 } else { 0 });
    let mut col = 0;
    let mut first = true;
    for word in text.split(' ') {
        let w = strip_ansi(word).chars().count();
        if !first && col + 1 + w > width && col > indent.len() {
            out.push('\n');
            out.push_str(&indent);
            col = indent.len();
        } else if !first {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
        first = false;
    }
    out.push('\n');
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\x1b') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = "# Title\n\nSome **bold** and `code`.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```text\nx -> y\n```\n";

    #[test]
    fn plain_text_has_no_markup_left() {
        let s = render(MD, false);
        for markup in ["**", "`", "```", "|---|", "# "] {
            assert!(!s.contains(markup), "{markup:?} left in:\n{s}");
        }
        assert!(s.contains("Title\n=====\n"), "{s}");
        assert!(s.contains("Some bold and code."), "{s}");
        assert!(s.contains("• one\n• two"), "{s}");
        assert!(s.contains("    x -> y"), "{s}");
        assert!(
            s.contains("| a   b |") || s.contains(" a ") && s.contains(" 1 "),
            "{s}"
        );
        assert!(!s.contains('\x1b'));
    }

    #[test]
    fn prose_wraps_at_the_width() {
        let long = "word ".repeat(60);
        let s = render(&format!("- {long}\n"), false);
        assert!(s.lines().count() > 2, "{s}");
        assert!(s.lines().all(|l| l.chars().count() <= WIDTH), "{s}");
        assert!(s.lines().nth(1).unwrap().starts_with("  word"), "{s}");
    }

    #[test]
    fn colour_uses_ansi_styles() {
        let s = render(MD, true);
        assert!(s.contains("\x1b[1mbold\x1b[0m"), "{s:?}");
        assert!(s.contains("\x1b[36mcode\x1b[0m"), "{s:?}");
    }
}
