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
use crate::hub::protocol::check_name;
use crate::hub::redis_store::RedisJobs;
use crate::hub::store::Store;
use crate::hub::workclient::{enqueue, worker, EnqueueOptions, WorkEvent, WorkSink, WorkerOptions};
use crate::hub::workqueue::{QueueSummary, Work};
use crate::render;
use crate::ws::client::WsUrl;

fn sink(json: bool) -> WorkSink {
    Arc::new(move |e: WorkEvent| {
        let mut out = io::stdout().lock();
        let _ = render::workqueue::client(&mut out, &e, json);
        let _ = out.flush();
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
                let _ = tokio::signal::ctrl_c().await;
            };
            worker(&u, &opts, sink, stop)
                .await
                .map_err(anyhow::Error::new)
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
            (Some(e), _) => Err(anyhow::Error::new(e)),
            (None, Some(n)) if got < n => Err(anyhow::Error::new(ClientError::TooFew {
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
    runtime()?.block_on(async { enqueue(&u, &opts, sink).await.map_err(anyhow::Error::new) })
}

/// Work queues in an embedded store, for `hub queue`.
pub fn summary(store: &Store) -> Result<Vec<QueueSummary>> {
    Work::summary(store, None).context("cannot read the work queues")
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
    let store = Store::open(None, false).context("cannot open an in-memory store")?;
    let rows = Work::summary(&store, Some(&mut r)).context("cannot read the work queues")?;
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
