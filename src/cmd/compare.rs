//! `wirelab compare`.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context, Result};

use crate::cli::CompareArgs;
use crate::render;
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
    let spinner = if io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let result = compare::run(cfg, |t| spinner.set_message(format!("running {t} ...")))
        .context("compare failed");
    spinner.finish_and_clear();
    let c = result?;
    let mut out = io::stdout().lock();
    if a.json {
        render::json_line(&mut out, &c)?;
    } else {
        render::transport::comparison(&mut out, &c)?;
    }
    out.flush()?;
    Ok(())
}
