//! The reference point for saturation: an echo server as a tokio user
//! writes it with no daemon concerns at all. A `current_thread` runtime,
//! one task per connection, a 16 KiB buffer per task, `read` then
//! `write_all`. No limits, no drain, no metrics, no logs.
//!
//! ```sh
//! cargo run --release --example plain_tokio -- 127.0.0.1:0
//! ```
//!
//! It prints `listening on tcp://ADDR` like echod, so `loadgen` and the
//! benchmark scripts can start it the same way. docs/performance.md
//! measures the reactor against it.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Bytes read per call: the buffer a tokio example typically gives a task.
const BUFFER: usize = 16 << 10;

fn main() {
    let addr: SocketAddr = match std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("127.0.0.1:0")
        .parse()
    {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("plain_tokio: ADDR: {e} (expected e.g. 127.0.0.1:7007)");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a current-thread runtime");
    rt.block_on(async move {
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("plain_tokio: cannot listen on {addr}: {e}");
                std::process::exit(2);
            }
        };
        println!(
            "listening on tcp://{}",
            listener.local_addr().expect("bound")
        );
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let _ = sock.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; BUFFER];
                loop {
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if sock.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}
