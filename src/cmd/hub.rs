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
use crate::hub::events::HubEvent;
use crate::hub::protocol::{check_name, Target};
use crate::hub::server::{serve, HubOptions, HubSink};
use crate::hub::store::{Store, StoreError};
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
        let _ = render::hub::client(&mut out, &e, json);
        let _ = out.flush();
    })
}

fn serve_cmd(a: HubServeArgs) -> Result<()> {
    let store = if a.memory || a.store.is_some() {
        Store::open(None, false)
    } else {
        Store::open(Some(&a.data), a.reset)
    }
    .map_err(|e| match e {
        StoreError::Dir(..) => anyhow::Error::new(BadInput(e.to_string())),
        e => {
            anyhow::Error::new(e).context(format!("cannot open the queue in {}", a.data.display()))
        }
    })?;
    let mut store = store;
    if let Some(url) = &a.store {
        super::hub_work::check_store_url(url)?;
        let r = crate::hub::redis_clients::RedisClients::connect(url)
            .with_context(|| format!("cannot reach the Redis store {url}"))?;
        store.mirror_to(r);
    }
    let data = match &a.store {
        Some(url) => Some(url.clone()),
        None => store.path.as_ref().map(|p| p.display().to_string()),
    };
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
        });
        let opts = HubOptions {
            max_clients: usize::try_from(a.max_clients).unwrap_or(usize::MAX),
            max_message: a.max_message,
            queue_cap: a.queue_cap,
            ack_timeout: Duration::from_secs_f64(a.ack_timeout),
            max_conns: a.max_conns,
            exit_after_idle: a.exit_after_idle.map(Duration::from_secs_f64),
            quiet: a.quiet,
            max_attempts: a.max_attempts,
            redis: a.store.clone(),
            ..HubOptions::default()
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve(listener, store, opts, sink, shutdown).await?;
        Ok(())
    })
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
    };
    let sink = client_sink(a.json);
    runtime()?.block_on(async {
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        listen(&u, &opts, sink, stop).await.map_err(client_error)
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
        data: match a.data.as_deref() {
            Some(d) => json_arg("DATA", d)?,
            None => Value::Null,
        },
        to,
        ack: a.ack,
        volatile: a.volatile,
        timeout: Duration::from_secs_f64(a.timeout),
    };
    let sink = client_sink(a.json);
    runtime()?.block_on(async { emit(&u, &opts, sink).await.map_err(client_error) })
}

fn queue_cmd(a: HubQueueArgs) -> Result<()> {
    if let Some(s) = &a.store {
        return super::hub_work::redis_queue_cmd(s, a.json);
    }
    let store = Store::open_read_only(&a.data).map_err(|e| match e {
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
            clients: &'a [crate::hub::store::QueueRow],
            work_queues: Vec<crate::hub::workqueue::QueueSummary>,
        }
        render::json_typed(
            &mut out,
            "queue",
            &Out {
                data: a
                    .data
                    .join(crate::hub::store::DB_FILE)
                    .display()
                    .to_string(),
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
