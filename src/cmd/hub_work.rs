//! `wirelab hub ... --queue`: glue from arguments to `crate::hub::workclient` and
//! `render::workqueue`.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cli::{HubEmitArgs, HubListenArgs};
use crate::exit::BadInput;
use crate::hub::client::ClientError;
use crate::hub::inbox::sqlite::SqliteInbox;
use crate::hub::inbox::Inbox;
use crate::hub::protocol::check_name;
use crate::hub::work::dispatch::Work;
use crate::hub::work::redis::RedisJobs;
use crate::hub::work::QueueSummary;
use crate::hub::workclient::{enqueue, worker, EnqueueOptions, WorkEvent, WorkSink, WorkerOptions};
use crate::render;
use crate::ws::client::WsUrl;

fn sink(json: bool) -> WorkSink {
    Arc::new(move |e: WorkEvent| {
        let mut out = io::stdout().lock();
        render::workqueue::client(&mut out, &e, json)?;
        out.flush()
    })
}

fn url(s: &str) -> Result<WsUrl> {
    Ok(WsUrl::parse(s).map_err(|e| BadInput(e.to_string()))?)
}

fn name(what: &'static str, s: &str) -> Result<()> {
    check_name(what, s).map_err(|e| BadInput(e.to_string()))?;
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn worker_cmd(a: HubListenArgs) -> Result<()> {
    let u = url(&a.url)?;
    let queue = a.queue.clone().unwrap_or_default();
    name("queue", &queue)?;
    if let Some(c) = &a.client {
        name("client id", c)?;
    }
    let opts = WorkerOptions {
        client: a.client.clone(),
        queue,
        prefetch: a.prefetch,
        count: a.count,
        timeout: a
            .timeout
            .or(a.count.map(|_| 10.0))
            .map(Duration::from_secs_f64),
        ack: !a.no_ack,
        work: Duration::from_millis(a.work_ms),
    };
    let sink = sink(a.json);
    if a.workers == 1 {
        return runtime()?.block_on(async {
            let stop = async {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = super::stdout_closed() => {}
                }
            };
            super::hub::client_result(worker(&u, &opts, sink, stop).await)
        });
    }
    // Several workers in one process, each its own connection: competing consumers at a glance.
    // --count is for the whole command: the workers stop once they have N jobs between them.
    let base = a.client.clone().unwrap_or_else(|| "worker".into());
    let want = a.count;
    let total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let counting: WorkSink = {
        let (total, sink) = (total.clone(), sink.clone());
        Arc::new(move |e: WorkEvent| {
            if let WorkEvent::Job {
                duplicate: false, ..
            } = &e
            {
                let n = total.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                if want.is_some_and(|w| n >= w) {
                    let _ = done_tx.send(true);
                }
            }
            sink(e)
        })
    };
    runtime()?.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 1..=a.workers {
            let mut o = opts.clone();
            o.client = Some(format!("{base}-{i}"));
            o.count = None;
            let (u, sink) = (u.clone(), counting.clone());
            let mut done = done_rx.clone();
            set.spawn(async move {
                let stop = async {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = done.wait_for(|d| *d) => {}
                    }
                };
                worker(&u, &o, sink, stop).await
            });
        }
        let mut first_error = None;
        while let Some(r) = set.join_next().await {
            if let Ok(Err(e)) = r {
                first_error.get_or_insert(e);
            }
        }
        let got = total.load(std::sync::atomic::Ordering::SeqCst);
        match (first_error, want) {
            (Some(e), _) => super::hub::client_result(Err(e)),
            (None, Some(n)) if got < n => super::hub::client_result(Err(ClientError::TooFew {
                got,
                want: n,
                waited_s: opts.timeout.map(|t| t.as_secs_f64()).unwrap_or_default(),
            })),
            (None, _) => Ok(()),
        }
    })
}

pub fn enqueue_cmd(a: HubEmitArgs) -> Result<()> {
    let u = url(&a.url)?;
    let queue = a.queue.clone().unwrap_or_default();
    name("queue", &queue)?;
    name("event name", &a.event)?;
    let template = a.data.clone().unwrap_or_else(|| "null".into());
    let data: Vec<Value> = (1..=a.repeat)
        .map(|n| super::hub::json_arg("DATA", &template.replace("{n}", &n.to_string())))
        .collect::<Result<_>>()?;
    let opts = EnqueueOptions {
        client: a.as_client.clone(),
        queue,
        event: a.event.clone(),
        data,
        timeout: Duration::from_secs_f64(a.timeout),
        each: a.repeat <= 20 || a.json,
    };
    let sink = sink(a.json);
    runtime()?.block_on(async { super::hub::client_result(enqueue(&u, &opts, sink).await) })
}

/// Work queues in an embedded store, for `hub queue`.
pub fn summary(store: &SqliteInbox) -> Result<Vec<QueueSummary>> {
    Work::summary(store.sqlite(), None).context("cannot read the work queues")
}

/// A `--store` URL: redis://HOST:PORT (bad input otherwise).
pub fn check_store_url(url: &str) -> Result<()> {
    if !(url.starts_with("redis://") && redis::Client::open(url).is_ok()) {
        return Err(BadInput(format!(
            "bad --store {url:?}: expected redis://HOST:PORT, e.g. redis://127.0.0.1:6379"
        ))
        .into());
    }
    Ok(())
}

/// `hub queue --store redis://...`
pub fn redis_queue_cmd(url: &str, json: bool) -> Result<()> {
    check_store_url(url)?;
    let mut r = RedisJobs::connect(url).with_context(|| format!("cannot reach {url}"))?;
    let store = SqliteInbox::open(None, false).context("cannot open an in-memory store")?;
    let rows =
        Work::summary(store.sqlite(), Some(&mut r)).context("cannot read the work queues")?;
    let mut out = io::stdout().lock();
    if json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            store: &'a str,
            work_queues: &'a [QueueSummary],
        }
        render::json_typed(
            &mut out,
            "queue",
            &Out {
                store: url,
                work_queues: &rows,
            },
        )?;
    } else {
        render::workqueue::queues(&mut out, &rows)?;
    }
    out.flush()?;
    Ok(())
}
