//! `hub emit --queue` and `hub listen --queue`: the client side of work queues.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use super::client::{next_text, with_client, ClientError};
use crate::wire::websocket::ClosePayload;
use crate::ws::accept::TcpWebSocket;
use crate::ws::client::{connect, WsUrl};
use crate::ws::conn::{Config, Incoming, Message};

/// What a work-queue client saw.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkEvent {
    /// Joined the consumer group: jobs come from now on.
    Ready {
        queue: String,
        consumer: String,
        prefetch: u64,
    },
    Job {
        /// The worker (consumer) that got it.
        worker: String,
        queue: String,
        id: String,
        event: String,
        data: Value,
        from: String,
        deliveries: u64,
        /// Already handled by this worker (acknowledged again, not counted).
        duplicate: bool,
    },
    Acked {
        id: String,
    },
    Enqueued {
        queue: String,
        id: String,
        event: String,
    },
    ServerError {
        error: String,
    },
    Done {
        jobs: u64,
        duplicates: u64,
        acked: bool,
    },
    /// Every job is stored by the hub.
    Stored {
        jobs: u64,
    },
}

pub type WorkSink = Arc<dyn Fn(WorkEvent) + Send + Sync>;

#[derive(Clone)]
pub struct WorkerOptions {
    pub client: Option<String>,
    pub queue: String,
    pub prefetch: u64,
    pub count: Option<u64>,
    pub timeout: Option<Duration>,
    pub ack: bool,
    /// Time each job takes (the worker sleeps before acknowledging).
    pub work: Duration,
}

pub struct EnqueueOptions {
    pub client: Option<String>,
    pub queue: String,
    pub event: String,
    /// Data JSON per job (`{n}` already replaced).
    pub data: Vec<Value>,
    pub timeout: Duration,
    /// Report each job (else only the last one and the count).
    pub each: bool,
}

async fn open(url: &WsUrl, timeout: Duration) -> Result<TcpWebSocket, ClientError> {
    let c = connect(url, Config::default(), timeout)
        .await
        .map_err(|source| ClientError::Connect {
            url: format!("ws://{}{}", url.authority(), url.path),
            source,
        })?;
    Ok(c.ws)
}

/// The next JSON frame, or `None` after `wait` without one.
async fn next(ws: &mut TcpWebSocket, wait: Duration) -> Result<Option<Value>, ClientError> {
    match next_text(ws, wait).await? {
        None => Ok(None),
        Some(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| ClientError::BadFrame(format!("{e}: {t}"))),
    }
}

async fn send(ws: &mut TcpWebSocket, v: Value) -> Result<(), ClientError> {
    ws.writer
        .send(&Message::Text(v.to_string()))
        .await
        .map_err(ClientError::Lost)
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

async fn welcome(ws: &mut TcpWebSocket, timeout: Duration) -> Result<(), ClientError> {
    match next(ws, timeout).await? {
        Some(v) if v["type"] == "welcome" => Ok(()),
        Some(v) if v["type"] == "error" => Err(ClientError::Refused(s(&v, "error"))),
        Some(v) => Err(ClientError::BadFrame(format!(
            "expected welcome first, got {v}"
        ))),
        None => Err(ClientError::Timeout(timeout.as_secs_f64())),
    }
}

async fn bye(mut ws: TcpWebSocket) {
    let _ = ws
        .writer
        .close(Some(&ClosePayload {
            code: 1000,
            reason: String::new(),
        }))
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(ev) = ws.reader.read_event().await {
            if matches!(ev, Incoming::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// `hub listen --queue`: joins the queue's consumer group, handles and acknowledges jobs.
pub async fn worker(
    url: &WsUrl,
    opts: &WorkerOptions,
    sink: WorkSink,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ClientError> {
    let url = with_client(url, opts.client.as_deref());
    let connect_timeout = opts.timeout.unwrap_or(Duration::from_secs(10));
    let mut ws = open(&url, connect_timeout).await?;
    welcome(&mut ws, connect_timeout).await?;
    send(
        &mut ws,
        json!({"type": "consume", "queue": opts.queue, "prefetch": opts.prefetch}),
    )
    .await?;
    let idle = opts.timeout.unwrap_or(Duration::from_secs(u64::MAX / 4));
    let mut seen: HashSet<String> = HashSet::new();
    // Frames that came while a job was being worked on.
    let mut early: VecDeque<Value> = VecDeque::new();
    let mut consumer = String::new();
    let (mut jobs, mut duplicates) = (0u64, 0u64);
    tokio::pin!(stop);
    let result = loop {
        if opts.count.is_some_and(|n| jobs >= n) {
            break Ok(());
        }
        let msg = match early.pop_front() {
            Some(v) => Ok(Some(v)),
            None => tokio::select! {
                _ = &mut stop => break Ok(()),
                m = next(&mut ws, idle) => m,
            },
        };
        let v = match msg {
            Err(e) => return Err(e),
            Ok(None) => {
                break match opts.count {
                    Some(n) => Err(ClientError::TooFew {
                        got: jobs,
                        want: n,
                        waited_s: idle.as_secs_f64(),
                    }),
                    None => Ok(()),
                }
            }
            Ok(Some(v)) => v,
        };
        match v["type"].as_str() {
            Some("consuming") => {
                consumer = s(&v, "consumer");
                sink(WorkEvent::Ready {
                    queue: s(&v, "queue"),
                    consumer: consumer.clone(),
                    prefetch: v["prefetch"].as_u64().unwrap_or(1),
                })
            }
            Some("job") => {
                let id = s(&v, "id");
                let duplicate = !seen.insert(id.clone());
                sink(WorkEvent::Job {
                    worker: consumer.clone(),
                    queue: s(&v, "queue"),
                    id: id.clone(),
                    event: s(&v, "event"),
                    data: v["data"].clone(),
                    from: s(&v, "from"),
                    deliveries: v["deliveries"].as_u64().unwrap_or(1),
                    duplicate,
                });
                if duplicate {
                    duplicates += 1;
                } else {
                    jobs += 1;
                    // Work, while watching the connection: a hub that goes away is noticed now.
                    let done_at = Instant::now() + opts.work;
                    while Instant::now() < done_at {
                        let left = done_at.saturating_duration_since(Instant::now());
                        if let Some(v) = next(&mut ws, left).await? {
                            early.push_back(v);
                        }
                    }
                }
                if opts.ack {
                    send(
                        &mut ws,
                        json!({"type": "job_ack", "queue": opts.queue, "id": id}),
                    )
                    .await?;
                }
            }
            Some("error") => sink(WorkEvent::ServerError {
                error: s(&v, "error"),
            }),
            _ => {}
        }
    };
    sink(WorkEvent::Done {
        jobs,
        duplicates,
        acked: opts.ack,
    });
    if opts.ack {
        bye(ws).await;
    }
    // Without acks: just go, like a worker that crashed mid-job (its jobs go to another).
    result
}

/// `hub emit --queue`: puts jobs on a work queue and waits until the hub has stored them.
pub async fn enqueue(
    url: &WsUrl,
    opts: &EnqueueOptions,
    sink: WorkSink,
) -> Result<(), ClientError> {
    let url = with_client(url, opts.client.as_deref());
    let mut ws = open(&url, opts.timeout).await?;
    welcome(&mut ws, opts.timeout).await?;
    for d in &opts.data {
        send(
            &mut ws,
            json!({"type": "enqueue", "queue": opts.queue, "event": opts.event, "data": d}),
        )
        .await?;
    }
    let mut got = 0usize;
    let want = opts.data.len();
    while got < want {
        let Some(v) = next(&mut ws, opts.timeout).await? else {
            return Err(ClientError::Timeout(opts.timeout.as_secs_f64()));
        };
        match v["type"].as_str() {
            Some("enqueued") => {
                got += 1;
                if opts.each || got == want {
                    sink(WorkEvent::Enqueued {
                        queue: s(&v, "queue"),
                        id: s(&v, "id"),
                        event: s(&v, "event"),
                    });
                }
            }
            Some("error") => return Err(ClientError::Refused(s(&v, "error"))),
            _ => {}
        }
    }
    sink(WorkEvent::Stored { jobs: got as u64 });
    bye(ws).await;
    Ok(())
}
