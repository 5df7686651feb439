//! `wirelab compare`.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context, Result};

use crate::cli::CompareArgs;
use crate::exit::BadInput;
use crate::render::{self, chart};
use crate::transport::compare::{self, CompareConfig};

pub fn run(a: CompareArgs) -> Result<()> {
    let cfg = CompareConfig {
        count: a.count,
        size: a.size,
        loss: a.loss,
        seed: a.seed,
        window: a.window,
        rate: a.rate,
        netem: a.netem,
    };
    // Progress on a terminal only: piped output stays the table alone.
    let spinner = if io::stderr().is_terminal() {
        let s = indicatif::ProgressBar::new_spinner();
        s.enable_steady_tick(std::time::Duration::from_millis(100));
        s
    } else {
        indicatif::ProgressBar::hidden()
    };
    let result = compare::run(cfg, |p| {
        spinner.set_message(match p.delivered {
            Some(n) => format!(
                "running {}: {n} of {} messages delivered so far",
                p.transport, p.count
            ),
            None => format!("running {} ...", p.transport),
        })
    })
    .context("compare failed");
    spinner.finish_and_clear();
    let c = result?;
    let mut out = io::stdout().lock();
    if a.json {
        render::json_typed(&mut out, "comparison", &c)?;
    } else {
        render::transport::comparison(&mut out, &c, render::width())?;
    }
    let series: Vec<chart::Series> = c
        .rows
        .iter()
        .map(|r| chart::Series {
            name: r.transport,
            points: &r.series,
        })
        .collect();
    if a.chart && !a.json {
        writeln!(out)?;
        chart::terminal(&mut out, &series, 64, 12)?;
    }
    if let Some(path) = &a.svg {
        let title = format!(
            "delivery latency by sequence number: {} messages, loss {}, seed {}",
            c.count, c.loss, c.seed
        );
        std::fs::write(path, chart::svg(&series, &title))
            .map_err(|e| BadInput(format!("cannot write --svg {}: {e}", path.display())))?;
        if !a.json {
            writeln!(out, "chart written to {}", path.display())?;
        }
    }
    out.flush()?;
    let failed: Vec<String> = c
        .failed()
        .map(|r| format!("{}: {}", r.transport, r.failure.as_deref().unwrap_or("")))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("compare: a row failed: {}", failed.join("; "));
    }
    Ok(())
}
