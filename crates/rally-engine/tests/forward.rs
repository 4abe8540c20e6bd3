//! Session forwarding between engines of one process over an in-memory
//! bus: polls and posts for another engine's session are served through
//! it, the reference's rules hold there, ids of no live node cost no bus
//! message.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use rally_engine::{Bus, Config, EngineBody, EngineIo, Handler, Inbox, Message, NodeTag, Session};
use rally_testkit::{eventually, within};
use tower_service::Service;

/// Echoes every message back.
struct Echo;

impl Handler for Echo {
    fn on_open(&self, _: &Arc<Session>) {}
    fn on_message(&self, session: &Arc<Session>, message: Message) {
        let _ = session.send(message);
    }
}

/// Every engine's inbox, delivering on a task of its own.
#[derive(Default)]
struct Hub {
    inboxes: Mutex<Vec<(NodeTag, Inbox)>>,
    /// Requests sent (the kind byte 2 of the bus messages).
    requests: AtomicUsize,
    /// Requests are lost on the way (every other message still goes).
    lose_requests: AtomicBool,
}

struct MemoryBus(Arc<Hub>);

impl Bus for MemoryBus {
    fn start(&self, me: NodeTag, inbox: Inbox) {
        self.0.inboxes.lock().unwrap().push((me, inbox));
    }

    fn send(&self, to: Option<NodeTag>, payload: Bytes) {
        if payload.first() == Some(&2) {
            self.0.requests.fetch_add(1, Ordering::Relaxed);
            if self.0.lose_requests.load(Ordering::Relaxed) {
                return;
            }
        }
        let targets: Vec<Inbox> = (self.0.inboxes.lock().unwrap().iter())
            .filter(|(tag, _)| to.is_none_or(|to| to == *tag))
            .map(|(_, inbox)| inbox.clone())
            .collect();
        for inbox in targets {
            let payload = payload.clone();
            tokio::spawn(async move { inbox(payload) });
        }
    }
}

fn engines(hub: &Arc<Hub>, n: usize) -> Vec<EngineIo<Echo>> {
    (0..n)
        .map(|_| {
            let bus: Arc<dyn Bus> = Arc::new(MemoryBus(hub.clone()));
            let config = Config::default()
                .ping_interval(Duration::from_secs(5))
                .forward_sessions(Some(bus));
            EngineIo::new(config, Echo)
        })
        .collect()
}

async fn call(engine: &EngineIo<Echo>, method: Method, query: &str, body: &str) -> (u16, String) {
    let req = Request::builder()
        .method(method)
        .uri(format!("/engine.io/?EIO=4&transport=polling{query}"))
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response: Response<EngineBody> = engine.clone().call(req).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn open(engine: &EngineIo<Echo>) -> String {
    let (status, body) = call(engine, Method::GET, "", "").await;
    assert_eq!(status, 200, "{body}");
    body.split("\"sid\":\"").nth(1).unwrap()[..20].to_owned()
}

/// Waits until every engine heard the others.
async fn acquainted(engines: &[EngineIo<Echo>]) {
    for engine in engines {
        eventually("the engines to hear each other", || async {
            engine.forward_stats().unwrap().nodes == engines.len() as u64 - 1
        })
        .await;
    }
}

#[tokio::test]
async fn polls_and_posts_reach_the_session_s_engine() {
    let hub = Arc::new(Hub::default());
    let all = engines(&hub, 3);
    acquainted(&all).await;
    let sid = open(&all[0]).await;
    assert_eq!(NodeTag::parse(&sid.as_bytes()[..4]), all[0].node_tag());
    let q = format!("&sid={sid}");
    // A message posted on one engine, echoed in a poll on another.
    assert_eq!(
        call(&all[1], Method::POST, &q, "4hello").await,
        (200, "ok".into())
    );
    let (status, body) = within("the echo", call(&all[2], Method::GET, &q, "")).await;
    assert_eq!((status, body.as_str()), (200, "4hello"));
    let stats = all[1].forward_stats().unwrap();
    assert_eq!(stats.posts, 1);
    assert_eq!(all[2].forward_stats().unwrap().polls, 1);
    assert_eq!(all[0].forward_stats().unwrap().served, 2);
    assert_eq!(all[0].session_count(), 1);
    assert_eq!(all[1].session_count() + all[2].session_count(), 0);
}

#[tokio::test]
async fn an_overlapping_poll_closes_the_session_as_locally() {
    let hub = Arc::new(Hub::default());
    let all = engines(&hub, 2);
    acquainted(&all).await;
    let sid = open(&all[0]).await;
    let q = format!("&sid={sid}");
    let held = {
        let engine = all[1].clone();
        let q = q.clone();
        tokio::spawn(async move { call(&engine, Method::GET, &q, "").await })
    };
    eventually("the forwarded poll to be held", || async {
        all[0].forward_stats().unwrap().served == 1
    })
    .await;
    // A second poll while one is held: the reference's 400, and the
    // session ends (the held one is told).
    let (status, _) = call(&all[0], Method::GET, &q, "").await;
    assert_eq!(status, 400);
    let (status, body) = within("the held poll", held).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "1");
    let (status, body) = call(&all[1], Method::GET, &q, "").await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn ids_of_no_live_engine_cost_no_message() {
    let hub = Arc::new(Hub::default());
    let all = engines(&hub, 2);
    acquainted(&all).await;
    let before = hub.requests.load(Ordering::Relaxed);
    // An id of its own that it does not hold is answered at once (as is
    // one of a tag no engine has, once past an engine's first seconds).
    let own = format!("&sid={}xxxxxxxxxxxxxxxx", all[1].node_tag().unwrap());
    let (status, body) = call(&all[1], Method::GET, &own, "").await;
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"code":1,"message":"Session ID unknown"}"#)
    );
    assert_eq!(hub.requests.load(Ordering::Relaxed), before);
    // A session the owner does not hold: one message, and its 400.
    let gone = format!("&sid={}xxxxxxxxxxxxxxxx", all[0].node_tag().unwrap());
    let (status, _) = call(&all[1], Method::GET, &gone, "").await;
    assert_eq!(status, 400);
    assert_eq!(hub.requests.load(Ordering::Relaxed), before + 1);
}

#[tokio::test]
async fn polls_held_for_a_stopping_engine_end_at_the_owner() {
    let hub = Arc::new(Hub::default());
    let all = engines(&hub, 2);
    acquainted(&all).await;
    let sid = open(&all[0]).await;
    let q = format!("&sid={sid}");
    let held = {
        let engine = all[1].clone();
        let q = q.clone();
        tokio::spawn(async move { call(&engine, Method::GET, &q, "").await })
    };
    eventually("the forwarded poll to be held", || async {
        all[0].forward_stats().unwrap().served == 1
    })
    .await;
    // The asking engine stops, and its client's connection goes with it:
    // the owner ends the poll as a local one whose client went away (the
    // reference closes the session), rather than answer nobody and lose
    // its packets.
    all[1].close(Duration::ZERO).await;
    eventually("the owner to end the session", || async {
        all[0].session_count() == 0
    })
    .await;
    held.abort();
    let (status, _) = call(&all[0], Method::GET, &q, "").await;
    assert_eq!(status, 400);
}

// The clock is paused (and jumps to the next timer when every task waits):
// the timeouts pass at once.
#[tokio::test(start_paused = true)]
async fn requests_the_owner_never_answers_time_out() {
    let hub = Arc::new(Hub::default());
    let all = engines(&hub, 2);
    acquainted(&all).await;
    let sid = open(&all[0]).await;
    let q = format!("&sid={sid}");
    hub.lose_requests.store(true, Ordering::Relaxed);
    // A post gives up after 10 s, a poll after a heartbeat and 5 s (5 s +
    // 20 s + 5 s here), with the reference's 400 for a session not found.
    let unknown = (
        400,
        r#"{"code":1,"message":"Session ID unknown"}"#.to_owned(),
    );
    let started = tokio::time::Instant::now();
    assert_eq!(call(&all[1], Method::POST, &q, "4lost").await, unknown);
    assert_eq!(started.elapsed().as_secs(), 10);
    let started = tokio::time::Instant::now();
    assert_eq!(call(&all[1], Method::GET, &q, "").await, unknown);
    assert!((30..=32).contains(&started.elapsed().as_secs()));
    let stats = all[1].forward_stats().unwrap();
    assert_eq!((stats.posts, stats.polls, stats.failed), (1, 1, 2));
    assert_eq!(stats.answered, 0);
}

#[tokio::test(start_paused = true)]
async fn a_request_for_an_owner_that_stops_ends_at_once() {
    let hub = Arc::new(Hub::default());
    let all = engines(&hub, 2);
    acquainted(&all).await;
    let sid = open(&all[0]).await;
    let q = format!("&sid={sid}");
    hub.lose_requests.store(true, Ordering::Relaxed);
    let waiting = {
        let engine = all[1].clone();
        tokio::spawn(async move { call(&engine, Method::POST, &q, "4lost").await })
    };
    eventually("the post to be sent", || async {
        hub.requests.load(Ordering::Relaxed) == 1
    })
    .await;
    // The owner says goodbye: the post ends within one hello period (2 s),
    // not after its 10 s.
    let started = tokio::time::Instant::now();
    all[0].close(Duration::ZERO).await;
    let (status, _) = waiting.await.unwrap();
    assert_eq!(status, 400);
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(all[1].forward_stats().unwrap().nodes, 0);
}
