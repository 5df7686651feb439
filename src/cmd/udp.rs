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
        render::json_typed(
            &mut out,
            "listening",
            &serde_json::json!({"addr": addr.to_string()}),
        )?;
    } else {
        writeln!(out, "udp recv: listening on {addr}")?;
    }
    out.flush()?;
    let cfg = RecvConfig {
        count: a.count,
        timeout: Duration::from_secs_f64(a.timeout),
        interval: a.interval.map(Duration::from_secs_f64),
    };
    let write_err = std::cell::RefCell::new(None);
    let out = std::cell::RefCell::new(out);
    let emit = |f: &dyn Fn(&mut io::StdoutLock<'static>) -> io::Result<()>| {
        let o = &mut *out.borrow_mut();
        if let Err(e) = f(o).and_then(|_| o.flush()) {
            write_err.borrow_mut().get_or_insert(e);
        }
    };
    let report = udp::recv_with(
        &sock,
        &cfg,
        |arr| {
            if a.verbose {
                emit(&|o| {
                    if a.json {
                        render::json_typed(o, "datagram", arr)
                    } else {
                        render::transport::arrival(o, arr)
                    }
                });
            }
        },
        |i| {
            emit(&|o| {
                if a.json {
                    render::json_typed(o, "interval", i)
                } else {
                    render::transport::interval(o, i)
                }
            })
        },
    )
    .with_context(|| format!("udp recv on {addr}"))?;
    if let Some(e) = write_err.into_inner() {
        return Err(e.into());
    }
    let mut out = out.into_inner();
    if a.json {
        render::json_typed(&mut out, "recv_report", &report)?;
    } else {
        render::transport::recv_report(&mut out, &report)?;
    }
    out.flush()?;
    if report.received == 0 {
        let sent = if report.expected_from_sender {
            format!(
                " (the sender's end marker says {} were sent: the link lost them all)",
                report.expected
            )
        } else {
            String::new()
        };
        return Err(anyhow::anyhow!(
            "received nothing: no datagram arrived on {addr}{sent}"
        ));
    }
    Ok(())
}

fn send(a: UdpSendArgs) -> Result<()> {
    interrupt::install();
    // --bitrate picks the datagram rate; --duration lifts the default count.
    let rate = match a.bitrate {
        Some(b) => (b / (8 * a.size as u64)).max(1),
        None => a.rate,
    };
    let count = a
        .count
        .unwrap_or(if a.duration.is_some() { u64::MAX } else { 100 });
    let cfg = SendConfig {
        addr: a.addr,
        count,
        size: a.size,
        rate,
        duration: a.duration.map(Duration::from_secs_f64),
        link: LinkConfig {
            loss: a.link.loss,
            reorder: a.link.reorder,
            duplicate: a.link.duplicate,
            seed: a.link.seed,
        },
    };
    let bar = if io::stderr().is_terminal() && count >= 10_000 && count != u64::MAX {
        indicatif::ProgressBar::new(count)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let report = udp::send(&cfg, |n| bar.set_position(n))
        .with_context(|| format!("udp send to {}", a.addr))?;
    bar.finish_and_clear();
    let mut out = io::stdout().lock();
    if a.json {
        render::json_typed(&mut out, "send_report", &report)?;
    } else {
        render::transport::send_report(&mut out, &report)?;
    }
    out.flush()?;
    Ok(())
}
