//! One connection's task: read, write it all back, repeat. The same
//! code for a TCP and a Unix stream connection: generic over tokio's
//! `AsyncRead + AsyncWrite`, with what differs by kind as plain values in
//! the [`Ctx`] (`nodelay`, the `lossless` close rule).

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::OwnedSemaphorePermit;

use super::{drained, Ctx};
use crate::log::Ended;

/// Serves one client until its EOF, an error, `--idle-timeout`, or the end
/// of a drain. `permit` is its `--max-conns` slot, given back only once
/// the socket is closed, so no more than that many are ever open.
pub async fn run<S, P>(mut stream: S, peer: P, mut ctx: Ctx, permit: Option<OwnedSemaphorePermit>)
where
    S: AsyncRead + AsyncWrite + AsFd + Unpin,
    P: fmt::Debug,
{
    if !ctx.nodelay || crate::net::set_nodelay(&stream).is_ok() {
        let mut buf = vec![0u8; ctx.max_buffer];
        // Errors are the peer's (or its idleness): this connection ends,
        // no other.
        let id = ctx.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        crate::log::accepted(id, || io::Result::Ok(peer));
        ctx.tally.accepted();
        let served = echo(&mut stream, &mut buf, &mut ctx).await;
        ctx.tally.closed(&served);
        crate::log::closed(id, &served);
    }
    drop(stream);
    drop(permit);
}

/// The echo loop. Memory is `buf`: nothing is read while a write is
/// pending, so a client that does not read stalls only itself.
async fn echo<S: AsyncRead + AsyncWrite + AsFd + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
    ctx: &mut Ctx,
) -> io::Result<Ended> {
    loop {
        // Only the read is raced against the drain: a cancelled read has
        // taken nothing, while bytes already read are owed to the client.
        let n = tokio::select! {
            biased;
            () = drained(&mut ctx.drain) => return stop(stream, buf, ctx).await,
            n = bounded(ctx.idle, stream.read(buf)) => n?,
        };
        if n == 0 {
            return Ok(Ended::ClientEof); // with everything echoed
        }
        write_all(stream, &buf[..n], ctx.idle).await?;
        ctx.tally.echoed(n);
    }
}

/// `write_all` with `--idle-timeout` applied to each write rather than to
/// the whole: a slow reader that keeps taking bytes is not idle, one that
/// takes nothing for that long is (the reactor's and the blocking models'
/// rule too).
async fn write_all<S: AsyncWrite + Unpin>(
    stream: &mut S,
    mut data: &[u8],
    idle: Option<Duration>,
) -> io::Result<()> {
    if idle.is_none() {
        return stream.write_all(data).await;
    }
    while !data.is_empty() {
        match bounded(idle, stream.write(data)).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => data = &data[n..],
        }
    }
    Ok(())
}

/// `io` with `--idle-timeout` as its time limit, if there is one. Any
/// duration is safe: tokio saturates deadlines that do not fit.
async fn bounded<T>(
    idle: Option<Duration>,
    io: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match idle {
        Some(limit) => tokio::time::timeout(limit, io)
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
        None => io.await,
    }
}

/// The drain, with nothing in hand: close now if that loses nothing;
/// otherwise shut the write side (the client sees EOF after its last
/// byte) and discard input until the client closes, never resetting echo
/// still queued. The shutdown deadline bounds how long that may take.
async fn stop<S: AsyncRead + AsyncWrite + AsFd + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
    ctx: &Ctx,
) -> io::Result<Ended> {
    if (ctx.lossless)(stream.as_fd().as_raw_fd()) {
        return Ok(Ended::QuietAtShutdown); // the caller drops the socket: a clean FIN
    }
    stream.shutdown().await?;
    while stream.read(buf).await? > 0 {}
    Ok(Ended::AfterShutdownEof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;

    // The `--idle-timeout` half of the timeout overflow: Duration::MAX arms a
    // timeout on every read and write without panicking, and is not taken
    // for a zero one.
    #[test]
    fn duration_max_idle_timeout_still_serves() {
        super::super::tests::runtime().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (stream, peer) = listener.accept().await.unwrap();
            let (_flag, drain) = watch::channel(false);
            let ctx = Ctx {
                max_buffer: 512,
                idle: Some(Duration::MAX),
                nodelay: true,
                lossless: crate::net::close_is_lossless,
                limit: None,
                max_conns: 0,
                refusing: Default::default(),
                ids: Default::default(),
                tally: Default::default(),
                drain,
            };
            let task = tokio::spawn(run(stream, peer, ctx, None));
            let exchange = async {
                client.write_all(b"a year is not enough").await?;
                let mut got = [0u8; 20];
                client.read_exact(&mut got).await?;
                client.shutdown().await?;
                let rest = client.read(&mut got).await?;
                io::Result::Ok((got, rest))
            };
            let (got, rest) = tokio::time::timeout(Duration::from_secs(20), exchange)
                .await
                .expect("no echo within 20 s")
                .expect("echo");
            assert_eq!(&got, b"a year is not enough");
            assert_eq!(rest, 0, "EOF after the echo");
            task.await.expect("the connection task ended cleanly");
        });
    }
}
