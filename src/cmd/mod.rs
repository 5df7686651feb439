//! Glue: one file per subcommand, turning arguments into library calls and a renderer.

mod capture;
mod compare;
mod dissect;
mod hub;
mod hub_work;
mod lesson;
mod sio;
mod tcp;
mod udp;
mod ws;

use std::io::{self, Write};

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Layers { json } => {
            let mut out = io::stdout().lock();
            if json {
                crate::render::layers::json(&mut out)?;
            } else {
                crate::render::layers::text(&mut out, crate::render::width())?;
            }
            out.flush()?;
            Ok(())
        }
        Command::Tcp(c) => tcp::run(c),
        Command::Udp(c) => udp::run(c),
        Command::Compare(a) => compare::run(a),
        Command::Ws(c) => ws::run(c),
        Command::Sio(c) => sio::run(c),
        Command::Hub(c) => hub::run(c),
        Command::Lesson(c) => lesson::run(c),
        Command::Tour { only, json } => lesson::tour(&only, json),
        Command::Dissect(a) => dissect::run(a),
        Command::Capture(a) => capture::run(a),
        Command::Completions { shell } => {
            let mut cmd = crate::cli::command();
            clap_complete::generate(shell, &mut cmd, "wirelab", &mut io::stdout());
            Ok(())
        }
    }
}
