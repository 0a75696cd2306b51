//! Redis-specific behaviour: the key layout, key expiry, availability errors,
//! reconnection after an outage and the script cache. Runs against the real Redis.
// Tests panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

use common::{Harness, SECOND, T0, key, read_view, row, view};
use quiver_online::{
    EntityKey, OnlineError, OnlineStore, RedisOptions, RedisStore, Status, Value, codec, now_us,
};
use quiver_testkit::{TcpProxy, split_redis_url};

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(quiver_testkit::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("the test Redis must be running (see scripts/test.sh)")
}

async fn project_keys(project: &str) -> Vec<String> {
    let mut conn = raw().await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("quiver:{project}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    keys.sort();
    keys
}

async fn pttl(key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut raw().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn one_hash_per_entity_with_a_hash_tag() {
    let h = Harness::redis("layout");
    let store = h.store().await;
    let k = EntityKey::new(vec![
        ("driver_id".into(), Value::Int64(1001)),
        ("city".into(), Value::String("{paris}".into())),
    ])
    .unwrap();
    let a = view("a", &["x"], None);
    let b = view("b", &["y"], None);
    store
        .write(
            &a,
            &[row(k.clone(), T0, Some(T0 + 1), vec![Value::Int64(7)])],
        )
        .await
        .unwrap();
    store
        .write(&b, &[row(k.clone(), T0 - SECOND, None, vec![Value::Null])])
        .await
        .unwrap();

    let keys = project_keys(&h.project("a")).await;
    assert_eq!(
        keys.len(),
        1,
        "both views of one entity live in one hash: {keys:?}"
    );
    let name = &keys[0];
    let prefix = format!("quiver:{}:{{", h.project("a"));
    assert!(name.starts_with(&prefix) && name.ends_with('}'), "{name}");
    let tag = &name[prefix.len()..name.len() - 1];
    assert!(tag.bytes().all(|c| c.is_ascii_hexdigit()), "{tag}");
    assert_eq!(tag, hex(k.as_bytes()));
    // The hash tag decides the cluster slot: the entity stays on one node.
    assert_eq!(
        redis::cluster_routing::Slot::for_key(name),
        redis::cluster_routing::Slot::for_key(tag)
    );

    let mut conn = raw().await;
    let fields: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
        .arg(name)
        .query_async(&mut conn)
        .await
        .unwrap();
    let names: BTreeSet<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
    // One field per view: the view's whole row as one record.
    assert_eq!(names, BTreeSet::from(["a", "b"]));
    let get = |f: &str| fields.iter().find(|(n, _)| n == f).unwrap().1.clone();
    let a = get("a");
    // The fixed header the guard script reads: format, event, created flag and time.
    assert_eq!(a[0], 2);
    assert_eq!(a[1..9], T0.to_le_bytes());
    assert_eq!(a[9], 1);
    assert_eq!(a[10..18], (T0 + 1).to_le_bytes());
    // Values are the compact binary encoding, not JSON.
    assert!(
        a.ends_with(&codec::encode_to_vec(&Value::Int64(7))),
        "{a:?}"
    );
    let b = get("b");
    assert_eq!((b[9], b.last()), (0, Some(&0)));
    h.finish().await;
}

/// Entities written by quiver builds before the record (one field per feature,
/// times as decimal strings) are read as they are; a newer write replaces them
/// with the record, an older one is dropped against their times.
#[tokio::test]
async fn the_legacy_field_per_feature_layout_is_read_and_replaced() {
    let h = Harness::redis("legacy");
    let store = h.store().await;
    let v = view("v", &["x", "y"], None);
    let name = |id: i64| format!("quiver:{}:{{{}}}", h.project("a"), hex(key(id).as_bytes()));
    let mut conn = raw().await;
    for id in [1, 2] {
        let _: () = redis::cmd("HSET")
            .arg(name(id))
            .arg("v:__ts")
            .arg(T0.to_string())
            .arg("v:__created")
            .arg((T0 + 5).to_string())
            .arg("v:x")
            .arg(codec::encode_to_vec(&Value::Int64(id)))
            .arg("v:y")
            .arg(codec::encode_to_vec(&Value::String("old".into())))
            .arg("other:__ts")
            .arg(T0.to_string())
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let rv = [read_view(&v)];
    let got = store
        .read(&[key(1), key(2), key(3)], &rv, T0)
        .await
        .unwrap();
    assert_eq!(got[0][0].status, Status::Present);
    assert_eq!(got[0][0].event_ts, Some(T0));
    assert_eq!(
        got[1][0].values,
        vec![Value::Int64(2), Value::String("old".into())]
    );
    assert_eq!(got[2][0].status, Status::NotFound);

    // Same event, earlier created: older than the legacy row, dropped.
    let older = row(
        key(1),
        T0,
        Some(T0 + 4),
        vec![Value::Int64(10), Value::Null],
    );
    let newer = row(
        key(2),
        T0,
        Some(T0 + 6),
        vec![Value::Int64(20), Value::Null],
    );
    let report = store.write(&v, &[older, newer]).await.unwrap();
    assert_eq!((report.written, report.dropped_older), (1, 1));
    let got = store.read(&[key(1), key(2)], &rv, T0).await.unwrap();
    assert_eq!(got[0][0].values[0], Value::Int64(1));
    assert_eq!(got[1][0].values, vec![Value::Int64(20), Value::Null]);

    let fields = |id: i64| {
        let name = name(id);
        let mut conn = conn.clone();
        async move {
            let mut f: Vec<String> = redis::cmd("HKEYS")
                .arg(name)
                .query_async(&mut conn)
                .await
                .unwrap();
            f.sort();
            f
        }
    };
    assert_eq!(
        fields(1).await,
        ["other:__ts", "v:__created", "v:__ts", "v:x", "v:y"]
    );
    // The record replaced the view's legacy fields, and only that view's.
    assert_eq!(fields(2).await, ["other:__ts", "v"]);
    h.finish().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn key_expiry_follows_the_longest_ttl() {
    let options = RedisOptions {
        key_expiry: true,
        ..RedisOptions::default()
    };
    let h = Harness::redis_with("expiry", options);
    let store = h.store().await;
    let hourly = view("hourly", &["x"], Some(Duration::from_secs(3600)));
    let minute = view("minute", &["x"], Some(Duration::from_secs(60)));
    let forever = view("forever", &["x"], None);
    let name = |id: i64| format!("quiver:{}:{{{}}}", h.project("a"), hex(key(id).as_bytes()));
    let now = now_us();
    let one = |id: i64| vec![row(key(id), now, None, vec![Value::Int64(id)])];

    store.write(&hourly, &one(1)).await.unwrap();
    let t = pttl(&name(1)).await;
    assert!(t > 3_500_000 && t <= 3_600_000, "PTTL {t}");
    // A shorter TTL on another view of the same entity never shortens the expiry.
    store.write(&minute, &one(1)).await.unwrap();
    let t = pttl(&name(1)).await;
    assert!(t > 3_500_000, "PTTL {t}");
    // An entity with only the short view expires with it.
    store.write(&minute, &one(2)).await.unwrap();
    let t = pttl(&name(2)).await;
    assert!(t > 0 && t <= 60_000, "PTTL {t}");
    // The expiry follows the event time, not the write time.
    store
        .write(
            &hourly,
            &[row(key(3), now - 1800 * SECOND, None, vec![Value::Null])],
        )
        .await
        .unwrap();
    let t = pttl(&name(3)).await;
    assert!(t > 1_700_000 && t <= 1_800_000, "PTTL {t}");
    // A view without TTL makes the entity persistent, and it stays so.
    store.write(&forever, &one(1)).await.unwrap();
    assert_eq!(pttl(&name(1)).await, -1);
    store
        .write(
            &hourly,
            &[row(key(1), now + SECOND, None, vec![Value::Null])],
        )
        .await
        .unwrap();
    assert_eq!(pttl(&name(1)).await, -1);
    // A dropped (older) row changes nothing.
    store
        .write(
            &minute,
            &[row(key(2), now - SECOND, None, vec![Value::Null])],
        )
        .await
        .unwrap();
    let t = pttl(&name(2)).await;
    assert!(t > 0 && t <= 60_000, "PTTL {t}");
    h.finish().await;

    // With key expiry off (the default) keys never expire.
    let h = Harness::redis("no_expiry");
    let store = h.store().await;
    store.write(&minute, &one(1)).await.unwrap();
    let keys = project_keys(&h.project("a")).await;
    assert_eq!(pttl(&keys[0]).await, -1);
    h.finish().await;
}

#[tokio::test]
async fn ping_fails_fast_with_unavailable_when_redis_is_down() {
    let options = RedisOptions::default();
    let store = RedisStore::connect("redis://:s3cret@127.0.0.1:1", "nobody", options)
        .await
        .expect("connect is lazy: it succeeds without Redis");
    let started = Instant::now();
    let err = store.ping().await.expect_err("nothing listens on port 1");
    let elapsed = started.elapsed();
    assert!(err.is_unavailable(), "{err}");
    assert!(!err.is_user_error());
    let message = err.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(
        !message.contains("s3cret"),
        "the password is redacted: {message}"
    );
    assert!(
        elapsed <= options.timeout + Duration::from_millis(500),
        "{elapsed:?}"
    );
    println!("ping against a closed port failed after {elapsed:?}: {message}");

    let v = view("v", &["x"], None);
    let err = store
        .write(&v, &[row(key(1), T0, None, vec![Value::Null])])
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let err = store
        .read(&[key(1)], &[read_view(&v)], T0)
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let err = store.clear().await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}

#[tokio::test]
async fn cluster_seed_passwords_are_redacted() {
    let options = RedisOptions {
        cluster: true,
        timeout: Duration::from_millis(500),
        ..RedisOptions::default()
    };
    let store = RedisStore::connect(
        "redis://:pw1@127.0.0.1:1, redis://:pw1@127.0.0.1:2",
        "nobody",
        options,
    )
    .await
    .unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let shown = format!("{err} {store:?}");
    assert!(!shown.contains("pw1"), "{shown}");
    assert!(shown.contains("127.0.0.1:2"), "{shown}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and never replies.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let options = RedisOptions {
        timeout: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{port}"), "slow", options)
        .await
        .unwrap();
    let started = Instant::now();
    let err = store.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    held.abort();
}

#[tokio::test]
async fn invalid_configuration_is_a_user_error() {
    let options = RedisOptions::default();
    let err = RedisStore::connect("http://nope", "p", options)
        .await
        .unwrap_err();
    assert!(err.is_user_error(), "{err}");
    let err = RedisStore::connect(&quiver_testkit::redis_url(), "bad project", options)
        .await
        .unwrap_err();
    assert!(err.is_user_error(), "{err}");
    let err = RedisStore::connect(&quiver_testkit::redis_url(), "p{x}", options)
        .await
        .unwrap_err();
    assert!(err.is_user_error(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_an_outage_without_restarting() {
    let (target, _) = split_redis_url(&quiver_testkit::redis_url(), "x");
    let proxy = TcpProxy::start(target).await;
    let (_, url) = split_redis_url(
        &quiver_testkit::redis_url(),
        &format!("127.0.0.1:{}", proxy.port()),
    );
    let project = common::unique_project("outage");
    let options = RedisOptions {
        timeout: Duration::from_secs(1),
        ..RedisOptions::default()
    };
    let store = RedisStore::connect(&url, &project, options).await.unwrap();
    let v = view("v", &["x"], None);
    store
        .write(&v, &[row(key(1), T0, None, vec![Value::Int64(1)])])
        .await
        .unwrap();

    proxy.stop();
    let mut failures = 0;
    for _ in 0..3 {
        match store.ping().await {
            Err(e) => {
                assert!(e.is_unavailable(), "{e}");
                failures += 1;
            }
            Ok(()) => panic!("ping succeeded while the proxy is down"),
        }
    }
    assert_eq!(failures, 3);
    let err = store
        .write(&v, &[row(key(1), T0 + 1, None, vec![Value::Int64(2)])])
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let err = store
        .read(&[key(1)], &[read_view(&v)], T0)
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");

    proxy.restart().await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    loop {
        match store.ping().await {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_unavailable(), "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the store did not recover: {e}"),
        }
    }
    println!(
        "the store answered again {:?} after Redis came back",
        started.elapsed()
    );
    let report = store
        .write(&v, &[row(key(1), T0 + 2, None, vec![Value::Int64(3)])])
        .await
        .unwrap();
    assert_eq!(report.written, 1);
    let got = store.read(&[key(1)], &[read_view(&v)], T0).await.unwrap();
    assert_eq!(got[0][0].values, vec![Value::Int64(3)]);
    assert_eq!(store.clear().await.unwrap(), 1);
    proxy.stop();
}

#[tokio::test]
async fn reloads_the_guard_script_after_the_cache_is_flushed() {
    let h = Harness::redis("noscript");
    let store = h.store().await;
    let v = view("v", &["x"], None);
    store
        .write(&v, &[row(key(1), T0, None, vec![Value::Int64(1)])])
        .await
        .unwrap();
    // What a Redis restart does to the script cache.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut raw().await)
        .await
        .unwrap();
    let report = store
        .write(
            &v,
            &[
                row(key(1), T0 + 1, None, vec![Value::Int64(2)]),
                row(key(1), T0 - 1, None, vec![Value::Int64(0)]),
            ],
        )
        .await
        .unwrap();
    assert_eq!((report.written, report.dropped_older), (1, 1));
    let got = store.read(&[key(1)], &[read_view(&v)], T0).await.unwrap();
    assert_eq!(got[0][0].values, vec![Value::Int64(2)]);
    h.finish().await;
}

/// Against a real Redis Cluster at `QUIVER_TEST_REDIS_CLUSTER_URL`
/// (scripts/test.sh starts a 3-node cluster and sets it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_round_trip() {
    let url = std::env::var("QUIVER_TEST_REDIS_CLUSTER_URL")
        .expect("QUIVER_TEST_REDIS_CLUSTER_URL is not set: run scripts/test.sh, which starts a Redis Cluster");
    let options = RedisOptions {
        cluster: true,
        key_expiry: true,
        ..RedisOptions::default()
    };
    let project = common::unique_project("cluster");
    let store = RedisStore::connect(&url, &project, options).await.unwrap();
    let other = RedisStore::connect(&url, &format!("{project}_other"), options)
        .await
        .unwrap();
    store.ping().await.unwrap();
    let a = view("a", &["x"], Some(Duration::from_secs(3600)));
    let b = view("b", &["y"], None);
    let n = 2500;
    let now = now_us();
    let rows: Vec<_> = (0..n)
        .map(|i| row(key(i), now, None, vec![Value::Int64(i)]))
        .collect();
    assert_eq!(store.write(&a, &rows).await.unwrap().written, n as u64);
    assert_eq!(other.write(&a, &rows[..10]).await.unwrap().written, 10);
    let older: Vec<_> = (0..n)
        .map(|i| row(key(i), now - 1, None, vec![Value::Int64(-i)]))
        .collect();
    assert_eq!(
        store.write(&a, &older).await.unwrap().dropped_older,
        n as u64
    );
    store
        .write(
            &b,
            &[row(key(1), now, None, vec![Value::String("b".into())])],
        )
        .await
        .unwrap();
    let keys: Vec<_> = (0..n).map(key).collect();
    let got = store
        .read(&keys, &[read_view(&a), read_view(&b)], now)
        .await
        .unwrap();
    for (i, answer) in got.iter().enumerate() {
        assert_eq!(answer[0].values, vec![Value::Int64(i as i64)]);
        let expected_b = if i == 1 {
            Status::Present
        } else {
            Status::NotFound
        };
        assert_eq!(answer[1].status, expected_b);
    }
    assert_eq!(store.clear().await.unwrap(), n as u64);
    assert_eq!(other.clear().await.unwrap(), 10);
    let got = store.read(&keys[..5], &[read_view(&a)], now).await.unwrap();
    assert!(got.iter().all(|r| r[0].status == Status::NotFound));
    let _ = OnlineError::Invalid(String::new());
}

/// One write whose rows reach every node of the cluster, several rows per
/// entity spread through it: the guard batches rows per slot and keeps their
/// order, so each entity ends with its latest (event, created) row, exactly as
/// if the rows were written one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_batch_keeps_each_entitys_rows_in_order() {
    let url = std::env::var("QUIVER_TEST_REDIS_CLUSTER_URL")
        .expect("QUIVER_TEST_REDIS_CLUSTER_URL is not set: run scripts/test.sh, which starts a Redis Cluster");
    let options = RedisOptions {
        cluster: true,
        ..RedisOptions::default()
    };
    let project = common::unique_project("cluster_batch");
    let store = RedisStore::connect(&url, &project, options).await.unwrap();
    let v = view("v", &["x"], None);
    let entities = 300_i64;
    let now = now_us();
    // Round r writes every entity once: event times rise with r except in
    // round 2, older than round 1 (dropped), and round 4 repeats round 3's
    // event with a later created time (wins).
    let event_of = |r: i64| match r {
        2 => now - 10,
        4 => now + 3,
        _ => now + r,
    };
    let rows: Vec<_> = (0..5)
        .flat_map(|r| (0..entities).map(move |e| (r, e)))
        .map(|(r, e)| {
            row(
                key(e),
                event_of(r),
                Some(r),
                vec![Value::Int64(r * 1000 + e)],
            )
        })
        .collect();
    let report = store.write(&v, &rows).await.unwrap();
    assert_eq!(report.dropped_older, entities as u64, "round 2 only");
    assert_eq!(report.written, 4 * entities as u64);
    let keys: Vec<_> = (0..entities).map(key).collect();
    let got = store.read(&keys, &[read_view(&v)], now + 10).await.unwrap();
    for (e, answer) in got.iter().enumerate() {
        assert_eq!(answer[0].values, vec![Value::Int64(4000 + e as i64)]);
        assert_eq!(answer[0].event_ts, Some(now + 3));
    }
    assert_eq!(store.clear().await.unwrap(), entities as u64);
}
