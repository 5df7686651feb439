//! `wirelab udp recv` and `wirelab udp send`.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::{UdpCommand, UdpRecvArgs, UdpSendArgs};
use crate::exit::bind_error;
use crate::render;
use crate::transport::interrupt;
use crate::transport::lossy::LinkConfig;
use crate::transport::udp::{self, RecvConfig, SendConfig};

pub fn run(c: UdpCommand) -> Result<()> {
    match c {
        UdpCommand::Recv(a) => recv(a),
        UdpCommand::Send(a) => send(a),
    }
}

fn recv(a: UdpRecvArgs) -> Result<()> {
    interrupt::install();
    let sock = udp::bind(a.listen).map_err(|e| bind_error(a.listen, e))?;
    let addr = sock.local_addr()?;
    let mut out = io::stdout().lock();
    if a.json {
        render::json_line(
            &mut out,
            &serde_json::json!({"event": "listening", "addr": addr.to_string()}),
        )?;
    } else {
        writeln!(out, "udp recv: listening on {addr}")?;
    }
    out.flush()?;
    let cfg = RecvConfig {
        count: a.count,
        timeout: Duration::from_secs_f64(a.timeout),
    };
    let mut write_err = None;
    let report = udp::recv(&sock, &cfg, |arr| {
        if !a.verbose {
            return;
        }
        let r = if a.json {
            render::json_line(&mut out, arr)
        } else {
            render::transport::arrival(&mut out, arr)
        };
        if let Err(e) = r {
            write_err.get_or_insert(e);
        }
    })
    .with_context(|| format!("udp recv on {addr}"))?;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    if a.json {
        render::json_line(&mut out, &report)?;
    } else {
        render::transport::recv_report(&mut out, &report)?;
    }
    out.flush()?;
    Ok(())
}

fn send(a: UdpSendArgs) -> Result<()> {
    interrupt::install();
    let cfg = SendConfig {
        addr: a.addr,
        count: a.count,
        size: a.size,
        rate: a.rate,
        link: LinkConfig {
            loss: a.link.loss,
            reorder: a.link.reorder,
            duplicate: a.link.duplicate,
            seed: a.link.seed,
        },
    };
    let bar = if io::stderr().is_terminal() && a.count >= 10_000 {
        indicatif::ProgressBar::new(a.count)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let report = udp::send(&cfg, |n| bar.set_position(n))
        .with_context(|| format!("udp send to {}", a.addr))?;
    bar.finish_and_clear();
    let mut out = io::stdout().lock();
    if a.json {
        render::json_line(&mut out, &report)?;
    } else {
        render::transport::send_report(&mut out, &report)?;
    }
    out.flush()?;
    Ok(())
}
