use super::profile::Profile;
use super::*;
use prost::Message;
use std::sync::Arc;

fn parse(y: &str) -> Result<PprofConfig, String> {
    let v = crate::config::value::from_yaml(y).map_err(|e| e.to_string())?;
    crate::registry::parse_typed::<PprofConfig>(&v).map_err(|e| e.to_string())
}

fn fields(c: &PprofConfig) -> Vec<String> {
    c.validate().into_iter().filter_map(|e| e.field).collect()
}

#[test]
fn config() {
    for empty in ["", "{}"] {
        let c = parse(empty).unwrap();
        assert_eq!(c.endpoint, "localhost:1777");
        assert!(c.save_to_file.is_none());
        assert!(c.validate().is_empty());
    }
    let c =
        parse("endpoint: 0.0.0.0:1777\nsave_to_file: /tmp/cpu.pprof\nblock_profile_fraction: 0\n")
            .unwrap();
    assert_eq!(c.save_to_file.as_deref(), Some("/tmp/cpu.pprof"));
    assert!(c.validate().is_empty());
    let c = parse("endpoint: nowhere\nblock_profile_fraction: 3\nmutex_profile_fraction: -1\nsave_to_file: ''\n").unwrap();
    assert_eq!(
        fields(&c),
        [
            "endpoint",
            "block_profile_fraction",
            "mutex_profile_fraction",
            "save_to_file"
        ]
    );
    let msg = c.validate()[1].to_string();
    assert!(msg.contains("not a Go program"), "{msg}");
    assert!(parse("dialer: {}").unwrap_err().contains("dialer"));
}

#[test]
fn seconds_of_a_request() {
    let table: [(Option<&str>, Result<u64, ()>); 9] = [
        (None, Ok(30)),
        (Some(""), Ok(30)),
        (Some("seconds=5"), Ok(5)),
        (Some("debug=1&seconds=1"), Ok(1)),
        (Some("seconds=3600"), Ok(3600)),
        (Some("seconds=3601"), Err(())),
        (Some("seconds=0"), Err(())),
        (Some("seconds=-2"), Err(())),
        (Some("seconds=1.5"), Err(())),
    ];
    for (q, want) in table {
        assert_eq!(seconds(q).map_err(|_| ()), want, "{q:?}");
    }
    assert_eq!(
        seconds(Some("seconds=x")).unwrap_err(),
        "seconds=\"x\": must be a whole number of seconds from 1 to 3600"
    );
}

async fn get(path: &str) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    let r = answer(
        &http::Method::GET,
        &path.parse().unwrap(),
        CancellationToken::new(),
    )
    .await;
    let status = r.status();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn pages() {
    let (s, body) = get("/debug/pprof/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        body.contains("<a href=\"profile?seconds=30\">profile</a>"),
        "{body}"
    );
    let (s, body) = get("/debug/pprof/cmdline").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, std::env::args().collect::<Vec<_>>().join("\0"));
    for go in GO_ONLY {
        let (s, body) = get(&format!("/debug/pprof/{go}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(
            body.starts_with(&format!("{go}: a Go runtime profile")),
            "{body}"
        );
    }
    assert_eq!(get("/debug/pprof/nope").await.0, StatusCode::NOT_FOUND);
    let (s, body) = get("/debug/pprof/profile?seconds=0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("seconds=\"0\""), "{body}");
    let r = answer(
        &http::Method::POST,
        &"/debug/pprof/profile".parse().unwrap(),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[inline(never)]
fn burn_cpu(stop: &AtomicBool) -> u64 {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..10_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
        }
    }
    x
}

/// The one test that profiles (the profiler is process-wide).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_of_a_busy_thread_names_its_function() {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let burner = std::thread::Builder::new()
        .name("burner".into())
        .spawn(move || burn_cpu(&s2))
        .unwrap();

    // Sampling starts when `start` returns: building the profiler takes a first backtrace,
    // which can take seconds in a debug build on a loaded machine, so the wait below counts
    // from then.
    let session = tokio::task::spawn_blocking(Session::start)
        .await
        .unwrap()
        .unwrap();
    // Meanwhile a second profile is refused.
    assert!(matches!(Session::start(), Err(ProfileError::Busy)));
    let (s, body) = get("/debug/pprof/profile?seconds=1").await;
    assert_eq!(
        (s, body.starts_with("a CPU profile is already being taken")),
        (StatusCode::CONFLICT, true)
    );
    // Let the burner run long enough to be sampled, whatever the machine's load.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1500) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gz = tokio::task::spawn_blocking(move || session.finish())
        .await
        .unwrap()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    burner.join().unwrap();

    let raw = crate::otlp::gzip::decompress(&gz, 64 << 20).unwrap();
    let p = Profile::decode(raw.as_slice()).unwrap();
    let s = |i: i64| p.string_table[i as usize].as_str();
    assert_eq!(s(p.sample_type[1].r#type), "cpu");
    assert_eq!(p.period, 10_000_000);
    assert!(p.duration_nanos > 0, "{}", p.duration_nanos);
    let burner_samples: i64 = p
        .sample
        .iter()
        .filter(|x| s(x.label[0].str) == "burner")
        .map(|x| x.value[0])
        .sum();
    assert!(burner_samples > 0, "no sample of the busy thread");
    assert!(
        p.function.iter().any(|f| s(f.name).ends_with("burn_cpu")),
        "functions: {:?}",
        p.function.iter().map(|f| s(f.name)).collect::<Vec<_>>()
    );
    // A profile of an hour ends when cancelled; then the profiler is free again.
    let cancel = CancellationToken::new();
    let profile = tokio::spawn(take(MAX_SECONDS, cancel.clone()));
    while !BUSY.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    let gz = tokio::time::timeout(Duration::from_secs(120), profile)
        .await
        .expect("a cancelled profile ends")
        .unwrap()
        .unwrap();
    Profile::decode(
        crate::otlp::gzip::decompress(&gz, 64 << 20)
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    drop(Session::start().unwrap().finish().unwrap());
}
