//! Helper for `benches/ws.sh` (tokio-tungstenite is a dev-dependency only):
//!
//! - `ws_bench tungstenite-echo ADDR`: a tokio-tungstenite echo server, the reference that
//!   `wirelab ws serve --echo` is compared with; prints `listening on ADDR`.
//! - `ws_bench load URL CLIENTS SECONDS SIZE text|binary`: CLIENTS concurrent tokio-tungstenite
//!   clients, each sending a SIZE-byte message and waiting for its echo, over and over, for
//!   SECONDS; prints `round_trips N per_s X mib_per_s Y`. The same client drives both servers.
//! - `ws_bench load-deflate URL CLIENTS SECONDS SIZE`: the same with wirelab's own client and
//!   permessage-deflate (tokio-tungstenite has none), sending SIZE bytes of chat-like text.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        "tungstenite-echo" => echo_server(&arg(2)).await,
        "load" => {
            let clients: usize = arg(3).parse().unwrap_or(1);
            let seconds: f64 = arg(4).parse().unwrap_or(5.0);
            let size: usize = arg(5).parse().unwrap_or(32);
            load(&arg(2), clients, seconds, size, arg(6) == "binary").await
        }
        "load-deflate" => {
            let clients: usize = arg(3).parse().unwrap_or(1);
            let seconds: f64 = arg(4).parse().unwrap_or(5.0);
            let size: usize = arg(5).parse().unwrap_or(32);
            load_deflate(&arg(2), clients, seconds, size).await
        }
        _ => {
            eprintln!("usage: ws_bench tungstenite-echo ADDR | ws_bench load URL CLIENTS SECONDS SIZE text|binary");
            std::process::exit(2);
        }
    }
}

async fn echo_server(addr: &str) {
    let listener = TcpListener::bind(addr).await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("addr"));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            while let Some(Ok(m)) = ws.next().await {
                if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                    break;
                }
            }
        });
    }
}

async fn load(url: &str, clients: usize, seconds: f64, size: usize, binary: bool) {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
                .await
                .expect("connect");
            let msg = if binary {
                Message::binary(vec![0x5au8; size])
            } else {
                Message::text("x".repeat(size))
            };
            let mut n = 0u64;
            while Instant::now() < deadline {
                ws.send(msg.clone()).await.expect("send");
                match ws.next().await {
                    Some(Ok(m)) if m.len() == size => n += 1,
                    other => panic!("bad echo: {other:?}"),
                }
            }
            let _ = ws.close(None).await;
            n
        }));
    }
    report(tasks, seconds, size).await;
}

/// Chat-like text: words and numbers, compressible as real messages are (not one letter).
fn chat_text(size: usize) -> String {
    let words = [
        "hello",
        "room",
        "ada",
        "message",
        "the",
        "network",
        "packet",
        "ok",
        "{\"user\":",
    ];
    let mut s = String::new();
    let mut i = 0usize;
    while s.len() < size {
        s.push_str(words[(i * 7 + i / 3) % words.len()]);
        s.push_str(&format!(" {} ", i % 97));
        i += 1;
    }
    s.truncate(size);
    s
}

async fn load_deflate(url: &str, clients: usize, seconds: f64, size: usize) {
    use wirelab::ws::client::{connect_with, WsUrl};
    use wirelab::ws::conn::{Config, Message as WsMessage};
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let url = WsUrl::parse(url).expect("url");
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = connect_with(&url, Config::default(), Duration::from_secs(10), true)
                .await
                .expect("connect");
            assert!(
                c.deflate.is_some(),
                "the server did not accept permessage-deflate"
            );
            let msg = WsMessage::Text(chat_text(size));
            let mut n = 0u64;
            while Instant::now() < deadline {
                c.ws.send(&msg).await.expect("send");
                match c.ws.recv().await {
                    Ok(Ok(m)) if m.len() == size => n += 1,
                    other => panic!("bad echo: {other:?}"),
                }
            }
            let _ = c.ws.close(None).await;
            n
        }));
    }
    report(tasks, seconds, size).await;
}

/// Waits for the client tasks and prints the totals.
async fn report(tasks: Vec<tokio::task::JoinHandle<u64>>, seconds: f64, size: usize) {
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("client task");
    }
    let per_s = total as f64 / seconds;
    let mib_per_s = per_s * size as f64 / (1024.0 * 1024.0);
    println!("round_trips {total} per_s {per_s:.0} mib_per_s {mib_per_s:.1}");
}
