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

/// Completes when the reader of stdout has gone (a pipe whose other end closed): `poll(2)`
/// reports POLLERR on the write end then, even before we write. A client waiting for events
/// then stops at once instead of on its next write.
pub(crate) async fn stdout_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || loop {
        let mut fds = libc::pollfd {
            fd: 1,
            events: 0,
            revents: 0,
        };
        // SAFETY: poll(2) on one pollfd that lives on this stack frame.
        let n = unsafe { libc::poll(&mut fds, 1, -1) };
        if n > 0 && fds.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            let _ = tx.send(());
            return;
        }
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    });
    if rx.await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Completes on Ctrl-C (SIGINT), SIGTERM, or when the reader of stdout has gone: how a
/// server (`tcp serve`, `ws serve`, `hub serve`) ends. `wirelab tcp serve | head -3` stops
/// once `head` has its lines, as a streaming command should.
pub(crate) async fn stop_or_closed() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut t) => {
                t.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = stdout_closed() => {}
    }
}
