//! What the tests against real exporters share.

/// A loopback port nothing listens on now (the OS picks it), for a server the test starts.
#[allow(dead_code)] // not every test binary starts a server of its own
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Posts a remote-write body over plain HTTP/1.1 (as Prometheus does: snappy, protobuf) and
/// returns the status code.
#[allow(dead_code)] // not every test binary posts
pub fn post_remote_write(url_addr: std::net::SocketAddr, path: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(url_addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {url_addr}\r\nContent-Encoding: snappy\r\nContent-Type: application/x-protobuf\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // A server refusing a body early (413 on Content-Length) may answer and close before the
    // body is sent, or reset the connection after its answer: keep whatever arrived.
    let _ = sock
        .write_all(head.as_bytes())
        .and_then(|()| sock.write_all(body));
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n) = sock.read(&mut chunk) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&answer[9..12]).parse().unwrap()
}

/// Whether the local opt-out `var` (`PROMIG_SKIP_...=1`) is set; if so, says on stderr which
/// test it skips and why, so a run that "passed" without the tool cannot pass for one that ran.
/// `.ci/run` refuses to run with any such variable set.
#[allow(dead_code)] // not every test binary has an opt-out
pub fn skip_requested(var: &str, needs: &str) -> bool {
    if !std::env::var(var).is_ok_and(|v| v == "1") {
        return false;
    }
    // libtest names each test's thread after the test.
    use std::io::Write as _;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    // Straight to the process's stderr rather than `eprintln!`: libtest captures the macros'
    // output and shows it only for failing tests (or with --nocapture), and a skip passes.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {var}=1 is set, so it ran without {needs}"
    );
    true
}

/// Everything a store holds, series by series (values as bits, so NaN equals NaN): two equal
/// snapshots mean the same series, in the same order, with the same samples.
#[allow(dead_code)] // not every test binary compares stores
pub fn contents(store: &promig_telemetry::Store) -> Vec<(String, Vec<(i64, u64)>)> {
    (0..store.len() as u32)
        .map(|id| {
            let samples = store
                .samples(id)
                .into_iter()
                .map(|(t, v)| (t, v.to_bits()))
                .collect();
            (store.name(id).into_owned(), samples)
        })
        .collect()
}

/// A loopback HTTP server answering `GET /metrics` with `text` (exposition format) until the
/// returned guard is dropped; the port it listens on.
#[allow(dead_code)] // not every test binary serves
pub fn serve_metrics(text: &'static str) -> (u16, ServerGuard) {
    use axum::http::header::CONTENT_TYPE;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().route(
                "/metrics",
                axum::routing::get(move || async move {
                    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text)
                }),
            );
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    (
        port,
        ServerGuard {
            stop: Some(stop),
            thread: Some(thread),
        },
    )
}

/// Stops the server of [`serve_metrics`] when dropped.
#[allow(dead_code)]
pub struct ServerGuard {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
