//! Flow control and one routing path, against the real binary on both stores: a reader that
//! pauses gets everything in order, once, with no redelivery (the credit window); volatile and
//! the queue cap hold for events that come from another hub; `hub listen` acks only what it
//! wrote to stdout, and a closed pipe ends it with status 0.

mod hub_common;
mod redis_common;
mod ws_common;

use std::collections::HashSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hub_common::{background, ok, wirelab};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as TMessage;
use ws_common::{spawn_server, Server};

/// `hub serve` on a free port: on a data directory, or on `redis` when given.
fn serve(dir: &std::path::Path, redis: Option<&str>, args: &[&str]) -> Server {
    let mut cmd: Command = wirelab();
    cmd.args(["hub", "serve", "--listen", "127.0.0.1:0", "--quiet"]);
    match redis {
        Some(url) => cmd.args(["--store", url]),
        None => cmd.arg("--data").arg(dir),
    };
    cmd.args(args);
    spawn_server(cmd)
}

fn text(m: TMessage) -> Option<Value> {
    match m {
        TMessage::Text(t) => serde_json::from_str(t.as_str()).ok(),
        _ => None,
    }
}

/// 100,000 durable events to an identified client that is connected but reads nothing for a
/// second, then reads and acks as fast as it can.
fn paused_reader(redis: Option<&str>) {
    const N: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), redis, &["--queue-cap", "200000"]);
    let addr = server.addr.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (mut reader, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/flow?client=slow"))
                .await
                .unwrap();
        let welcome = text(reader.next().await.unwrap().unwrap()).unwrap();
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let (emitter, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/flow"))
            .await
            .unwrap();
        let (mut tx, mut rx) = emitter.split();
        let answers = tokio::spawn(async move {
            let mut n = 0u64;
            while n < N {
                match rx.next().await {
                    Some(Ok(m)) => {
                        if text(m).is_some_and(|v| v["type"] == "emitted" && v["queued"] == 1) {
                            n += 1;
                        }
                    }
                    _ => break,
                }
            }
            n
        });
        let send = tokio::spawn(async move {
            for i in 1..=N {
                let f = json!({"type":"emit","event":"n","data":i,"to":"client","client":"slow"});
                tx.feed(TMessage::text(f.to_string())).await.unwrap();
            }
            tx.flush().await.unwrap();
            tx
        });
        // The pause: not a byte read for a second while the events pour in.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut seen = HashSet::new();
        let mut last_data = 0u64;
        let mut last_id = 0u64;
        let deadline = Instant::now() + Duration::from_secs(120);
        while (seen.len() as u64) < N {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = tokio::time::timeout(left, reader.next())
                .await
                .unwrap_or_else(|_| panic!("only {} of {N} events arrived", seen.len()))
                .unwrap()
                .unwrap();
            let Some(v) = text(m) else { continue };
            if v["type"] != "event" {
                continue;
            }
            let id = v["id"].as_u64().unwrap();
            let data = v["data"].as_u64().unwrap();
            assert_eq!(v["redelivery"], false, "a redelivery after the pause: {v}");
            assert!(seen.insert(id), "event {id} came twice");
            assert!(id > last_id, "id {id} after {last_id}: out of order");
            assert_eq!(data, last_data + 1, "event {data} after {last_data}");
            last_id = id;
            last_data = data;
            let ack = json!({"type":"ack","id":id});
            reader.send(TMessage::text(ack.to_string())).await.unwrap();
        }
        assert_eq!(answers.await.unwrap(), N, "every emit was queued");
        let _tx = send.await.unwrap();
        // Nothing more comes: no redelivery of anything acknowledged.
        let more = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                match reader.next().await {
                    Some(Ok(m)) => {
                        if let Some(v) = text(m) {
                            if v["type"] == "event" {
                                return v;
                            }
                        }
                    }
                    _ => std::future::pending::<()>().await,
                }
            }
        })
        .await;
        assert!(more.is_err(), "an extra event: {more:?}");
        let _ = reader.close(None).await;
    });
    assert!(server.interrupt().success());
}

#[test]
fn paused_reader_gets_100k_durable_events_in_order_once_sqlite() {
    paused_reader(None);
}

#[test]
fn paused_reader_gets_100k_durable_events_in_order_once_redis() {
    let r = redis_common::start();
    paused_reader(Some(&r.url));
}
