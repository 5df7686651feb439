//! `hub emit --queue` and `hub listen --queue`: the client side of work queues.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::client::{next_text, with_client, ClientError};
use super::protocol::{ClientMsg, JobOut, ServerMsg};
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

/// Where a work-queue client's events go; an error (stdout closed) stops it before it acks.
pub type WorkSink = Arc<dyn Fn(WorkEvent) -> std::io::Result<()> + Send + Sync>;

fn say(sink: &WorkSink, e: WorkEvent) -> Result<(), ClientError> {
    sink(e).map_err(ClientError::Output)
}

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

/// The next hub frame, or `None` after `wait` without one.
async fn next(ws: &mut TcpWebSocket, wait: Duration) -> Result<Option<ServerMsg>, ClientError> {
    match next_text(ws, wait).await? {
        None => Ok(None),
        Some(t) => ServerMsg::parse(&t)
            .map(Some)
            .map_err(|e| ClientError::BadFrame(format!("{e}: {t}"))),
    }
}

async fn send(ws: &mut TcpWebSocket, m: &ClientMsg) -> Result<(), ClientError> {
    ws.writer
        .send(&Message::Text(m.to_text()))
        .await
        .map_err(ClientError::Lost)
}

async fn welcome(ws: &mut TcpWebSocket, timeout: Duration) -> Result<(), ClientError> {
    match next(ws, timeout).await? {
        Some(ServerMsg::Welcome { .. }) => Ok(()),
        Some(ServerMsg::Error { error, .. }) => Err(ClientError::Refused(error)),
        Some(m) => Err(ClientError::BadFrame(format!(
            "expected welcome first, got {}",
            m.to_text()
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
        &ClientMsg::Consume {
            queue: opts.queue.clone(),
            prefetch: opts.prefetch,
        },
    )
    .await?;
    let idle = opts.timeout.unwrap_or(Duration::from_secs(u64::MAX / 4));
    let mut seen: HashSet<String> = HashSet::new();
    // Frames that came while a job was being worked on.
    let mut early: VecDeque<ServerMsg> = VecDeque::new();
    let mut consumer = String::new();
    let (mut jobs, mut duplicates) = (0u64, 0u64);
    tokio::pin!(stop);
    // Told to stop (SIGINT): from then on no job is taken, and the one being worked on is not
    // acknowledged (the hub gives it, and every job sent ahead, to another worker).
    let mut stopped = false;
    let result = loop {
        if stopped || opts.count.is_some_and(|n| jobs >= n) {
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
        match v {
            ServerMsg::Consuming {
                queue,
                consumer: name,
                prefetch,
            } => {
                consumer = name;
                say(
                    &sink,
                    WorkEvent::Ready {
                        queue,
                        consumer: consumer.clone(),
                        prefetch,
                    },
                )?
            }
            ServerMsg::Job(JobOut {
                queue,
                id,
                event,
                data,
                from,
                deliveries,
                ..
            }) => {
                let duplicate = !seen.insert(id.clone());
                say(
                    &sink,
                    WorkEvent::Job {
                        worker: consumer.clone(),
                        queue,
                        id: id.clone(),
                        event,
                        data,
                        from,
                        deliveries,
                        duplicate,
                    },
                )?;
                if duplicate {
                    duplicates += 1;
                } else {
                    jobs += 1;
                    // Work, while watching the connection (a hub that goes away is noticed
                    // now) and the stop signal.
                    let done_at = Instant::now() + opts.work;
                    while !stopped && Instant::now() < done_at {
                        let left = done_at.saturating_duration_since(Instant::now());
                        tokio::select! {
                            _ = &mut stop => stopped = true,
                            m = next(&mut ws, left) => {
                                if let Some(v) = m? {
                                    early.push_back(v);
                                }
                            }
                        }
                    }
                    if stopped {
                        break Ok(());
                    }
                }
                if opts.ack {
                    send(
                        &mut ws,
                        &ClientMsg::JobAck {
                            queue: opts.queue.clone(),
                            id,
                        },
                    )
                    .await?;
                }
            }
            ServerMsg::Error { error, .. } => say(&sink, WorkEvent::ServerError { error })?,
            _ => {}
        }
    };
    say(
        &sink,
        WorkEvent::Done {
            jobs,
            duplicates,
            acked: opts.ack,
        },
    )?;
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
            &ClientMsg::Enqueue {
                queue: opts.queue.clone(),
                event: opts.event.clone(),
                data: d.clone(),
            },
        )
        .await?;
    }
    let mut got = 0usize;
    let want = opts.data.len();
    while got < want {
        let Some(v) = next(&mut ws, opts.timeout).await? else {
            return Err(ClientError::Timeout(opts.timeout.as_secs_f64()));
        };
        match v {
            ServerMsg::Enqueued { queue, id, event } => {
                got += 1;
                if opts.each || got == want {
                    say(&sink, WorkEvent::Enqueued { queue, id, event })?;
                }
            }
            ServerMsg::Error { error, .. } => return Err(ClientError::Refused(error)),
            _ => {}
        }
    }
    say(&sink, WorkEvent::Stored { jobs: got as u64 })?;
    bye(ws).await;
    Ok(())
}
