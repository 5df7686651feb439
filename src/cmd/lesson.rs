//! `wirelab lesson ...` and `wirelab tour`.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::cli::LessonCommand;
use crate::lesson::{self, run};
use crate::render;

#[derive(Serialize)]
struct Entry<'a> {
    id: &'a str,
    title: &'a str,
    layers: &'a [u8],
    steps: usize,
}

pub fn run(c: LessonCommand) -> Result<()> {
    let mut out = io::stdout().lock();
    match c {
        LessonCommand::List { json } => {
            let all = lesson::all()?;
            if json {
                let entries: Vec<Entry> = all
                    .iter()
                    .map(|l| Entry {
                        id: &l.id,
                        title: &l.title,
                        layers: &l.layers,
                        steps: l.steps().count(),
                    })
                    .collect();
                render::json_typed(
                    &mut out,
                    "lessons",
                    &serde_json::json!({ "lessons": entries }),
                )?;
            } else {
                let mut t = render::table(&["id", "title", "OSI layers", "steps"]);
                for l in &all {
                    let layers: Vec<String> = l.layers.iter().map(u8::to_string).collect();
                    t.add_row(vec![
                        l.id.clone(),
                        l.title.clone(),
                        layers.join(", "),
                        l.steps().count().to_string(),
                    ]);
                }
                writeln!(out, "{t}")?;
                writeln!(
                    out,
                    "\nRun one with `wirelab lesson run ID`, or all with `wirelab tour`."
                )?;
            }
        }
        LessonCommand::Show { id, raw } => {
            let l = lesson::find(&id)?;
            if raw {
                write!(out, "{}", lesson::body(&l.source))?;
            } else {
                let colour = render::markdown::colour_wanted();
                write!(
                    out,
                    "{}",
                    render::markdown::render(lesson::body(&l.source), colour)
                )?;
            }
        }
        LessonCommand::Check {
            id,
            answers,
            seed,
            capture,
            list,
            key,
        } => {
            let l = lesson::find(&id)?;
            return check(&l, answers, seed, capture, list, key);
        }
        LessonCommand::Run { id, no_pause } => {
            let l = lesson::find(&id)?;
            let opts = run::Options {
                pause: !no_pause,
                colour: render::markdown::colour_wanted(),
                json: false,
            };
            let outcome = run::run(&l, opts, &mut out)?;
            if let Some(f) = outcome.failure {
                bail!("lesson {id} failed at step {}: {f}", outcome.steps_run);
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Every lesson (or those in `only`), no prompts; a table of results at the end, or with
/// `json` one object a lesson and nothing else.
pub fn tour(only: &[String], json: bool) -> Result<()> {
    let mut lessons = lesson::all()?;
    if !only.is_empty() {
        let mut picked = Vec::new();
        for id in only {
            picked.push(lesson::find(id)?);
        }
        lessons = picked;
    }
    let mut out = io::stdout().lock();
    let mut results = Vec::new();
    let total = lessons.len();
    for (i, l) in lessons.iter().enumerate() {
        if !json {
            writeln!(
                out,
                "\n══════ lesson {}/{total}: {} ({}) ══════",
                i + 1,
                l.title,
                l.id
            )?;
        }
        let o = if json {
            let opts = run::Options {
                pause: false,
                colour: false,
                json: false,
            };
            let o = run::run(l, opts, &mut io::sink())?;
            let v = serde_json::json!({
                "type": "lesson",
                "id": l.id,
                "title": l.title,
                "result": if o.failure.is_none() { "ok" } else { "failed" },
                "failure": o.failure,
                "steps_run": o.steps_run,
                "steps_total": o.steps_total,
                "time_ms": (o.elapsed.as_secs_f64() * 1e6).round() / 1e3,
                "steps": o.steps,
            });
            render::json_line(&mut out, &v)?;
            o
        } else {
            let opts = run::Options {
                pause: false,
                colour: render::markdown::colour_wanted(),
                json: false,
            };
            run::run(l, opts, &mut out)?
        };
        results.push((l.id.clone(), o));
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, o)| o.failure.is_some())
        .map(|(id, _)| id.clone())
        .collect();
    if !json {
        let mut t = render::table(&["lesson", "steps run", "result", "time"]);
        for (id, o) in &results {
            let result = match &o.failure {
                None => "ok".to_string(),
                Some(f) => format!("FAILED: {f}"),
            };
            t.add_row(vec![
                id.clone(),
                o.steps_run.to_string(),
                result,
                secs(o.elapsed),
            ]);
        }
        writeln!(out, "\n══════ tour summary ══════\n{t}")?;
    }
    out.flush()?;
    if !failed.is_empty() {
        bail!(
            "{} of {total} lessons failed: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// `lesson check`: asks the questions, reads one answer a line, says right or wrong and why.
fn check(
    l: &lesson::Lesson,
    answers: Option<std::path::PathBuf>,
    seed: Option<u64>,
    capture: Option<std::path::PathBuf>,
    list: bool,
    key: bool,
) -> Result<()> {
    use anyhow::Context;
    use std::io::BufRead;
    let data = lesson::check::Data::load(seed, capture.as_deref())?;
    let questions = lesson::check::questions(&l.id, &data)?;
    let mut out = io::stdout().lock();
    if key {
        for (i, q) in questions.iter().enumerate() {
            render::lesson::key(&mut out, i + 1, q)?;
        }
        return Ok(());
    }
    if list {
        for (i, q) in questions.iter().enumerate() {
            render::lesson::question(&mut out, i + 1, q)?;
        }
        return Ok(());
    }
    let lines: Vec<String> = match answers {
        Some(p) => std::fs::read_to_string(&p)
            .with_context(|| format!("cannot read --answers {}", p.display()))?
            .lines()
            .map(str::to_string)
            .collect(),
        None => {
            let mut v = Vec::new();
            let stdin = io::stdin();
            let interactive = std::io::IsTerminal::is_terminal(&stdin);
            let mut it = stdin.lock().lines();
            for (i, q) in questions.iter().enumerate() {
                if interactive {
                    render::lesson::question(&mut out, i + 1, q)?;
                    write!(out, "your answer: ")?;
                    out.flush()?;
                }
                match it.next() {
                    Some(line) => v.push(line?),
                    None => break,
                }
            }
            v
        }
    };
    let mut right = 0;
    for (i, q) in questions.iter().enumerate() {
        let given = lines.get(i).map(|s| s.trim()).unwrap_or("");
        let ok = q.accepts(given);
        if ok {
            right += 1;
        }
        render::lesson::verdict(&mut out, i + 1, q, given, ok)?;
    }
    writeln!(out, "\n{right} of {} right", questions.len())?;
    out.flush()?;
    if right != questions.len() {
        return Err(anyhow::anyhow!(
            "{} of {} answers wrong",
            questions.len() - right,
            questions.len()
        ));
    }
    Ok(())
}
