//! The API over real HTTP on loopback: the token guards every `/api/v1/` route, bad input gets a
//! 4xx with a message, an operator approves a plan and watches it run to its end, the journal
//! holds a legal history for every plan, and 10,000 requests pass without an error (p99 printed).

mod common;

use common::{TOKEN, call, client, daemon, scratch};
use promig_controller::{Approval, Journal, PlanId, PlanState, SqliteJournal};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_approve_plans_over_a_guarded_api() {
    let dir = scratch("api");
    let journal = dir.join("journal.sqlite");
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let running = daemon(journal.clone(), Approval::Manual, 50, stopped).await;
    let base = format!("http://{}", running.addr);
    let c = client();
    let get = |path: &str, token: Option<&'static str>| {
        let url = format!("{base}{path}");
        let c = c.clone();
        async move { call(&c, "GET", &url, token, b"").await }
    };

    // Open routes, and the token everywhere else.
    assert_eq!(get("/healthz", None).await.status, 200);
    let m = get("/metrics", None).await;
    assert_eq!(m.status, 200);
    assert!(m.body.contains("promig_plans_created_total"), "{}", m.body);
    for path in [
        "/api/v1/status",
        "/api/v1/plans",
        "/api/v1/openapi.json",
        "/api/v1/nope",
    ] {
        let r = get(path, None).await;
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert!(r.json()["error"].as_str().unwrap().contains("bearer token"));
        assert_eq!(
            get(path, Some("test-token-0123456789abcdeX")).await.status,
            401
        );
    }
    let doc = get("/api/v1/openapi.json", Some(TOKEN)).await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/plans/{id}/approve"]["post"].is_object());

    // Bad input: 4xx with a message naming what is wrong.
    let bad: [(&str, &str, &[u8], u16, &str); 8] = [
        ("GET", "/api/v1/plans/abc", b"", 400, "not a number"),
        ("GET", "/api/v1/plans/999999", b"", 404, "does not exist"),
        ("GET", "/api/v1/plans?state=done", b"", 400, "recommended"),
        ("GET", "/api/v1/plans?colour=red", b"", 400, "colour"),
        ("GET", "/api/v1/history?limit=0", b"", 400, "limit"),
        (
            "PUT",
            "/api/v1/kill-switch",
            b"{\"engaged\": \"yes\"}",
            400,
            "engaged",
        ),
        (
            "POST",
            "/api/v1/plans/999999/approve",
            b"",
            404,
            "does not exist",
        ),
        ("GET", "/api/v1/nope", b"", 404, "openapi"),
    ];
    for (method, path, body, status, says) in bad {
        let r = call(&c, method, &format!("{base}{path}"), Some(TOKEN), body).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        assert!(r.body.contains(says), "{method} {path}: {}", r.body);
    }
    // One byte over the cap: the server reads it all before it refuses, so its 413 cannot race
    // a client still sending (a much larger body may meet a closed connection instead).
    let over = vec![b' '; promig_controller::api::MAX_BODY_BYTES + 1];
    let r = call(
        &c,
        "PUT",
        &format!("{base}/api/v1/kill-switch"),
        Some(TOKEN),
        &over,
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.body);

    // The world ticks; the policy recommends; nothing runs without approval.
    let deadline = Instant::now() + Duration::from_secs(60);
    let plan = loop {
        let plans = get("/api/v1/plans?state=recommended", Some(TOKEN))
            .await
            .json();
        if let Some(p) = plans.as_array().and_then(|a| a.first()).cloned() {
            break p;
        }
        assert!(Instant::now() < deadline, "no plan recommended within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reason = &plan["reason"];
    assert!(reason["cause"].is_string() && reason["predicted_downtime_ms"].as_f64().unwrap() > 0.0);
    assert!(!reason["rejected"].as_array().unwrap().is_empty(), "{plan}");
    assert!(
        get("/api/v1/migrations", Some(TOKEN))
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let id = plan["id"].as_u64().unwrap();
    let approve = format!("{base}/api/v1/plans/{id}/approve");
    let r = call(&c, "POST", &approve, Some(TOKEN), b"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "approved");
    let again = call(&c, "POST", &approve, Some(TOKEN), b"").await;
    assert_eq!(again.status, 409, "{}", again.body);
    let ended = loop {
        let p = get(&format!("/api/v1/plans/{id}"), Some(TOKEN))
            .await
            .json();
        if PlanState::parse(p["state"].as_str().unwrap())
            .unwrap()
            .is_final()
        {
            break p;
        }
        assert!(Instant::now() < deadline, "plan {id} did not end: {p}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(ended["state"], "succeeded", "{ended}");
    assert!(ended["measured"]["downtime_ms"].as_f64().unwrap() > 0.0);
    let history = get("/api/v1/history?limit=5", Some(TOKEN)).await.json();
    assert!(history.as_array().unwrap().iter().any(|p| p["id"] == id));

    // Another recommended plan, cancelled by an operator.
    let plans = get("/api/v1/plans?state=recommended", Some(TOKEN))
        .await
        .json();
    if let Some(p) = plans.as_array().and_then(|a| a.first()) {
        let pid = p["id"].as_u64().unwrap();
        let r = call(
            &c,
            "POST",
            &format!("{base}/api/v1/plans/{pid}/cancel"),
            Some(TOKEN),
            b"",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["state"], "cancelled");
    }

    // The kill switch round-trips and shows in the metrics.
    let r = call(
        &c,
        "PUT",
        &format!("{base}/api/v1/kill-switch"),
        Some(TOKEN),
        b"{\"engaged\": true}",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        get("/api/v1/kill-switch", Some(TOKEN)).await.json()["engaged"],
        true
    );
    assert!(
        get("/metrics", None)
            .await
            .body
            .contains("promig_kill_switch 1")
    );

    // 10,000 requests over four keep-alive connections: no error; latency percentiles printed.
    let paths = [
        "/api/v1/status",
        "/api/v1/plans?state=succeeded",
        "/api/v1/migrations",
        "/api/v1/vms",
    ];
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..4 {
        let (c, base) = (client(), base.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(2500);
            for i in 0..2500 {
                let url = format!("{base}{}", paths[(w + i) % paths.len()]);
                let t = Instant::now();
                let r = call(&c, "GET", &url, Some(TOKEN), b"").await;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(r.status, 200, "{url}: {}", r.body);
            }
            lat
        }));
    }
    let mut lat: Vec<f64> = Vec::new();
    for w in workers {
        lat.extend(w.await.unwrap());
    }
    lat.sort_by(f64::total_cmp);
    let pct = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    eprintln!(
        "10,000 API requests in {:.2} s while the world ticks every 50 ms: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        started.elapsed().as_secs_f64(),
        pct(0.5),
        pct(0.99),
        lat[lat.len() - 1]
    );
    assert_eq!(lat.len(), 10_000);

    stop.send(()).unwrap();
    running.wait().await.unwrap();

    // Every plan's journaled history is a legal chain from its creation.
    let j = SqliteJournal::open(&journal).unwrap();
    let all = j.recent(100_000).unwrap();
    assert!(all.iter().any(|p| p.id == PlanId(id)));
    for p in &all {
        let t = j.transitions(p.id).unwrap();
        assert_eq!(t[0].from, None, "{:?}", p.id);
        assert_eq!(t[0].to, PlanState::Recommended);
        for pair in t.windows(2) {
            assert_eq!(pair[1].from, Some(pair[0].to), "{:?}", p.id);
            assert!(pair[0].to.may_become(pair[1].to), "{:?}: {:?}", p.id, t);
        }
        assert_eq!(t.last().unwrap().to, p.state);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
