//! `wirelab sio ...`: glue from arguments to `crate::sio::client` and `render::sio`.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::{SioCommand, SioConnectArgs, SioTransport};
use crate::exit::BadInput;
use crate::render;
use crate::sio::client::{self, Emit, Event, Options, SioError, TransportChoice};
use crate::wire::socketio::Value;

pub fn run(c: SioCommand) -> Result<()> {
    match c {
        SioCommand::Connect(a) => {
            let o = options(&a, None)?;
            go(o, a.json)
        }
        SioCommand::Emit(e) => {
            let args = e
                .args
                .iter()
                .map(|s| parse_arg(s))
                .collect::<Result<Vec<_>>>()?;
            let o = options(&e.connect, Some((e.event.clone(), args, e.ack)))?;
            go(o, e.connect.json)
        }
    }
}

/// An emit argument: JSON if it looks like JSON, `bin:HEX` for bytes, else a string.
pub fn parse_arg(s: &str) -> Result<Value> {
    if let Some(h) = s.strip_prefix("bin:") {
        let b = hex::decode(h.replace([' ', ':'], ""))
            .map_err(|e| BadInput(format!("argument {s:?}: bin: needs hex bytes ({e})")))?;
        return Ok(Value::Binary(b));
    }
    let t = s.trim_start();
    if t.starts_with(['{', '[', '"']) {
        return Value::from_json(s).map_err(|_| {
            BadInput(format!(
                "argument {s:?} looks like JSON but is not valid JSON"
            ))
            .into()
        });
    }
    match Value::from_json(s) {
        Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => Ok(v),
        _ => Ok(Value::String(s.to_string())),
    }
}

/// Splits http://HOST:PORT/NSP into host, port and namespace.
fn parse_url(url: &str) -> Result<(String, u16, String)> {
    let rest = ["http://", "ws://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .ok_or_else(|| {
            if url.starts_with("https://") || url.starts_with("wss://") {
                BadInput(format!(
                    "{url:?} needs TLS; wirelab speaks plain http:// and ws:// only"
                ))
            } else {
                BadInput(format!(
                    "{url:?} is not an http:// URL (expected http://HOST:PORT[/NAMESPACE])"
                ))
            }
        })?;
    let ws = crate::ws::client::WsUrl::parse(&format!("ws://{rest}"))
        .map_err(|e| BadInput(format!("{url:?}: {e}")))?;
    let path = ws.path.split('?').next().unwrap_or("/");
    let nsp = if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    Ok((ws.host, ws.port, nsp))
}

fn options(a: &SioConnectArgs, emit: Option<(String, Vec<Value>, bool)>) -> Result<Options> {
    let (host, port, url_nsp) = parse_url(&a.url)?;
    let mut namespaces = a.namespaces.clone();
    if namespaces.is_empty() {
        namespaces.push(url_nsp);
    }
    for n in &namespaces {
        if !n.starts_with('/') || n.contains(',') {
            return Err(BadInput(format!(
                "namespace {n:?} must start with / and have no comma"
            ))
            .into());
        }
    }
    let auth = match &a.auth {
        None => None,
        Some(s) => match Value::from_json(s) {
            Ok(v) if v.is_object() => Some(v),
            _ => return Err(BadInput(format!("--auth {s:?} is not a JSON object")).into()),
        },
    };
    let mut path = a.path.clone();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    Ok(Options {
        host,
        port,
        path,
        emit: emit.map(|(event, args, ack)| Emit {
            namespace: namespaces[0].clone(),
            event,
            args,
            ack,
        }),
        namespaces,
        auth,
        transport: match a.transport {
            SioTransport::Auto => TransportChoice::Auto,
            SioTransport::Polling => TransportChoice::Polling,
            SioTransport::Websocket => TransportChoice::Websocket,
        },
        count: a.count,
        timeout: Duration::from_secs_f64(a.timeout),
        reconnect: a.reconnect,
        reconnect_delay: Duration::from_secs_f64(a.reconnect_delay),
        show_packets: a.show_packets,
    })
}

fn go(o: Options, json: bool) -> Result<()> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let sink: client::Sink = Arc::new(move |e: &Event| {
        let mut out = io::stdout().lock();
        let _ = render::sio::write(&mut out, e, json);
        let _ = out.flush();
    });
    let url = format!("{}:{}", o.host, o.port);
    rt.block_on(client::run(o, sink)).map_err(|e| match e {
        SioError::Http(crate::sio::http::HttpError::Connect { .. }) => {
            anyhow::Error::new(e).context(format!("sio connect {url}"))
        }
        e => anyhow::Error::new(e),
    })
}
