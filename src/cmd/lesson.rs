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
        LessonCommand::Show { id } => {
            let l = lesson::find(&id)?;
            write!(out, "{}", l.source)?;
        }
        LessonCommand::Run { id, no_pause } => {
            let l = lesson::find(&id)?;
            let outcome = run::run(&l, run::Options { pause: !no_pause }, &mut out)?;
            if let Some(f) = outcome.failure {
                bail!("lesson {id} failed at step {}: {f}", outcome.steps_run);
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Every lesson (or those in `only`), no prompts; a table of results at the end.
pub fn tour(only: &[String]) -> Result<()> {
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
        writeln!(
            out,
            "\n══════ lesson {}/{total}: {} ({}) ══════",
            i + 1,
            l.title,
            l.id
        )?;
        let o = run::run(l, run::Options { pause: false }, &mut out)?;
        results.push((l.id.clone(), o));
    }
    let mut t = render::table(&["lesson", "steps run", "result", "time"]);
    let mut failed = Vec::new();
    for (id, o) in &results {
        let result = match &o.failure {
            None => "ok".to_string(),
            Some(f) => {
                failed.push(id.clone());
                format!("FAILED: {f}")
            }
        };
        t.add_row(vec![
            id.clone(),
            o.steps_run.to_string(),
            result,
            secs(o.elapsed),
        ]);
    }
    writeln!(out, "\n══════ tour summary ══════\n{t}")?;
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
