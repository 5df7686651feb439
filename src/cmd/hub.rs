//! `wirelab hub ...`: glue from arguments to `crate::hub` and `render::hub`.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cli::{HubCommand, HubEmitArgs, HubListenArgs, HubQueueArgs, HubServeArgs};
use crate::exit::{bind_error, BadInput};
use crate::hub::client::{
    emit, listen, ClientError, ClientEvent, ClientSink, EmitOptions, ListenOptions,
};
use crate::hub::events::{HubEvent, HubSink};
use crate::hub::inbox::redis::RedisInbox;
use crate::hub::inbox::sqlite::{SqliteInbox, DB_FILE};
use crate::hub::inbox::{Inbox, QueueRow, StoreError};
use crate::hub::protocol::{check_name, Target};
use crate::hub::server::{serve, HubOptions};
use crate::hub::work::QueueSummary;
use crate::render;
use crate::ws::client::WsUrl;

pub fn run(c: HubCommand) -> Result<()> {
    match c {
        HubCommand::Serve(a) => serve_cmd(a),
        HubCommand::Listen(a) => listen_cmd(a),
        HubCommand::Emit(a) => emit_cmd(a),
        HubCommand::Queue(a) => queue_cmd(a),
    }
}

fn server_sink(json: bool) -> HubSink {
    Arc::new(move |e: HubEvent| {
        let mut out = io::stdout().lock();
        let _ = render::hub::server(&mut out, &e, json);
        let _ = out.flush();
    })
}

fn client_sink(json: bool) -> ClientSink {
    Arc::new(move |e: ClientEvent| {
        let mut out = io::stdout().lock();
        render::hub::client(&mut out, &e, json)?;
        out.flush()
    })
}

/// A closed stdout is a normal end for a streaming client (exit 0).
pub(super) fn client_result(r: Result<(), ClientError>) -> Result<()> {
    match r {
        Err(e) if e.is_closed_output() => Ok(()),
        r => r.map_err(client_error),
    }
}

fn serve_cmd(a: HubServeArgs) -> Result<()> {
    let store: Box<dyn Inbox> = match &a.store {
        Some(url) => {
            super::hub_work::check_store_url(url)?;
            Box::new(
                RedisInbox::connect(url)
                    .with_context(|| format!("cannot reach the Redis store {url}"))?,
            )
        }
        None => Box::new(
            if a.memory {
                SqliteInbox::open(None, false)
            } else {
                SqliteInbox::open(Some(&a.data), a.reset)
            }
            .map_err(|e| match e {
                StoreError::Dir(..) => anyhow::Error::new(BadInput(e.to_string())),
                e => anyhow::Error::new(e)
                    .context(format!("cannot open the queue in {}", a.data.display())),
            })?,
        ),
    };
    let data = store.location();
    // One thread: the hub task owns all state and SQLite anyway; connection tasks only parse
    // and frame, and one thread avoids handing every frame across threads.
    let rt = runtime()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| bind_error(a.listen, e))?;
        let addr = listener.local_addr()?;
        let sink = server_sink(a.json);
        sink(HubEvent::Listening {
            addr: addr.to_string(),
            data,
            queue_cap: a.queue_cap,
            ack_timeout_s: a.ack_timeout,
            window: a.window,
        });
        let opts = HubOptions {
            max_clients: usize::try_from(a.max_clients).unwrap_or(usize::MAX),
            max_message: a.max_message,
            queue_cap: a.queue_cap,
            ack_timeout: Duration::from_secs_f64(a.ack_timeout),
            window: usize::try_from(a.window).unwrap_or(usize::MAX),
            max_conns: a.max_conns,
            exit_after_idle: a.exit_after_idle.map(Duration::from_secs_f64),
            quiet: a.quiet,
            max_attempts: a.max_attempts,
            redis: a.store.clone(),
            ..HubOptions::default()
        };
        let opts = HubOptions {
            sio: Some(sio_server(&a)?),
            ..opts
        };
        serve(listener, store, opts, sink, super::stop_or_closed()).await?;
        Ok(())
    })
}

/// The Socket.IO server at `/socket.io/` with the flags of `hub serve`; recovery state in
/// DIR/sio.sqlite3, in Redis with --store, in memory with --memory.
fn sio_server(a: &HubServeArgs) -> Result<Arc<crate::sio::Server>> {
    use crate::sio::{recovery, Server, SioOptions};
    let mut o = SioOptions {
        relay: a.relay,
        quiet: a.quiet,
        recovery_window: (!a.no_recovery).then(|| Duration::from_secs_f64(a.recovery_window)),
        client_bundle: crate::sio::find_client_bundle().map(Arc::new),
        ..SioOptions::default()
    };
    for n in &a.sio_namespaces {
        if !n.starts_with('/') {
            return Err(BadInput(format!("--sio-namespace {n:?} must start with /")).into());
        }
        if !o.namespaces.contains(n) {
            o.namespaces.push(n.clone());
        }
    }
    if a.conformance {
        o = o.conformance();
    }
    // Flags given on the command line win over the defaults, --conformance's included.
    if let Some(ms) = a.ping_interval {
        o.ping_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = a.ping_timeout {
        o.ping_timeout = Duration::from_millis(ms);
    }
    if let Some(b) = a.max_payload {
        o.max_payload = usize::try_from(b).unwrap_or(usize::MAX);
    }
    if let Some(ms) = a.connect_timeout {
        o.connect_timeout = Duration::from_millis(ms);
    }
    let store: Option<Box<dyn recovery::RecoveryStore>> = if o.recovery_window.is_none() {
        None
    } else if let Some(url) = &a.store {
        Some(Box::new(recovery::RedisStore::connect(url).with_context(
            || format!("cannot open the recovery store on {url}"),
        )?))
    } else if a.memory {
        Some(Box::new(
            recovery::SqliteStore::memory().context("cannot open the recovery store")?,
        ))
    } else {
        Some(Box::new(
            recovery::SqliteStore::open(&a.data, a.reset)
                .context("cannot open the recovery store")?,
        ))
    };
    let json = a.json;
    let sink: crate::sio::SioSink = Arc::new(move |e| {
        let mut out = io::stdout().lock();
        let _ = render::sio_server::server(&mut out, &e, json);
        let _ = out.flush();
    });
    let every = o
        .recovery_window
        .map(|w| (w / 4).max(Duration::from_millis(50)));
    let srv = Server::new(o, store, sink);
    if let Some(every) = every {
        srv.spawn_expiry(every);
    }
    Ok(srv)
}

fn url(s: &str) -> Result<WsUrl> {
    Ok(WsUrl::parse(s).map_err(|e| BadInput(e.to_string()))?)
}

fn name(what: &'static str, s: &str) -> Result<()> {
    check_name(what, s).map_err(|e| BadInput(e.to_string()))?;
    Ok(())
}

/// Does `s` start like JSON: `{`, `[`, `"`, a digit, `-`, or the word true, false or null?
fn looks_like_json(s: &str) -> bool {
    let t = s.trim_start();
    let word: String = t
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    t.starts_with(['{', '[', '"', '-'])
        || t.starts_with(|c: char| c.is_ascii_digit())
        || matches!(word.as_str(), "true" | "false" | "null")
}

/// DATA as JSON. A bare word stays a string (so `pickup P-100` works unquoted), but anything
/// that starts like JSON must be JSON: `'{"parcel":'` is bad input naming the error and its
/// column, not the string `"{\"parcel\":"`.
pub(super) fn json_arg(what: &str, s: &str) -> Result<Value> {
    match serde_json::from_str(s) {
        Ok(v) => Ok(v),
        Err(e) if looks_like_json(s) => Err(BadInput(format!(
            "{what} {s:?} starts like JSON but is not: {} at column {} (quote a string as \
             '\"...\"', or give a bare word)",
            e.to_string().split(" at line ").next().unwrap_or_default(),
            e.column()
        ))
        .into()),
        Err(_) => Ok(Value::String(s.to_string())),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn client_error(e: ClientError) -> anyhow::Error {
    anyhow::Error::new(e)
}

fn listen_cmd(a: HubListenArgs) -> Result<()> {
    if a.queue.is_some() {
        return super::hub_work::worker_cmd(a);
    }
    let u = url(&a.url)?;
    if let Some(c) = &a.client {
        name("client id", c)?;
    }
    for r in &a.rooms {
        name("room", r)?;
    }
    let opts = ListenOptions {
        client: a.client.clone(),
        rooms: a.rooms.clone(),
        count: a.count,
        timeout: a
            .timeout
            .or(a.count.map(|_| 10.0))
            .map(Duration::from_secs_f64),
        ack: !a.no_ack,
        reply: a
            .reply
            .as_deref()
            .map(|r| json_arg("--reply", r))
            .transpose()?,
        pause: a.pause.map(Duration::from_secs_f64),
    };
    let sink = client_sink(a.json);
    runtime()?.block_on(async {
        let stop = async {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = super::stdout_closed() => {}
            }
        };
        client_result(listen(&u, &opts, sink, stop).await)
    })
}

fn emit_cmd(a: HubEmitArgs) -> Result<()> {
    if a.queue.is_some() {
        return super::hub_work::enqueue_cmd(a);
    }
    let u = url(&a.url)?;
    name("event name", &a.event)?;
    for r in &a.rooms {
        name("room", r)?;
    }
    let to = if !a.rooms.is_empty() {
        Target::Rooms {
            rooms: a.rooms.clone(),
            include_self: a.include_self,
        }
    } else if a.broadcast {
        Target::Broadcast
    } else if a.to_self {
        Target::Sender
    } else if let Some(c) = &a.to_client {
        name("client id", c)?;
        Target::Client(c.clone())
    } else {
        Target::Namespace
    };
    let opts = EmitOptions {
        client: a.as_client.clone(),
        event: a.event.clone(),
        data: (1..=a.repeat)
            .map(|n| match a.data.as_deref() {
                Some(d) => json_arg("DATA", &d.replace("{n}", &n.to_string())),
                None => Ok(Value::Null),
            })
            .collect::<Result<_>>()?,
        to,
        ack: a.ack,
        volatile: a.volatile,
        timeout: Duration::from_secs_f64(a.timeout),
    };
    let sink = client_sink(a.json);
    runtime()?.block_on(async { client_result(emit(&u, &opts, sink).await) })
}

fn queue_cmd(a: HubQueueArgs) -> Result<()> {
    if let Some(s) = &a.store {
        return super::hub_work::redis_queue_cmd(s, a.json);
    }
    let store = SqliteInbox::open_read_only(&a.data).map_err(|e| match e {
        StoreError::Missing(_) => anyhow::Error::new(BadInput(e.to_string())),
        e => {
            anyhow::Error::new(e).context(format!("cannot read the queue in {}", a.data.display()))
        }
    })?;
    let rows = store.summary().context("cannot read the queue")?;
    let mut out = io::stdout().lock();
    if a.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            data: String,
            total: u64,
            clients: &'a [QueueRow],
            work_queues: Vec<QueueSummary>,
        }
        render::json_typed(
            &mut out,
            "queue",
            &Out {
                data: a.data.join(DB_FILE).display().to_string(),
                total: rows.iter().map(|r| r.depth).sum(),
                clients: &rows,
                work_queues: super::hub_work::summary(&store)?,
            },
        )?;
    } else {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(0))
            .unwrap_or(0);
        render::hub::queue_table(&mut out, &rows, now)?;
        let work = super::hub_work::summary(&store)?;
        if !work.is_empty() {
            render::workqueue::queues(&mut out, &work)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_that_starts_like_json_must_be_json() {
        assert_eq!(json_arg("DATA", "P-100").unwrap(), Value::from("P-100"));
        assert_eq!(
            json_arg("DATA", "nullable").unwrap(),
            Value::from("nullable")
        );
        assert_eq!(json_arg("DATA", r#"{"a":1}"#).unwrap()["a"], 1);
        assert_eq!(json_arg("DATA", "-3").unwrap(), Value::from(-3));
        for bad in [
            r#"{"parcel":"#,
            "[1,",
            "\"open",
            "12abc",
            "-x",
            "true,",
            "null null",
        ] {
            let e = json_arg("DATA", bad).unwrap_err();
            assert_eq!(crate::exit::code_for(&e), 2, "{bad}");
            assert!(e.to_string().contains("at column"), "{bad}: {e}");
        }
        let e = json_arg("DATA", r#"{"parcel":"#).unwrap_err().to_string();
        assert!(e.contains("EOF while parsing a value at column 10"), "{e}");
    }
}
