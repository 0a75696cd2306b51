//! Connections against the real server: idle, slow-header and slow-body
//! clients are closed by the server within `--idle-timeout`,
//! `--header-timeout` and `--body-timeout`; `--max-connections` holds and
//! `/health` still answers while clients hog every connection (also when the
//! process runs out of file descriptors); made-up methods and paths never grow
//! `/metrics`.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Server, applied_repo, metrics, spawn_server, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Longer than any timeout here: a connection still open after this is held.
const HELD: Duration = Duration::from_secs(30);

fn address(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection; what it sent. Panics when
/// the connection is still open after [`HELD`].
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(HELD, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    });
    read.await.expect("the server held the connection open");
    String::from_utf8_lossy(&received).into_owned()
}

/// Writes `head` then one byte of `trickle` every 100 ms (never finishing)
/// until the server closes the connection; what the server sent.
async fn trickle(address: &str, head: &[u8], trickle: &[u8]) -> String {
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head).await.unwrap();
    let trickle = trickle.to_vec();
    let slow = tokio::spawn(async move {
        for byte in trickle.iter().cycle() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
        }
    });
    let mut received = Vec::new();
    tokio::time::timeout(HELD, reader.read_to_end(&mut received))
        .await
        .expect("the server held the slow connection open")
        .ok();
    slow.abort();
    String::from_utf8_lossy(&received).into_owned()
}

/// The value of the sample `name` in the metrics text (0 when absent).
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_slow_header_and_slow_body_connections_are_closed_by_the_server() {
    let (_dir, repo) = applied_repo("conn_timeouts");
    let args = [
        "--idle-timeout",
        "1s",
        "--header-timeout",
        "1s",
        "--body-timeout",
        "1s",
    ];
    let server = start_server(&repo, &args, &[]);
    let address = address(&server);
    let mut clients = JoinSet::new();
    for _ in 0..20 {
        let address = address.clone();
        clients.spawn(async move {
            let mut idle = TcpStream::connect(&address).await.unwrap();
            ("idle", until_closed(&mut idle).await)
        });
    }
    for _ in 0..10 {
        let address = address.clone();
        clients.spawn(async move {
            let head = b"GET /health HTTP/1.1\r\nHost: quiver\r\n";
            ("header", trickle(&address, head, b"X-Slow: yes\r\n").await)
        });
    }
    for _ in 0..10 {
        let address = address.clone();
        clients.spawn(async move {
            let head = b"POST /push HTTP/1.1\r\nHost: quiver\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
            ("body", trickle(&address, head, b" ").await)
        });
    }
    // A keep-alive connection that asked once is idle again, and closed.
    clients.spawn({
        let address = address.clone();
        async move {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: quiver\r\n\r\n")
                .await
                .unwrap();
            ("kept-alive", until_closed(&mut stream).await)
        }
    });
    let mut closed = std::collections::BTreeMap::<&str, usize>::new();
    while let Some(done) = clients.join_next().await {
        let (kind, answer) = done.unwrap();
        match kind {
            "idle" | "header" => assert_eq!(answer, "", "{kind}: closed without an answer"),
            "body" => {
                assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
                assert!(answer.contains("\"request_timeout\""), "{answer}");
                assert!(answer.contains("--body-timeout"), "{answer}");
            }
            _ => assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}"),
        }
        *closed.entry(kind).or_default() += 1;
    }
    let expected = [
        ("body", 10),
        ("header", 10),
        ("idle", 20),
        ("kept-alive", 1),
    ];
    assert_eq!(closed, expected.into_iter().collect());

    let text = metrics(&server).await;
    let timed_out = |phase: &str| {
        sample(
            &text,
            &format!("quiver_http_connections_timed_out_total{{phase=\"{phase}\"}}"),
        )
    };
    assert!(timed_out("idle") >= 21.0, "{text}");
    assert_eq!(timed_out("header"), 10.0, "{text}");
    assert_eq!(timed_out("body"), 10.0, "{text}");
    // Only the scrape's own connection (and perhaps a previous one of the
    // client's pool) is still open.
    assert!(sample(&text, "quiver_http_connections") <= 2.0, "{text}");
}

/// Sends one keep-alive `GET /health` and reads its answer: the server has
/// accepted the connection and holds it.
async fn held_connection(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let answer = ask_health(&mut stream, false).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    stream
}

/// `GET /health` on `stream`; the head and body of the answer.
async fn ask_health(stream: &mut TcpStream, close: bool) -> String {
    let connection = if close { "close" } else { "keep-alive" };
    stream
        .write_all(
            format!("GET /health HTTP/1.1\r\nHost: quiver\r\nConnection: {connection}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    // `{"status":"ok"}` ends the body.
    while !received.ends_with(b"}") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed before answering");
        received.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_and_health_answers_while_clients_hog_it() {
    let (_dir, repo) = applied_repo("conn_limit");
    let args = [
        "--max-connections",
        "4",
        "--idle-timeout",
        "5s",
        "--header-timeout",
        "1s",
    ];
    let server = start_server(&repo, &args, &[]);
    let address = address(&server);

    // Four clients hold every connection the server allows.
    let mut hogs = Vec::new();
    for _ in 0..4 {
        hogs.push(held_connection(&address).await);
    }
    let mut waiting = TcpStream::connect(&address).await.unwrap();
    waiting
        .write_all(b"GET /health HTTP/1.1\r\nHost: quiver\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut first)).await;
    assert!(early.is_err(), "a fifth connection was served: {early:?}");
    // The hogs' idle clocks run out; then the fifth client is answered.
    let answer = until_closed(&mut waiting).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    for hog in &mut hogs {
        assert_eq!(until_closed(hog).await, "", "the idle hog was closed");
    }

    // Clients that reconnect as soon as they are closed never starve /health.
    let mut hoggers = JoinSet::new();
    for _ in 0..12 {
        let address = address.clone();
        hoggers.spawn(async move {
            loop {
                if let Ok(mut stream) = TcpStream::connect(&address).await {
                    let mut buffer = [0u8; 64];
                    while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {}
                }
            }
        });
    }
    for _ in 0..3 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        let answer = tokio::time::timeout(HELD, ask_health(&mut stream, true))
            .await
            .expect("/health starved while clients hog the connections");
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    }
    hoggers.abort_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_when_idle_clients_exhaust_the_file_descriptors() {
    let (_dir, repo) = applied_repo("conn_emfile");
    // 48 descriptors: the server runs out long before 150 connections.
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "ulimit -n 48 && exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_quiver"),
        "--repo",
        repo.to_str().unwrap(),
        "serve",
        "--port",
        "0",
        "--flight-port",
        "0",
        "--idle-timeout",
        "1s",
    ]);
    let server = spawn_server(command);
    let address = address(&server);
    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(TcpStream::connect(&address).await.unwrap());
    }
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let answer = tokio::time::timeout(HELD, ask_health(&mut stream, true))
        .await
        .expect("/health starved while the server had no file descriptors left");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    for connection in &mut idle {
        assert_eq!(until_closed(connection).await, "");
    }
}

/// Sends made-up methods and paths numbered `range` on one connection;
/// each must be answered 404 or 405.
async fn made_up_requests(stream: &mut TcpStream, range: std::ops::Range<usize>) {
    for i in range {
        let (method, path) = match i % 3 {
            0 => (format!("MADEUP{i}"), "/health".to_string()),
            1 => (format!("X{i}"), format!("/no/such/route/{i}")),
            _ => ("GET".to_string(), format!("/invented-{i}")),
        };
        stream
            .write_all(format!("{method} {path} HTTP/1.1\r\nHost: quiver\r\n\r\n").as_bytes())
            .await
            .unwrap();
        // Every error answer is JSON ending in `}`.
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        while !received.ends_with(b"}") {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "{method} {path}: closed");
            received.extend_from_slice(&buffer[..n]);
        }
        let answer = String::from_utf8_lossy(&received);
        assert!(
            answer.starts_with("HTTP/1.1 405 ") || answer.starts_with("HTTP/1.1 404 "),
            "{method} {path}: {answer}"
        );
    }
}

/// The label sets of the request series in a metrics text.
fn request_series(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("quiver_http_request_duration_seconds_count"))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_and_paths_never_grow_the_metrics() {
    let (_dir, repo) = applied_repo("conn_metrics");
    let server = start_server(&repo, &[], &[]);
    // The scrape counts itself from the second one on.
    metrics(&server).await;
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    made_up_requests(&mut stream, 0..300).await;
    let first = metrics(&server).await;
    made_up_requests(&mut stream, 300..900).await;
    let second = metrics(&server).await;

    let series = request_series(&second);
    for label in [
        r#"{route="unmatched",method="other",status="404"}"#,
        r#"{route="unmatched",method="GET",status="404"}"#,
        r#"{route="/health",method="other",status="405"}"#,
    ] {
        assert!(series.contains(label), "{label}: {series:?}");
    }
    assert!(
        !second.contains("MADEUP") && !second.contains("invented") && !second.contains("/no/such"),
        "{second}"
    );
    // Twice as many made-up requests again: not one more series, and only
    // the counts' digits longer.
    assert_eq!(request_series(&first), series);
    assert!(
        second.len() < first.len() + 1024,
        "{} -> {} bytes",
        first.len(),
        second.len()
    );
}
