//! Lessons: markdown files in `lessons/`, embedded in the binary at build time.
//!
//! A lesson file starts with a small front matter and holds runnable steps in ```sh blocks:
//!
//! ````text
//! ---
//! id: tcp
//! title: TCP, a reliable byte stream
//! layers: 4
//! ---
//! Some prose.
//!
//! ```sh
//! wirelab tcp serve --listen 127.0.0.1:7007 --max-conns 1 &
//! wirelab tcp send 127.0.0.1:7007 hello
//! ```
//! ````
//!
//! Every line of an `sh` block is a `wirelab ...` command. A line ending in `&` runs in the
//! background. With `--listen ADDR` it is a server: the runner starts it on a free port of the
//! same host instead, waits until it prints `listening on ADDR`, and replaces ADDR in the later
//! steps with the real address; it runs until the lesson ends. Without `--listen` it is a
//! client that stays connected while the next steps run (a `hub listen` while another client
//! emits): the runner waits until it says it is ready (`ready:`, a WebSocket `101`, or
//! `capture`'s `capturing on`), and at
//! the end of the block waits for it to finish by itself (bounded). What background processes
//! print during a step is shown after the step, grouped and labelled, with its arrival time.
//! The runner prints each command exactly as it runs it, real addresses included. A `#`
//! comment line in a block is shown, not run. Lines of other fenced blocks (```text,
//! ```console) are shown only. Steps run in a scratch directory holding the bundled captures
//! in `fixtures/`.
//!
//! A block opened with ```` ```sh needs=redis-server ```` runs only where `redis-server` is
//! installed (the runner says it skipped the block otherwise). For that block the runner starts
//! a private `redis-server` on a free loopback port and puts its address wherever the steps say
//! `127.0.0.1:6379`; it stops that server when the lesson ends. A block opened with
//! ```` ```sh needs=capture ```` runs only where this process may open a packet socket (root or
//! `CAP_NET_RAW`); otherwise it is skipped with how to allow it. A server's port written as
//! `port 7007` (a capture filter) is replaced with the real port too. Two servers written with
//! one `--listen` address are refused before any step runs.

pub mod check;
pub mod fixtures;
pub mod run;

use thiserror::Error;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/lessons.rs"));
}

/// One command step of a lesson.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The arguments after `wirelab`.
    pub args: Vec<String>,
    /// Started in the background (a server), ended when the lesson ends.
    pub background: bool,
    /// The line as written in the lesson.
    pub line: String,
    /// A program the step's block needs (```` ```sh needs=PROGRAM ````); skipped without it.
    pub needs: Option<String>,
}

/// A piece of a lesson, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Prose (and non-runnable code blocks), shown as written.
    Text(String),
    /// A runnable ```sh block.
    Steps(Vec<Step>),
}

#[derive(Debug, Clone)]
pub struct Lesson {
    pub id: String,
    pub title: String,
    /// OSI layers the lesson is about, e.g. `[4]`.
    pub layers: Vec<u8>,
    pub file: String,
    pub blocks: Vec<Block>,
    /// The whole file as written.
    pub source: String,
}

impl Lesson {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.blocks.iter().flat_map(|b| match b {
            Block::Steps(s) => s.as_slice(),
            Block::Text(_) => &[],
        })
    }

    /// Two background servers written with the same `--listen` address would get one port
    /// picked for both and every later step would name it ambiguously: refused, naming the
    /// lesson and both steps (numbered as "step N of M" counts them).
    pub fn check_ports(&self) -> Result<(), String> {
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (n, step) in self.steps().enumerate() {
            if !step.background {
                continue;
            }
            let Some((_, addr)) = listen_addr(&step.args) else {
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(a, _)| *a == addr) {
                return Err(format!(
                    "lesson {} ({}): step {} (`{}`) listens on {addr}, which step {} already \
                     uses; give each server its own port",
                    self.id,
                    self.file,
                    n + 1,
                    step.line,
                    first
                ));
            }
            seen.push((addr, n + 1));
        }
        Ok(())
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LessonError {
    #[error("{file}: no front matter (the file must start with a line '---')")]
    NoFrontMatter { file: String },
    #[error("{file}: front matter has no '{key}:' line")]
    MissingKey { file: String, key: &'static str },
    #[error("{file}: bad layers '{value}': expected OSI layer numbers 1-7 separated by commas")]
    BadLayers { file: String, value: String },
    #[error("{file} line {line}: a step must start with 'wirelab': {text}")]
    NotWirelab {
        file: String,
        line: usize,
        text: String,
    },
    #[error("{file} line {line}: cannot split into words: {text}")]
    BadQuoting {
        file: String,
        line: usize,
        text: String,
    },
    #[error("{file}: a ```sh block is not closed")]
    UnclosedBlock { file: String },
}

/// Parses one lesson file.
pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
    let mut lines = text.lines().enumerate();
    let no_fm = || LessonError::NoFrontMatter {
        file: file.to_string(),
    };
    match lines.next() {
        Some((_, l)) if l.trim() == "---" => {}
        _ => return Err(no_fm()),
    }
    let (mut id, mut title, mut layers) = (None, None, None);
    let mut closed = false;
    for (_, l) in lines.by_ref() {
        if l.trim() == "---" {
            closed = true;
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let v = v.trim().to_string();
            match k.trim() {
                "id" => id = Some(v),
                "title" => title = Some(v),
                "layers" => layers = Some(v),
                _ => {}
            }
        }
    }
    if !closed {
        return Err(no_fm());
    }
    let missing = |key| LessonError::MissingKey {
        file: file.to_string(),
        key,
    };
    let id = id.ok_or_else(|| missing("id"))?;
    let title = title.ok_or_else(|| missing("title"))?;
    let layers_text = layers.ok_or_else(|| missing("layers"))?;
    let layers = parse_layers(&layers_text).ok_or_else(|| LessonError::BadLayers {
        file: file.to_string(),
        value: layers_text.clone(),
    })?;

    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut steps: Option<Vec<Step>> = None;
    let mut needs: Option<String> = None;
    for (i, l) in lines {
        let lineno = i + 1;
        if let Some(ref mut s) = steps {
            if l.trim_start().starts_with("```") {
                blocks.push(Block::Steps(std::mem::take(s)));
                steps = None;
            } else {
                let t = l.trim();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                let mut step = parse_step(file, lineno, t)?;
                step.needs = needs.clone();
                s.push(step);
            }
        } else if let Some(n) = sh_fence(l) {
            needs = n;
            if !prose.trim().is_empty() {
                blocks.push(Block::Text(std::mem::take(&mut prose)));
            }
            prose.clear();
            steps = Some(Vec::new());
        } else {
            prose.push_str(l);
            prose.push('\n');
        }
    }
    if steps.is_some() {
        return Err(LessonError::UnclosedBlock {
            file: file.to_string(),
        });
    }
    if !prose.trim().is_empty() {
        blocks.push(Block::Text(prose));
    }
    Ok(Lesson {
        id,
        title,
        layers,
        file: file.to_string(),
        blocks,
        source: text.to_string(),
    })
}

/// For a line opening a runnable block (```` ```sh ```` or ```` ```sh needs=PROGRAM ````), what
/// the block needs: `Some(None)` for nothing, `Some(Some(program))`; `None` for any other line.
fn sh_fence(line: &str) -> Option<Option<String>> {
    let rest = line.trim().strip_prefix("```sh")?;
    if rest.is_empty() {
        return Some(None);
    }
    let program = rest.trim().strip_prefix("needs=")?;
    (!program.is_empty()).then(|| Some(program.to_string()))
}

fn parse_layers(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    let v: Option<Vec<u8>> = s
        .split(',')
        .map(|p| p.trim().parse::<u8>().ok().filter(|n| (1..=7).contains(n)))
        .collect();
    v.filter(|v| !v.is_empty())
}

fn parse_step(file: &str, line: usize, text: &str) -> Result<Step, LessonError> {
    let (cmd, background) = match text.strip_suffix('&') {
        Some(c) => (c.trim_end(), true),
        None => (text, false),
    };
    let words = shell_words::split(cmd).map_err(|_| LessonError::BadQuoting {
        file: file.to_string(),
        line,
        text: text.to_string(),
    })?;
    if words.first().map(String::as_str) != Some("wirelab") {
        return Err(LessonError::NotWirelab {
            file: file.to_string(),
            line,
            text: text.to_string(),
        });
    }
    let args = words[1..].to_vec();
    Ok(Step {
        args,
        background,
        line: text.to_string(),
        needs: None,
    })
}

/// The value of `--listen ADDR` / `--listen=ADDR` / `-l ADDR`, and its index in `args`.
pub fn listen_addr(args: &[String]) -> Option<(usize, String)> {
    for (i, a) in args.iter().enumerate() {
        if a == "--listen" || a == "-l" {
            return args.get(i + 1).map(|v| (i + 1, v.clone()));
        }
        if let Some(v) = a.strip_prefix("--listen=") {
            return Some((i, v.to_string()));
        }
    }
    None
}

/// A lesson's text without its front matter.
pub fn body(source: &str) -> &str {
    let Some(rest) = source.strip_prefix("---\n") else {
        return source;
    };
    match rest.find("\n---\n") {
        Some(i) => rest[i + 5..].trim_start_matches('\n'),
        None => source,
    }
}

/// Every lesson: from the directory in `WIRELAB_LESSONS` if set (for lesson authors), else the
/// copies embedded at build time. Sorted by file name.
pub fn all() -> anyhow::Result<Vec<Lesson>> {
    let mut files: Vec<(String, String)> = match std::env::var_os("WIRELAB_LESSONS") {
        Some(dir) => {
            let mut v = Vec::new();
            for e in std::fs::read_dir(&dir)? {
                let p = e?.path();
                if p.extension().is_some_and(|x| x == "md") {
                    let name = p.file_name().unwrap_or_default().to_string_lossy().into();
                    v.push((name, std::fs::read_to_string(&p)?));
                }
            }
            v
        }
        None => embedded::EMBEDDED
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
    };
    files.sort();
    files
        .iter()
        .map(|(n, t)| parse(n, t).map_err(anyhow::Error::from))
        .collect()
}

/// The lesson with this id.
pub fn find(id: &str) -> anyhow::Result<Lesson> {
    let all = all()?;
    let ids: Vec<String> = all.iter().map(|l| l.id.clone()).collect();
    all.into_iter().find(|l| l.id == id).ok_or_else(|| {
        crate::exit::BadInput(format!(
            "no lesson '{id}'; the lessons are: {}",
            ids.join(", ")
        ))
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "---\nid: t\ntitle: A test\nlayers: 4, 7\n---\nIntro.\n\n```sh\n# a comment\nwirelab tcp serve --listen 127.0.0.1:7007 &\nwirelab tcp send 127.0.0.1:7007 'two words'\n```\n\nEnd.\n";

    #[test]
    fn parses_front_matter_and_steps() {
        let l = parse("t.md", SAMPLE).unwrap();
        assert_eq!((l.id.as_str(), l.title.as_str()), ("t", "A test"));
        assert_eq!(l.layers, vec![4, 7]);
        let steps: Vec<&Step> = l.steps().collect();
        assert_eq!(steps.len(), 2);
        assert!(steps[0].background);
        assert_eq!(
            steps[1].args,
            vec!["tcp", "send", "127.0.0.1:7007", "two words"]
        );
        assert_eq!(l.blocks.len(), 3);
    }

    #[test]
    fn two_servers_on_one_placeholder_port_are_refused() {
        let ok = parse("t.md", SAMPLE).unwrap();
        assert_eq!(ok.check_ports(), Ok(()));
        let text = "---\nid: dup\ntitle: D\nlayers: 4\n---\n```sh\nwirelab tcp serve --listen 127.0.0.1:7007 &\nwirelab tcp send 127.0.0.1:7007 a\n```\n```sh\nwirelab ws serve --listen=127.0.0.1:7007 &\n```\n";
        let e = parse("d.md", text).unwrap().check_ports().unwrap_err();
        assert!(e.contains("lesson dup"), "{e}");
        assert!(
            e.contains("step 3 (`wirelab ws serve --listen=127.0.0.1:7007 &`)"),
            "{e}"
        );
        assert!(e.contains("step 1 already"), "{e}");
        // Another port is fine.
        let other = text.replace("--listen=127.0.0.1:7007", "--listen=127.0.0.1:7008");
        assert_eq!(parse("d.md", &other).unwrap().check_ports(), Ok(()));
    }

    #[test]
    fn no_bundled_lesson_gives_two_servers_one_port() {
        for l in all().unwrap() {
            assert_eq!(l.check_ports(), Ok(()), "{}", l.id);
        }
    }

    #[test]
    fn blocks_may_need_a_program() {
        let text = "---\nid: r\ntitle: R\nlayers: 7\n---\n```sh needs=redis-server\nwirelab layers\n```\n```sh\nwirelab layers\n```\n";
        let l = parse("r.md", text).unwrap();
        let needs: Vec<Option<&str>> = l.steps().map(|s| s.needs.as_deref()).collect();
        assert_eq!(needs, vec![Some("redis-server"), None]);
        assert_eq!(sh_fence("```shell"), None);
        assert_eq!(sh_fence("```sh other"), None);
    }

    #[test]
    fn rejects_bad_lessons() {
        assert!(matches!(
            parse("x.md", "no front matter"),
            Err(LessonError::NoFrontMatter { .. })
        ));
        let no_title = "---\nid: a\nlayers: 1\n---\n";
        assert_eq!(
            parse("x.md", no_title).unwrap_err(),
            LessonError::MissingKey {
                file: "x.md".into(),
                key: "title"
            }
        );
        let bad_layer = "---\nid: a\ntitle: b\nlayers: 9\n---\n";
        assert!(matches!(
            parse("x.md", bad_layer),
            Err(LessonError::BadLayers { .. })
        ));
        let not_ours = "---\nid: a\ntitle: b\nlayers: 1\n---\n```sh\nrm -rf /\n```\n";
        assert!(matches!(
            parse("x.md", not_ours),
            Err(LessonError::NotWirelab { line: 7, .. })
        ));
        let open = "---\nid: a\ntitle: b\nlayers: 1\n---\n```sh\nwirelab layers\n";
        assert!(matches!(
            parse("x.md", open),
            Err(LessonError::UnclosedBlock { .. })
        ));
    }

    #[test]
    fn embedded_lessons_parse_and_have_unique_ids() {
        let all = all().unwrap();
        assert!(all.len() >= 4, "{} lessons", all.len());
        let mut ids: Vec<&str> = all.iter().map(|l| l.id.as_str()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate lesson ids");
        for l in &all {
            assert!(l.steps().count() > 0, "{} has no runnable step", l.id);
            assert!(
                l.source.contains("## Questions"),
                "{} does not end with the questions it answers",
                l.id
            );
        }
    }
}
