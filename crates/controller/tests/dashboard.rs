//! The dashboard over real HTTP: its page and assets are served without the token and with a
//! strict content-security policy; the event stream wants the token (header or `?token=`, a wrong
//! one refused like a missing one), sends the state at once and again when it changes, and ends
//! when the daemon stops, so an open page does not hold up a graceful shutdown.

mod common;

use common::{TOKEN, call, client, daemon, scratch};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use promig_controller::Approval;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_and_assets_are_open_and_the_event_stream_is_guarded() {
    let dir = scratch("dashboard");
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let running = daemon(dir.join("journal.sqlite"), Approval::Manual, 50, stopped).await;
    let base = format!("http://{}", running.addr);
    let c = client();

    for (path, kind, needle) in [
        ("/", "text/html", "<title>promig controller</title>"),
        ("/assets/app.js", "text/javascript", "EventSource"),
        ("/assets/style.css", "text/css", ":focus-visible"),
    ] {
        let req = hyper::Request::get(format!("{base}{path}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = c.request(req).await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains(needle), "{path}");
    }
    // Other unknown paths stay as before: 401 without the token.
    assert_eq!(
        call(&c, "GET", &format!("{base}/assets/nope.js"), None, b"")
            .await
            .status,
        401
    );

    // The stream: refused without the token, with a wrong one (header or query), and with an
    // unknown parameter.
    let events = format!("{base}/api/v1/events");
    for (url, token, status) in [
        (events.clone(), None, 401),
        (events.clone(), Some("test-token-0123456789abcdeX"), 401),
        (
            format!("{events}?token=test-token-0123456789abcdeX"),
            None,
            401,
        ),
        (format!("{events}?token="), None, 401),
        (format!("{events}?token={TOKEN}&x=1"), None, 400),
    ] {
        let r = call(&c, "GET", &url, token, b"").await;
        assert_eq!(r.status, status, "{url}: {}", r.body);
        assert!(r.json()["error"].is_string());
    }

    // With the token (query, as an EventSource sends it): a state event at once, then more as
    // the world ticks.
    let req = hyper::Request::get(format!("{events}?token={TOKEN}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = c.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let mut text = String::new();
    // At least three state events, and one taken after the world's first snapshot (an event
    // can come before it under load, with no hosts yet).
    let state = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("the stream goes on")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        let events: Vec<&str> = text
            .split("\n\n")
            .filter(|e| e.starts_with("event: state\n"))
            .collect();
        if events.len() < 3 {
            continue;
        }
        let last = events[events.len() - 1]
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap();
        let Ok(state) = serde_json::from_str::<serde_json::Value>(last) else {
            continue; // the last event is still arriving
        };
        if state["hosts"].as_array().is_some_and(|h| !h.is_empty()) {
            break state;
        }
    };
    for key in [
        "status",
        "hosts",
        "vms",
        "chains",
        "links",
        "plans",
        "migrations",
        "history",
    ] {
        assert!(state.get(key).is_some(), "{key} in {state}");
    }
    assert_eq!(state["status"]["world"], "sim");

    // Chains: the demo world has some; each VM names its chain and each chain lists its VMs.
    let chains = call(
        &c,
        "GET",
        &format!("{base}/api/v1/chains"),
        Some(TOKEN),
        b"",
    )
    .await
    .json();
    let chains = chains.as_array().unwrap();
    assert!(!chains.is_empty(), "the demo world has service chains");
    let vms = call(&c, "GET", &format!("{base}/api/v1/vms"), Some(TOKEN), b"")
        .await
        .json();
    for (k, chain) in chains.iter().enumerate() {
        assert_eq!(chain["index"], k);
        // A member host at risk makes the chain at risk (a member that is down does too).
        let risky = chain["hosts_at_risk"].as_array().unwrap();
        assert!(risky.is_empty() || chain["at_risk"] == true, "{chain}");
        assert!(
            risky
                .iter()
                .all(|h| chain["hosts"].as_array().unwrap().contains(h))
        );
        for vm in chain["vms"].as_array().unwrap() {
            let v = vms
                .as_array()
                .unwrap()
                .iter()
                .find(|v| &v["name"] == vm)
                .unwrap();
            assert_eq!(v["chain"], k, "{v}");
        }
    }
    // Links: one uplink per rack, one NIC per host, each with its capacity (the simulated world
    // knows its topology); migration traffic never negative.
    let hosts = state["hosts"].as_array().unwrap();
    let links = call(&c, "GET", &format!("{base}/api/v1/links"), Some(TOKEN), b"")
        .await
        .json();
    let links = links.as_array().unwrap();
    let nics: Vec<_> = links.iter().filter(|l| l["kind"] == "host-nic").collect();
    assert_eq!(nics.len(), hosts.len());
    assert!(
        nics.iter()
            .all(|l| l["capacity_bps"].as_f64().unwrap() > 0.0)
    );
    let mut racks: Vec<_> = hosts.iter().map(|h| h["rack"].as_u64().unwrap()).collect();
    racks.dedup();
    racks.sort_unstable();
    racks.dedup();
    let uplinks: Vec<_> = links
        .iter()
        .filter(|l| l["kind"] == "rack-uplink")
        .collect();
    assert_eq!(uplinks.len(), racks.len());
    assert!(
        uplinks
            .iter()
            .all(|l| l["capacity_bps"].as_f64().unwrap() > 0.0)
    );
    assert!(
        links
            .iter()
            .all(|l| l["migration_bps"].as_f64().unwrap() >= 0.0)
    );
    for route in ["chains", "links"] {
        let r = call(&c, "GET", &format!("{base}/api/v1/{route}"), None, b"").await;
        assert_eq!(r.status, 401, "{route}");
    }

    // The header works too.
    let req = hyper::Request::get(&events)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let open_stream = c.request(req).await.unwrap();
    assert_eq!(open_stream.status(), 200);

    // Shutdown with streams still open: they end, and the daemon stops.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running.wait())
        .await
        .expect("an open event stream does not hold up the shutdown")
        .unwrap();
    drop(body);
    drop(open_stream);
    let _ = std::fs::remove_dir_all(&dir);
}
