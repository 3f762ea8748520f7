//! The scenario API over HTTP, with a recording stand-in for the Graph emulator.

use super::support::{Receiver, setup};
use presence_sandbox::control::scenario::{parse_steps, run_steps};
use presence_sandbox::control::{GraphControl, GraphUserRef, ScenarioClient, serve_control};
use presence_sandbox::swyx::{EffectiveStatus, Outage, OwnStatus};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records what the control API asked of "Graph"; knows alice and bob.
#[derive(Default)]
struct FakeGraph {
    calls: Mutex<Vec<String>>,
}

impl FakeGraph {
    fn log(&self, s: String) -> anyhow::Result<()> {
        self.calls.lock().unwrap().push(s);
        Ok(())
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl GraphControl for FakeGraph {
    fn add_user(&self, id: &str, upn: &str, name: &str) {
        let _ = self.log(format!("add {id} {upn} {name}"));
    }
    fn set_preferred_presence(&self, u: &str, a: &str, act: &str) -> anyhow::Result<()> {
        self.log(format!("preferred {u} {a}/{act}"))
    }
    fn clear_preferred_presence(&self, u: &str) -> anyhow::Result<()> {
        self.log(format!("clear {u}"))
    }
    fn set_client_session(&self, u: &str, sid: &str, a: &str, act: &str) -> anyhow::Result<()> {
        self.log(format!("session {u} {sid} {a}/{act}"))
    }
    fn end_client_session(&self, u: &str, sid: &str) -> anyhow::Result<()> {
        anyhow::ensure!(sid != "missing", "no session {sid:?}");
        self.log(format!("end {u} {sid}"))
    }
    fn presence_json(&self, u: &str) -> Option<Value> {
        (u == "id-alice").then(|| json!({ "id": u, "availability": "Busy", "activity": "InACall" }))
    }
    fn send_lifecycle(&self, sub: &str, ev: &str) -> anyhow::Result<()> {
        self.log(format!("lifecycle {sub} {ev}"))
    }
    fn set_outage(&self, down: bool) {
        let _ = self.log(format!("outage {down}"));
    }
    fn advance_clock(&self, by: Duration) {
        let _ = self.log(format!("advance {}", by.as_secs()));
    }
    fn stats_json(&self) -> Value {
        json!({ "notificationsDelivered": 3 })
    }
    fn users(&self) -> Vec<GraphUserRef> {
        let u = |id: &str, upn: &str, n: &str| GraphUserRef {
            id: id.into(),
            upn: upn.into(),
            display_name: n.into(),
        };
        vec![
            u("id-alice", "alice@contoso.com", "Alice"),
            u("id-carol", "carol@contoso.com", "Carol"),
        ]
    }
}

#[tokio::test]
async fn control_routes_drive_both_sides() {
    let s = setup(None).await;
    let bridge = Receiver::start(&s.outbound).await;
    let graph = Arc::new(FakeGraph::default());
    let server = serve_control(Some(graph.clone()), s.emu.clone())
        .await
        .unwrap();
    let c = ScenarioClient::new(&server.url()).unwrap();

    // Teams side: short names resolve to Graph ids.
    c.teams_add_user("id-dave", "dave@contoso.com", "Dave")
        .await
        .unwrap();
    c.teams_set_presence("alice", "DoNotDisturb", "DoNotDisturb")
        .await
        .unwrap();
    c.teams_clear_presence("alice@contoso.com").await.unwrap();
    c.teams_set_session("carol", "teams-desktop", "Busy", "InACall")
        .await
        .unwrap();
    c.teams_end_session("carol", "teams-desktop").await.unwrap();
    c.graph_outage(true).await.unwrap();
    c.graph_lifecycle("sub-1", "missed").await.unwrap();
    c.advance_clock(Duration::from_secs(90)).await.unwrap();
    assert_eq!(
        graph.calls(),
        [
            "add id-dave dave@contoso.com Dave",
            "preferred id-alice DoNotDisturb/DoNotDisturb",
            "clear id-alice",
            "session id-carol teams-desktop Busy/InACall",
            "end id-carol teams-desktop",
            "outage true",
            "lifecycle sub-1 missed",
            "advance 90",
        ]
    );
    assert_eq!(c.teams_user("alice").await.unwrap()["activity"], "InACall");
    let e = c
        .teams_set_presence("zed", "Away", "Away")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("404") && e.contains("zed"), "{e}");
    let e = c
        .teams_end_session("carol", "missing")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("400") && e.contains("no session"), "{e}");

    // Swyx side.
    c.swyx_add_user("103", "Carol Example", "carol@contoso.com")
        .await
        .unwrap();
    c.swyx_set_bridge_url(&bridge.url).await.unwrap();
    c.swyx_set_status("carol@contoso.com", OwnStatus::DoNotDisturb)
        .await
        .unwrap();
    assert_eq!(
        bridge.events()[0].1["type"],
        "status.changed",
        "a status set by hand is announced (origin user)"
    );
    let call = c.swyx_start_call("103").await.unwrap();
    assert_eq!(
        bridge.events().len(),
        2,
        "the call step returns after the event was delivered"
    );
    let carol = c.swyx_user("103").await.unwrap();
    assert_eq!(
        (carol.own_status, carol.effective_status),
        (OwnStatus::DoNotDisturb, EffectiveStatus::Speaking)
    );
    assert_eq!(carol.active_calls, vec![call.clone()]);
    c.swyx_end_call("103", &call).await.unwrap();
    assert_eq!(bridge.events().len(), 3);
    let e = c.swyx_end_call("103", &call).await.unwrap_err().to_string();
    assert!(e.contains("404") && e.contains(&call), "{e}");
    assert_eq!(c.swyx_users().await.unwrap().len(), 3);

    c.swyx_outage(Outage::Unavailable, None).await.unwrap();
    assert_eq!(s.emu.outage(), Outage::Unavailable);
    c.swyx_outage(Outage::None, None).await.unwrap();

    // Both sides at once.
    let state = c.state().await.unwrap();
    assert!(state.graph);
    assert_eq!(state.teams.len(), 2);
    assert_eq!(
        state.teams[0].presence.as_ref().unwrap()["availability"],
        "Busy"
    );
    assert_eq!(state.swyx.len(), 3);
    assert_eq!(state.swyx_outage, Outage::None);
    let stats = c.stats().await.unwrap();
    assert_eq!(stats["graph"]["notificationsDelivered"], 3);
    assert_eq!(stats["swyx"]["eventsSent"], 3);
    assert_eq!(stats["swyx"]["statusEventsSent"], 1);
}

#[tokio::test]
async fn control_rejects_bad_bodies_and_missing_graph_clearly() {
    let s = setup(None).await;
    let server = serve_control(None, s.emu.clone()).await.unwrap();
    let c = ScenarioClient::new(&server.url()).unwrap();
    let e = c.graph_outage(true).await.unwrap_err().to_string();
    assert!(
        e.contains("501") && e.contains("without a Graph emulator"),
        "{e}"
    );

    // Without Graph the clock still moves (the Swyx side's clock is the sandbox clock).
    let before = s.emu.clock().now_ms();
    c.advance_clock(Duration::from_secs(1800)).await.unwrap();
    assert!(s.emu.clock().now_ms() - before >= 1_800_000);

    let http = super::support::http();
    let r = http
        .post(format!("{}/_sandbox/swyx/101/status", server.url()))
        .body("{\"status\": \"Busy\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("unknown Swyx status \\\"Busy\\\"")
    );
    let r = http
        .post(format!("{}/_sandbox/swyx/outage", server.url()))
        .body("{\"mode\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("bad JSON body"));
    let r = http
        .post(format!("{}/_sandbox/swyx/bridge", server.url()))
        .body("{\"url\": \"ftp://x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn scenario_steps_run_against_the_control_api_and_show_both_sides() {
    let s = setup(None).await;
    let graph = Arc::new(FakeGraph::default());
    let server = serve_control(Some(graph.clone()), s.emu.clone())
        .await
        .unwrap();
    let c = ScenarioClient::new(&server.url()).unwrap();
    let steps = parse_steps(&[
        "teams alice DoNotDisturb",
        "teams alice Busy/InACall",
        "swyx 101 call start",
        "connector down 60s",
        "show",
        "connector up",
        "swyx 101 call end",
        "clock +30m",
    ])
    .unwrap();
    let mut out = Vec::new();
    run_steps(&c, &steps, &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();

    assert_eq!(
        graph.calls(),
        [
            "preferred id-alice DoNotDisturb/DoNotDisturb",
            "session id-alice teams-desktop Busy/InACall",
            "advance 1800"
        ]
    );
    assert!(
        s.emu.user("101").unwrap().active_calls.is_empty(),
        "call end without an id ends the open call"
    );
    assert!(
        out.contains("[5] show") && out.contains("connector Unavailable"),
        "{out}"
    );
    // alice is linked by e-mail: her Teams presence and Swyx state share one row.
    let row = out.lines().find(|l| l.starts_with("101")).unwrap();
    for cell in [
        "alice@contoso.com",
        "Busy/InACall",
        "Available",
        "1",
        "Speaking",
    ] {
        assert!(row.contains(cell), "{row:?} lacks {cell}");
    }
    assert!(
        out.lines()
            .any(|l| l.contains("carol@contoso.com") && l.starts_with('-')),
        "unlinked Teams users are listed: {out}"
    );

    let failing = parse_steps(&["swyx 102 call end"]).unwrap();
    let e = run_steps(&c, &failing, &mut Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("step 1 \"swyx 102 call end\"") && e.contains("no active call"),
        "{e}"
    );
}
