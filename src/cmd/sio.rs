//! `wirelab sio ...`: glue from arguments to `crate::sio::client` and `render::sio`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
            go(o, a.json, a.state.clone())
        }
        SioCommand::Emit(e) => {
            let args = e
                .args
                .iter()
                .map(|s| parse_arg(s))
                .collect::<Result<Vec<_>>>()?;
            let o = options(&e.connect, Some((e.event.clone(), args, e.ack)))?;
            go(o, e.connect.json, e.connect.state.clone())
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
    let mut resume = None;
    let auth = match &a.auth {
        None => None,
        Some(s) => match Value::from_json(s) {
            Ok(v) if v.is_object() => Some(v),
            _ => return Err(BadInput(format!("--auth {s:?} is not a JSON object")).into()),
        },
    };
    if let Some(path) = &a.state {
        if namespaces.len() > 1 {
            return Err(BadInput(
                "--state keeps one namespace's pid and offset: give one --namespace".into(),
            )
            .into());
        }
        resume = read_state(path)?;
    }
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
        goodbye: !a.vanish,
        joins: a.joins.clone(),
        resume,
    })
}

/// The pid and offset a `--state` file holds (none if the file does not exist yet, or holds
/// no offset: a socket that received nothing cannot be recovered).
fn read_state(path: &Path) -> Result<Option<(String, String)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(BadInput(format!("cannot read --state {}: {e}", path.display())).into())
        }
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| BadInput(format!("--state {}: not JSON ({e})", path.display())))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Ok(field("pid").zip(field("offset")))
}

/// What a `--state` file keeps, and when the client is ready (every namespace connected, its
/// emit sent or acknowledged).
struct Tracker {
    namespaces: usize,
    connected: usize,
    /// Emits (joins, then the emit) still to be sent or acknowledged.
    due: usize,
    /// Listens on after it is ready (no emit, or --count).
    listens: bool,
    ready: bool,
    state: Option<PathBuf>,
    pid: Option<String>,
    offset: Option<String>,
}

impl Tracker {
    /// Notes `e`; true when the client became ready with it.
    fn see(&mut self, e: &Event) -> bool {
        match e {
            Event::Connected { pid: Some(pid), .. } => {
                self.connected += 1;
                // A new socket (not recovered): its offsets start afresh.
                if self.pid.as_ref() != Some(pid) {
                    self.offset = None;
                    self.pid = Some(pid.clone());
                }
                self.save();
            }
            Event::Connected { pid: None, .. } => self.connected += 1,
            Event::Event {
                offset: Some(o), ..
            } => {
                self.offset = Some(o.clone());
                self.save();
            }
            Event::Emitted { id: None, .. } | Event::Ack { .. } => {
                self.due = self.due.saturating_sub(1)
            }
            _ => {}
        }
        if !self.ready && self.listens && self.connected >= self.namespaces && self.due == 0 {
            self.ready = true;
            return true;
        }
        false
    }

    fn save(&self) {
        let (Some(path), Some(pid)) = (&self.state, &self.pid) else {
            return;
        };
        let v = serde_json::json!({ "pid": pid, "offset": self.offset });
        let _ = std::fs::write(path, format!("{v}\n"));
    }
}

fn go(o: Options, json: bool, state: Option<PathBuf>) -> Result<()> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let tracker = Mutex::new(Tracker {
        namespaces: o.namespaces.len(),
        connected: 0,
        due: o.joins.len() + usize::from(o.emit.is_some()),
        listens: o.emit.is_none() || o.count.is_some(),
        ready: false,
        pid: state
            .as_deref()
            .and_then(|p| read_state(p).ok().flatten())
            .map(|(p, _)| p),
        offset: state
            .as_deref()
            .and_then(|p| read_state(p).ok().flatten())
            .map(|(_, o)| o),
        state,
    });
    let sink: client::Sink = Arc::new(move |e: &Event| {
        let ready = tracker.lock().map(|mut t| t.see(e)).unwrap_or(false);
        let mut out = io::stdout().lock();
        render::sio::write(&mut out, e, json)?;
        if ready {
            render::sio::ready(&mut out, json)?;
        }
        out.flush()
    });
    let url = format!("{}:{}", o.host, o.port);
    // A reader of stdout that has gone (`| head -3`) ends the client at once, status 0; an
    // event whose line could not be written is never acked.
    let run = async {
        tokio::select! {
            r = client::run(o, sink) => r,
            _ = super::stdout_closed() => Ok(()),
        }
    };
    rt.block_on(run).or_else(|e| match e {
        SioError::Output(io) if io.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        SioError::Http(crate::sio::http::HttpError::Connect { .. }) => {
            Err(anyhow::Error::new(e).context(format!("sio connect {url}")))
        }
        e => Err(anyhow::Error::new(e)),
    })
}
