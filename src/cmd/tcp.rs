//! `wirelab tcp serve` and `wirelab tcp send`.

use std::io::{self, BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::{TcpCommand, TcpSendArgs, TcpServeArgs};
use crate::exit::{bind_error, BadInput};
use crate::render;
use crate::transport::tcp_client::{self, ClientEvent, SendConfig};
use crate::transport::tcp_echo::{self, EchoConfig, TcpEvent};

pub fn run(c: TcpCommand) -> Result<()> {
    match c {
        TcpCommand::Serve(a) => serve(a),
        TcpCommand::Send(a) => send(a),
    }
}

fn serve(a: TcpServeArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| bind_error(a.listen, e))?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<TcpEvent>();
        let idle = a.idle_timeout;
        let json = a.json;
        let printer = tokio::task::spawn_blocking(move || -> io::Result<()> {
            let mut out = io::stdout().lock();
            while let Some(e) = rx.blocking_recv() {
                if json {
                    render::json_line(&mut out, &e)?;
                } else {
                    render::transport::tcp_event(&mut out, &e, idle)?;
                }
                out.flush()?;
            }
            Ok(())
        });
        let cfg = EchoConfig {
            idle_timeout: Duration::from_secs_f64(a.idle_timeout),
            max_conns: a.max_conns,
            dump_limit: if a.quiet { 0 } else { a.dump_limit.max(1) },
        };
        tcp_echo::serve(listener, cfg, tx, super::stop_or_closed()).await?;
        printer.await??;
        Ok(())
    })
}

fn send(a: TcpSendArgs) -> Result<()> {
    let cfg = SendConfig {
        addr: a.addr,
        messages: a.messages.iter().map(|m| m.as_bytes().to_vec()).collect(),
        coalesce: a.coalesce,
        no_delay: a.no_delay,
        timeout: Duration::from_secs_f64(a.timeout),
    };
    let stdin_mode = a.messages.is_empty();
    let relay = stdin_mode && (a.no_echo || !io::stdin().is_terminal());
    let mut out = io::stdout().lock();
    let mut err = io::stderr();
    let mut write_err = None;
    let on = |e: ClientEvent| {
        let r = if a.json {
            render::json_line(&mut out, &e).and_then(|_| out.flush())
        } else if relay {
            // nc: the server's bytes on stdout, untouched; the commentary on stderr.
            let raw = match &e {
                ClientEvent::Received { data, .. } => out.write_all(data).and_then(|_| out.flush()),
                _ => Ok(()),
            };
            raw.and_then(|_| render::transport::client_event(&mut err, &e))
        } else {
            render::transport::client_event(&mut out, &e).and_then(|_| out.flush())
        };
        if let Err(e) = r {
            write_err.get_or_insert(e);
        }
    };
    let result = if relay {
        tcp_client::relay(&cfg, io::stdin(), on)
    } else if stdin_mode {
        let lines = io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .map(|l| format!("{l}\n").into_bytes());
        tcp_client::run_messages(&cfg, lines, on)
    } else {
        tcp_client::run(&cfg, on)
    };
    if let Some(e) = write_err {
        return Err(e.into());
    }
    result
        .map_err(|e| match e.kind() {
            io::ErrorKind::ConnectionRefused => anyhow::Error::new(e).context(format!(
            "cannot connect to {}: nothing listens there (the kernel answered our SYN with RST)",
            a.addr
        )),
            io::ErrorKind::InvalidInput => {
                BadInput(format!("cannot connect to {}: {e}", a.addr)).into()
            }
            _ => anyhow::Error::new(e).context(format!("tcp send to {}", a.addr)),
        })
        .context("tcp send failed")
}
