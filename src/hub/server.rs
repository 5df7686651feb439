//! `hub serve`: the accept loop and the hub task. Each accepted connection gets a task
//! (`connection.rs`); the hub task owns all state (`route.rs`) and takes the connections'
//! commands in batches, one store transaction each.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::connection::{dispatch, Cmd, HubTx};
use super::events::{HubEvent, HubSink};
use super::inbox::{Inbox, StoreError};
use super::route::Hub;
pub use super::route::HubOptions;
use crate::ws::accept::AcceptOptions;
use crate::ws::conn::Config;

/// The browser page served on `GET /`.
pub const PAGE: &str = include_str!("page.html");

async fn hub_task(
    mut hub: Hub,
    mut acks: mpsc::Receiver<Cmd>,
    mut rx: mpsc::Receiver<Cmd>,
    failed: oneshot::Sender<StoreError>,
) {
    let period = (hub.opts().ack_timeout / 4).max(Duration::from_millis(20));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Work queues: timeouts, stale jobs and (on Redis) jobs added by other hub processes.
    let mut work_tick = tokio::time::interval(period.min(Duration::from_millis(50)));
    work_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            c = acks.recv(), if !acks.is_closed() || !acks.is_empty() => {
                let Some(c) = c else { continue };
                let mut cmds = vec![c];
                while cmds.len() < 512 {
                    match acks.try_recv() {
                        Ok(c) => cmds.push(c),
                        Err(_) => break,
                    }
                }
                if let Err(e) = hub.batch(cmds, false) {
                    let _ = failed.send(e);
                    return;
                }
            }
            c = rx.recv() => {
                let Some(c) = c else { break };
                // Acks waiting go first, so that none waits behind a batch of emits.
                let mut cmds = Vec::new();
                while let Ok(a) = acks.try_recv() {
                    cmds.push(a);
                }
                cmds.push(c);
                while cmds.len() < 512 {
                    match rx.try_recv() {
                        Ok(c) => cmds.push(c),
                        Err(_) => break,
                    }
                }
                if let Err(e) = hub.batch(cmds, false) {
                    let _ = failed.send(e);
                    return;
                }
            }
            _ = tick.tick() => {
                if hub.has_inflight() {
                    if let Err(e) = hub.batch(Vec::new(), true) {
                        let _ = failed.send(e);
                        return;
                    }
                }
            }
            _ = work_tick.tick() => {
                if hub.work_active() {
                    if let Err(e) = hub.batch(Vec::new(), false) {
                        let _ = failed.send(e);
                        return;
                    }
                }
            }
        }
    }
}

/// Serves the hub on `listener` until `shutdown` completes (or `max_conns` / idle).
/// Returns how many connections were accepted.
pub async fn serve(
    listener: TcpListener,
    store: Box<dyn Inbox>,
    opts: HubOptions,
    sink: HubSink,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, StoreError> {
    let opts = Arc::new(opts);
    let hub = Hub::new(store, opts.clone(), sink.clone())?;
    let (cmd_tx, ack_rx, cmd_rx) = HubTx::new();
    if let (Some(url), Some(node)) = (&opts.redis, hub.node()) {
        let weak = cmd_tx.cmds.downgrade();
        super::cluster::subscribe(url, node.to_string(), move |r| match weak.upgrade() {
            Some(tx) => {
                if !r.node.is_empty() {
                    let _ = tx.blocking_send(Cmd::Remote(r));
                }
                true
            }
            None => false,
        })
        .map_err(StoreError::Jobs)?;
    }
    let (failed_tx, mut failed_rx) = oneshot::channel();
    let hub_join = tokio::spawn(hub_task(hub, ack_rx, cmd_rx, failed_tx));
    let mut failure: Option<StoreError> = None;
    let (stop_tx, stop_rx) = watch::channel(false);
    let accept_opts = Arc::new(AcceptOptions {
        config: Config {
            limits: crate::wire::websocket::Limits {
                max_frame: opts.max_message,
                max_message: opts.max_message,
            },
        },
        timeout: Duration::from_secs(10),
        page: Some(PAGE),
    });
    let mut tasks = JoinSet::new();
    let mut accepted = 0u64;
    let mut idle_since = Instant::now();
    tokio::pin!(shutdown);
    let mut reason = "interrupted";
    loop {
        if opts.max_conns.is_some_and(|m| accepted >= m) {
            reason = "served --max-conns connections";
            break;
        }
        let idle_limit = if tasks.is_empty() {
            opts.exit_after_idle
        } else {
            None
        };
        let idle = async {
            match idle_limit {
                Some(d) => tokio::time::sleep_until((idle_since + d).into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = idle => { reason = "idle (--exit-after-idle)"; break; }
            // Polled at most once: the loop ends when it completes.
            r = &mut failed_rx => {
                failure = Some(r.unwrap_or(StoreError::HubEnded));
                reason = "queue error";
                break;
            }
            r = listener.accept() => {
                let (stream, peer) = match r {
                    Ok(x) => x,
                    Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
                };
                accepted += 1;
                tasks.spawn(dispatch(accepted, stream, peer.to_string(), accept_opts.clone(), cmd_tx.clone(), sink.clone(), stop_rx.clone(), opts.sio.clone()));
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {
                if tasks.is_empty() { idle_since = Instant::now(); }
            }
        }
    }
    drop(listener);
    let interrupted = reason == "interrupted";
    if !interrupted && failure.is_none() {
        tokio::select! {
            _ = async { while tasks.join_next().await.is_some() {} } => {}
            _ = &mut shutdown => { reason = "interrupted"; }
        }
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(cmd_tx);
    let _ = hub_join.await;
    sink(HubEvent::Stopped {
        reason,
        connections: accepted,
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(accepted),
    }
}
