//! `wirelab ws ...`: glue from arguments to `crate::ws` and `render::ws`.

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::cli::{WsCommand, WsConnectArgs, WsLimitArgs, WsServeArgs};
use crate::exit::{bind_error, BadInput};
use crate::render;
use crate::wire::websocket::frame::close_code_allowed;
use crate::wire::websocket::handshake::{accept_steps, check_key};
use crate::wire::websocket::{ClosePayload, Limits};
use crate::ws::accept::AcceptOptions;
use crate::ws::client::{connect_with, WsUrl};
use crate::ws::conn::{Config, Direction, FrameTap, Incoming, Message, WsError};
use crate::ws::events::Event;
use crate::ws::server::{serve, EventSink, Mode, ServeOptions, DEMO_PAGE};

pub fn run(c: WsCommand) -> Result<()> {
    match c {
        WsCommand::Serve(a) => serve_cmd(a),
        WsCommand::Connect(a) => connect_cmd(a),
        WsCommand::AcceptKey { key, json } => accept_key(&key, json),
    }
}

fn accept_key(key: &str, json: bool) -> Result<()> {
    let steps = accept_steps(key);
    let problem = check_key(key).err().map(|e| e.to_string());
    let mut out = io::stdout().lock();
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            steps: &'a crate::wire::websocket::handshake::AcceptSteps,
            key_valid: bool,
            key_problem: Option<String>,
        }
        render::json_typed(
            &mut out,
            "accept_key",
            &Out {
                steps: &steps,
                key_valid: problem.is_none(),
                key_problem: problem,
            },
        )?;
    } else {
        render::ws::accept_steps(&mut out, &steps, problem.as_deref())?;
    }
    out.flush()?;
    Ok(())
}

fn config(l: &WsLimitArgs) -> Config {
    Config {
        limits: Limits {
            max_frame: l.max_frame,
            max_message: l.max_message,
        },
    }
}

fn stdout_sink(json: bool) -> EventSink {
    Arc::new(move |e: Event| {
        let mut out = io::stdout().lock();
        let _ = render::ws::write(&mut out, &e, json);
        let _ = out.flush();
    })
}

fn serve_cmd(a: WsServeArgs) -> Result<()> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| bind_error(a.listen, e))?;
        let addr = listener.local_addr()?;
        let mode = if a.broadcast {
            Mode::Broadcast
        } else {
            Mode::Echo
        };
        let sink = stdout_sink(a.json);
        sink(Event::Listening {
            addr: addr.to_string(),
            mode: mode.name(),
        });
        let opts = ServeOptions {
            mode,
            show_frames: a.show_frames,
            quiet: a.quiet,
            max_conns: a.max_conns,
            compress: a.compress.on(),
            accept: AcceptOptions {
                config: config(&a.limits),
                timeout: Duration::from_secs(10),
                page: Some(DEMO_PAGE),
            },
        };
        serve(listener, opts, sink, super::stop_or_closed()).await?;
        Ok(())
    })
}

fn connect_cmd(a: WsConnectArgs) -> Result<()> {
    let url = WsUrl::parse(&a.url).map_err(|e| BadInput(e.to_string()))?;
    if !close_code_allowed(a.close_code) {
        return Err(BadInput(format!(
            "--close-code {} may not be sent in a close frame (use 1000-1003, 1007-1014 or 3000-4999)",
            a.close_code
        ))
        .into());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(client_session(a, url))
}

/// The client's output: everything, or with -q only what websocat would print.
fn client_sink(json: bool, quiet: bool) -> EventSink {
    if !quiet {
        return stdout_sink(json);
    }
    Arc::new(move |e: Event| {
        let mut out = io::stdout().lock();
        let _ = if json {
            match e {
                Event::Connected { .. }
                | Event::HandshakeRequest { .. }
                | Event::HandshakeResponse { .. } => Ok(()),
                _ => render::ws::write(&mut out, &e, true),
            }
        } else {
            render::ws::quiet_message(&mut out, &e)
        };
        let _ = out.flush();
    })
}

async fn client_session(a: WsConnectArgs, url: WsUrl) -> Result<()> {
    let sink = client_sink(a.json, a.quiet);
    let timeout = Duration::from_secs_f64(a.timeout);
    let mut c = connect_with(&url, config(&a.limits), timeout, a.compress.on())
        .await
        .with_context(|| format!("cannot open a WebSocket to {}", a.url))?;
    sink(Event::Connected {
        url: a.url.clone(),
        addr: c.addr.to_string(),
        connect_ms: c.connect_time.as_secs_f64() * 1000.0,
    });
    sink(Event::HandshakeRequest {
        conn: None,
        text: c.request_text.clone(),
    });
    sink(Event::HandshakeResponse {
        conn: None,
        text: c.response_text.clone(),
    });
    if a.show_frames && a.compress.on() {
        sink(Event::extension(None, c.deflate.as_ref()));
        let s = sink.clone();
        let tap: FrameTap = Arc::new(move |f| s(Event::frame(None, f)));
        c.ws.set_tap(Some(tap));
    }
    let (mut reader, mut writer) = c.ws.into_split();

    // Messages to send: the arguments, or stdin lines read on a thread.
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    if a.messages.is_empty() {
        std::thread::spawn(move || {
            for line in io::stdin().lock().lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
    } else {
        for m in &a.messages {
            let _ = tx.send(m.clone());
        }
        drop(tx);
    }

    let mut ping_sent: Option<Instant> = None;
    if a.ping {
        writer.ping(b"wirelab").await?;
        ping_sent = Some(Instant::now());
    }
    let (mut sent, mut received) = (0u64, 0u64);
    let mut input_done = false;
    let mut deadline = Instant::now() + timeout;
    let mut failure: Option<anyhow::Error> = None;
    // The reader of stdout gone (`| head -1`): leave with 1001 "going away", status 0.
    let reader_gone = super::stdout_closed();
    tokio::pin!(reader_gone);
    let peer_closed: Option<Option<ClosePayload>> = loop {
        let expect = a.expect.unwrap_or(sent);
        if input_done && received >= expect && ping_sent.is_none() {
            break None;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let ev = tokio::select! {
            line = rx.recv(), if !input_done => {
                match line {
                    Some(text) => {
                        let m = if a.binary { Message::Binary(text.into_bytes()) } else { Message::Text(text) };
                        writer.send(&m).await?;
                        sent += 1;
                        sink(Event::message(None, Direction::Out, &m));
                        deadline = Instant::now() + timeout;
                    }
                    None => input_done = true,
                }
                continue;
            }
            _ = &mut reader_gone => {
                let bye = ClosePayload { code: 1001, reason: String::new() };
                let _ = writer.close(Some(&bye)).await;
                return Ok(());
            }
            r = tokio::time::timeout(wait, reader.read_event()) => r,
        };
        let ev = match ev {
            Err(_) => {
                if !input_done {
                    deadline = Instant::now() + timeout;
                    continue;
                }
                sink(Event::Timeout {
                    waited_s: a.timeout,
                    expected: expect,
                    received,
                });
                failure = Some(anyhow!(
                    "got {received} of {expect} expected messages within {} s",
                    a.timeout
                ));
                break None;
            }
            Ok(ev) => ev,
        };
        deadline = Instant::now() + timeout;
        match ev {
            Ok(Incoming::Message(m)) => {
                received += 1;
                sink(Event::message(None, Direction::In, &m));
            }
            Ok(Incoming::Ping(p)) => writer.pong(&p).await?,
            Ok(Incoming::Pong(p)) => {
                if let Some(t) = ping_sent.take() {
                    sink(Event::Pong {
                        rtt_ms: t.elapsed().as_secs_f64() * 1000.0,
                        payload: crate::ws::events::preview(&p, true),
                    });
                }
            }
            Ok(Incoming::Close(c)) => {
                let reply = c.as_ref().map(|p| ClosePayload {
                    code: p.code,
                    reason: String::new(),
                });
                let _ = writer.close(reply.as_ref()).await;
                break Some(c);
            }
            Err(WsError::Protocol(e)) => {
                let bye = ClosePayload {
                    code: e.close_code(),
                    reason: e.to_string(),
                };
                let _ = writer.close(Some(&bye)).await;
                sink(Event::closed(
                    None,
                    "error",
                    Some(&bye),
                    Some(e.to_string()),
                    received,
                    sent,
                ));
                return Err(anyhow!(e).context("the server broke the protocol"));
            }
            Err(e) => {
                sink(Event::closed(
                    None,
                    "error",
                    None,
                    Some(e.to_string()),
                    received,
                    sent,
                ));
                return Err(anyhow!(e).context("connection lost"));
            }
        }
    };
    match peer_closed {
        Some(c) => sink(Event::closed(
            None,
            "peer",
            c.as_ref(),
            None,
            received,
            sent,
        )),
        None => {
            let ours = ClosePayload {
                code: a.close_code,
                reason: a.close_reason.clone(),
            };
            writer.close(Some(&ours)).await?;
            // Wait for the server's close frame, then for it to close the TCP connection.
            let answer = tokio::time::timeout(timeout, async {
                loop {
                    match reader.read_event().await {
                        Ok(Incoming::Close(c)) => return Ok(c),
                        Ok(_) => continue,
                        Err(e) => return Err(e),
                    }
                }
            })
            .await;
            match answer {
                Ok(Ok(c)) => {
                    sink(Event::closed(None, "us", c.as_ref(), None, received, sent));
                    let _ = tokio::time::timeout(timeout, reader.read_event()).await;
                }
                Ok(Err(e)) => sink(Event::closed(
                    None,
                    "us",
                    None,
                    Some(e.to_string()),
                    received,
                    sent,
                )),
                Err(_) => sink(Event::closed(
                    None,
                    "us",
                    None,
                    Some("the server did not answer our close frame".into()),
                    received,
                    sent,
                )),
            }
        }
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}
