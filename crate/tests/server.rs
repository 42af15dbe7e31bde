//! The collection server, driven through its real router and a real database: the same suite
//! on SQLite (a temporary file) and on PostgreSQL (the server that `scripts/test.sh` starts in a
//! temporary folder and names in `MICROLEARNING_TEST_POSTGRES`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use microlearning::data::{DataSplit, ImageSet, Task};
use microlearning::human::{
    ObserverKind, StimulusDesign, StimulusList, TrialRecord, build_list, parse_file,
    templates_from_list, to_csv,
};
use microlearning::server::{AppState, NewStudy, Store, api};
use serde_json::{Value, json};
use tower::ServiceExt;

fn test_set() -> &'static ImageSet {
    static SET: OnceLock<ImageSet> = OnceLock::new();
    SET.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
        DataSplit::load_task(&root, Task::Mnist).unwrap().test
    })
}

fn short_list(seed: u64) -> StimulusList {
    let design = StimulusDesign::preset("short", Task::Mnist, seed).unwrap();
    build_list(&design, test_set()).unwrap()
}

/// A fresh database for one test on each backend: an SQLite file, and a new PostgreSQL database
/// when the test command provides a server.
async fn databases(name: &str) -> Vec<(String, String)> {
    let dir = std::env::temp_dir().join(format!(
        "microlearning-server-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut out = vec![(
        "sqlite".to_string(),
        format!("sqlite://{}", dir.join("lab.db").display()),
    )];
    match std::env::var("MICROLEARNING_TEST_POSTGRES") {
        Ok(base) => {
            use sqlx::Executor;
            sqlx::any::install_default_drivers();
            let db = format!("t_{}_{name}", std::process::id());
            let admin = sqlx::AnyPool::connect(&base)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
                .await
                .unwrap();
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                .await
                .unwrap();
            admin.close().await;
            let (prefix, _) = base
                .rsplit_once('/')
                .expect("a postgres URL ends in /DATABASE");
            out.push(("postgres".to_string(), format!("{prefix}/{db}")));
        }
        Err(_) if std::env::var("MICROLEARNING_SKIP_POSTGRES").as_deref() == Ok("1") => {
            eprintln!("PostgreSQL skipped (MICROLEARNING_SKIP_POSTGRES=1)");
        }
        Err(_) => panic!(
            "set MICROLEARNING_TEST_POSTGRES=postgres://USER@HOST:PORT/postgres (scripts/test.sh \
             starts a throwaway server and sets it), or MICROLEARNING_SKIP_POSTGRES=1 to run \
             the SQLite half alone"
        ),
    }
    out
}

struct Lab {
    router: Router,
    store: Store,
    study: String,
    experimenter: String,
    list: StimulusList,
}

async fn lab(url: &str, max_participants: Option<u64>) -> Lab {
    let store = Store::open(url).await.unwrap();
    let list = short_list(7);
    let created = store
        .create_study(&NewStudy {
            name: "test study".into(),
            design: list.design.clone(),
            stimuli: list.stimuli.clone(),
            max_participants,
            completion_url: Some("https://example.org/done?cc=ABC123".into()),
        })
        .await
        .unwrap();
    Lab {
        router: api(AppState::new(store.clone())),
        store,
        study: created.id,
        experimenter: created.experimenter_token,
        list,
    }
}

struct Reply {
    status: StatusCode,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Lab {
    async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Body) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"));
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(
                request
                    .header("content-type", "application/json")
                    .body(body)
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(method, path, token, body).await
    }

    /// A new session: (session id, token, participant id).
    async fn start(&self, params: Value) -> (String, String, String) {
        let r = self
            .call(
                Method::POST,
                &format!("/studies/{}/sessions", self.study),
                None,
                Some(json!({ "url_params": params, "consent": true })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let v = r.json();
        (
            v["session"].as_str().unwrap().into(),
            v["token"].as_str().unwrap().into(),
            v["participant"].as_str().unwrap().into(),
        )
    }

    /// The participant's trial rows, answering `policy(label)`.
    fn rows(
        &self,
        session: &str,
        participant: &str,
        policy: impl Fn(u8) -> u8,
    ) -> Vec<TrialRecord> {
        templates_from_list(&self.list)
            .into_iter()
            .map(|t| {
                let response = policy(t.label);
                TrialRecord {
                    participant_id: participant.into(),
                    session_id: session.into(),
                    observer_kind: ObserverKind::Human,
                    trial_index: Some(t.stimulus_index as u64 + 3),
                    trial_type: Some("digit-trial".into()),
                    time_elapsed: Some(1234.0 + t.stimulus_index as f64),
                    // Exact at µs, the CSV's resolution for timings, so rows survive a round trip.
                    rt: Some(512.125 + t.stimulus_index as f64),
                    measured_duration_ms: t.requested_duration_ms.map(|d| d + 0.25),
                    response,
                    correct: response == t.label,
                    ..t
                }
            })
            .collect()
    }

    async fn put(&self, session: &str, token: &str, row: &TrialRecord) -> Reply {
        self.call(
            Method::PUT,
            &format!("/sessions/{session}/trials/{}", row.stimulus_index),
            Some(token),
            Some(serde_json::to_value(row).unwrap()),
        )
        .await
    }
}

#[tokio::test]
async fn a_participant_session_from_link_to_export() {
    for (backend, url) in databases("flow").await {
        eprintln!("backend {backend}");
        let lab = lab(&url, None).await;
        let study = lab
            .call(Method::GET, &format!("/studies/{}", lab.study), None, None)
            .await;
        assert_eq!(study.status, StatusCode::OK);
        assert_eq!(study.json()["open"], true);
        assert_eq!(study.json()["trials"], lab.list.stimuli.len());

        let (session, token, participant) = lab
            .start(json!({ "PROLIFIC_PID": "pp-1", "STUDY_ID": "st", "SESSION_ID": "se" }))
            .await;
        assert_eq!(participant, "pp-1", "the Prolific id names the participant");
        let rows = lab.rows(&session, &participant, |l| if l == 1 { 7 } else { l });

        // Stored, an identical repeat, a different answer for the same trial.
        assert_eq!(
            lab.put(&session, &token, &rows[0]).await.status,
            StatusCode::CREATED
        );
        assert_eq!(
            lab.put(&session, &token, &rows[0]).await.status,
            StatusCode::OK
        );
        let mut other = rows[0].clone();
        other.response = (other.response + 1) % 10;
        other.correct = other.response == other.label;
        let conflict = lab.put(&session, &token, &other).await;
        assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.text);

        // Completing early names what is missing.
        let early = lab
            .call(
                Method::POST,
                &format!("/sessions/{session}/complete"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(early.status, StatusCode::CONFLICT);
        let missing = early.json()["missing"].as_array().unwrap().len();
        let required = lab
            .list
            .stimuli
            .iter()
            .filter(|s| s.phase != microlearning::human::Phase::Practice)
            .count();
        assert_eq!(
            missing,
            required - usize::from(rows[0].phase != microlearning::human::Phase::Practice)
        );

        for row in &rows[1..] {
            let r = lab.put(&session, &token, row).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let state = lab
            .call(
                Method::GET,
                &format!("/sessions/{session}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(state.json()["stored"].as_array().unwrap().len(), rows.len());
        let done = lab
            .call(
                Method::POST,
                &format!("/sessions/{session}/complete"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert_eq!(
            done.json()["completion_url"],
            "https://example.org/done?cc=ABC123"
        );
        // A retry after completion is still acknowledged; a new answer is not taken.
        assert_eq!(
            lab.put(&session, &token, &rows[3]).await.status,
            StatusCode::OK
        );
        assert_eq!(
            lab.put(&session, &token, &other).await.status,
            StatusCode::CONFLICT
        );

        // The same Prolific id again: no second participation.
        let again = lab
            .call(
                Method::POST,
                &format!("/studies/{}/sessions", lab.study),
                None,
                Some(json!({ "url_params": { "PROLIFIC_PID": "pp-1" }, "consent": true })),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
        assert!(
            again.json()["error"]
                .as_str()
                .unwrap()
                .contains("already taken part")
        );

        // The export: exactly the rows sent, in the page's CSV, readable by the importer.
        let csv = lab
            .call(
                Method::GET,
                &format!("/studies/{}/trials.csv", lab.study),
                Some(&lab.experimenter),
                None,
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(csv.text, to_csv(&rows).unwrap());
        assert_eq!(parse_file("export.csv", &csv.text).unwrap(), rows);
        let ndjson = lab
            .call(
                Method::GET,
                &format!("/studies/{}/trials.ndjson", lab.study),
                Some(&lab.experimenter),
                None,
            )
            .await;
        let back: Vec<TrialRecord> = ndjson
            .text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, rows);

        // A second participant (server-made id), then withdrawal deletes their trials.
        let (s2, t2, p2) = lab.start(json!({})).await;
        assert!(p2.starts_with("P-"), "{p2}");
        let rows2 = lab.rows(&s2, &p2, |l| l);
        for row in &rows2[..5] {
            assert_eq!(lab.put(&s2, &t2, row).await.status, StatusCode::CREATED);
        }
        let summary = lab
            .call(
                Method::GET,
                &format!("/studies/{}/summary", lab.study),
                Some(&lab.experimenter),
                None,
            )
            .await;
        let counts = &summary.json()["counts"];
        assert_eq!(counts["sessions_started"], 2);
        assert_eq!(counts["completed"], 1);
        assert_eq!(counts["trials"], rows.len() + 5);
        let gone = lab
            .call(Method::DELETE, &format!("/sessions/{s2}"), Some(&t2), None)
            .await;
        assert_eq!(gone.status, StatusCode::OK);
        assert_eq!(gone.json()["deleted_trials"], 5);
        assert_eq!(lab.put(&s2, &t2, &rows2[6]).await.status, StatusCode::GONE);
        assert_eq!(
            lab.store.count_trials(&lab.study).await.unwrap(),
            (rows.len() as u64, rows.len() as u64)
        );

        // Closed: no new sessions.
        assert!(lab.store.close_study(&lab.study).await.unwrap());
        let closed = lab
            .call(
                Method::POST,
                &format!("/studies/{}/sessions", lab.study),
                None,
                Some(json!({ "consent": true })),
            )
            .await;
        assert_eq!(closed.status, StatusCode::FORBIDDEN);
        assert!(closed.json()["error"].as_str().unwrap().contains("closed"));
        if backend == "sqlite" {
            assert_eq!(
                lab.store.integrity_check().await.unwrap().as_deref(),
                Some("ok")
            );
        }
        lab.store.close().await;
    }
}

#[tokio::test]
async fn a_lost_start_reply_is_recovered_with_the_resume_key_and_only_with_it() {
    for (backend, url) in databases("resume").await {
        let lab = lab(&url, Some(1)).await;
        let path = format!("/studies/{}/sessions", lab.study);
        let start = async |key: Option<&str>| {
            let mut body = json!({ "url_params": { "PROLIFIC_PID": "pp-lost" }, "consent": true });
            if let Some(k) = key {
                body["resume_key"] = json!(k);
            }
            lab.call(Method::POST, &path, None, Some(body)).await
        };
        let key = "0123456789abcdef0123";
        let first = start(Some(key)).await;
        assert_eq!(
            first.status,
            StatusCode::CREATED,
            "{backend}: {}",
            first.text
        );
        // The reply was lost; the browser asks again with its key: the same session, new token
        // (the study is full now, but this is not a new participant).
        let again = start(Some(key)).await;
        assert_eq!(again.status, StatusCode::OK, "{backend}: {}", again.text);
        assert_eq!(again.json()["session"], first.json()["session"]);
        assert_ne!(again.json()["token"], first.json()["token"]);
        let session = again.json()["session"].as_str().unwrap().to_string();
        let new_token = again.json()["token"].as_str().unwrap().to_string();
        let old_token = first.json()["token"].as_str().unwrap().to_string();
        let ok = lab
            .call(
                Method::GET,
                &format!("/sessions/{session}"),
                Some(&new_token),
                None,
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK);
        let stale = lab
            .call(
                Method::GET,
                &format!("/sessions/{session}"),
                Some(&old_token),
                None,
            )
            .await;
        assert_eq!(stale.status, StatusCode::FORBIDDEN);
        // Without the key, or with another one: no second participation.
        assert_eq!(start(None).await.status, StatusCode::CONFLICT);
        assert_eq!(
            start(Some("another-key-of-sufficient-length")).await.status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            lab.store
                .study(&lab.study)
                .await
                .unwrap()
                .unwrap()
                .sessions_started,
            1
        );
        lab.store.close().await;

        // A link without a participant id: the server makes one, and the key finds it again.
        let lab = lab_open(&url).await;
        let path = format!("/studies/{}/sessions", lab.study);
        let anonymous = async |key: &str| {
            let body = json!({ "consent": true, "resume_key": key });
            lab.call(Method::POST, &path, None, Some(body)).await
        };
        let first = anonymous("anonymous-browser-key-1").await;
        assert_eq!(
            first.status,
            StatusCode::CREATED,
            "{backend}: {}",
            first.text
        );
        let again = anonymous("anonymous-browser-key-1").await;
        assert_eq!(again.status, StatusCode::OK, "{backend}: {}", again.text);
        assert_eq!(again.json()["session"], first.json()["session"]);
        assert_eq!(again.json()["participant"], first.json()["participant"]);
        let other = anonymous("anonymous-browser-key-2").await;
        assert_eq!(other.status, StatusCode::CREATED);
        assert_ne!(other.json()["participant"], first.json()["participant"]);
        lab.store.close().await;
    }
}

/// A second study (no participant limit) in the same database.
async fn lab_open(url: &str) -> Lab {
    lab(url, None).await
}

#[tokio::test]
async fn a_full_study_refuses_and_concurrent_starts_respect_the_limit() {
    for (backend, url) in databases("full").await {
        let lab = lab(&url, Some(3)).await;
        let mut tasks = Vec::new();
        for k in 0..8 {
            let router = lab.router.clone();
            let study = lab.study.clone();
            tasks.push(tokio::spawn(async move {
                let request = Request::builder()
                    .method(Method::POST)
                    .uri(format!("/api/v1/studies/{study}/sessions"))
                    .body(Body::from(
                        json!({ "participant": format!("c-{k}"), "consent": true }).to_string(),
                    ))
                    .unwrap();
                router.oneshot(request).await.unwrap().status()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::FORBIDDEN)
            .count();
        assert_eq!((created, refused), (3, 5), "{backend}: {statuses:?}");
        lab.store.close().await;
    }
}

#[tokio::test]
async fn the_same_trial_sent_at_once_from_many_connections_is_stored_once() {
    for (backend, url) in databases("race").await {
        let lab = lab(&url, None).await;
        let (session, token, participant) = lab.start(json!({ "participant": "racer" })).await;
        let row = lab.rows(&session, &participant, |l| l).remove(2);
        let mut tasks = Vec::new();
        for _ in 0..24 {
            let router = lab.router.clone();
            let (session, token, row) = (session.clone(), token.clone(), row.clone());
            tasks.push(tokio::spawn(async move {
                let request = Request::builder()
                    .method(Method::PUT)
                    .uri(format!(
                        "/api/v1/sessions/{session}/trials/{}",
                        row.stimulus_index
                    ))
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::from(serde_json::to_string(&row).unwrap()))
                    .unwrap();
                router.oneshot(request).await.unwrap().status()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let stored = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let repeats = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!((stored, repeats), (1, 23), "{backend}: {statuses:?}");
        assert_eq!(lab.store.count_trials(&lab.study).await.unwrap(), (1, 1));
        lab.store.close().await;
    }
}

#[tokio::test]
async fn bad_input_gets_a_4xx_with_a_message_and_the_server_keeps_serving() {
    for (backend, url) in databases("bad").await {
        let lab = lab(&url, None).await;
        let (session, token, participant) = lab.start(json!({ "participant": "careful" })).await;
        let (other_session, other_token, _) =
            lab.start(json!({ "participant": "someone-else" })).await;
        let rows = lab.rows(&session, &participant, |l| l);
        let good = serde_json::to_value(&rows[1]).unwrap();
        let trial = |i: &str| format!("/sessions/{session}/trials/{i}");
        let with = |field: &str, value: Value| {
            let mut v = good.clone();
            v[field] = value;
            Body::from(v.to_string())
        };
        // Nested under a field the row does not have: serde skips it by recursing, and must stop.
        let deep = format!("{{\"extra\": {}1{}}}", "[".repeat(5000), "]".repeat(5000));
        let nan_rt = good.to_string().replace("\"rt\":513.125", "\"rt\":NaN");
        assert!(nan_rt.contains("NaN"), "{nan_rt}");
        let cases: Vec<(&str, Method, String, Option<&str>, Body, StatusCode)> = vec![
            (
                "malformed JSON",
                Method::PUT,
                trial("1"),
                Some(&token),
                Body::from("{\"participant_id\": "),
                StatusCode::BAD_REQUEST,
            ),
            (
                "not UTF-8",
                Method::PUT,
                trial("1"),
                Some(&token),
                Body::from(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
                StatusCode::BAD_REQUEST,
            ),
            (
                "a 10 MB body",
                Method::PUT,
                trial("1"),
                Some(&token),
                Body::from(vec![b' '; 10 * 1024 * 1024]),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "deeply nested JSON",
                Method::PUT,
                trial("1"),
                Some(&token),
                Body::from(deep),
                StatusCode::BAD_REQUEST,
            ),
            (
                "a negative index",
                Method::PUT,
                trial("-1"),
                Some(&token),
                Body::from(good.to_string()),
                StatusCode::BAD_REQUEST,
            ),
            (
                "a huge index",
                Method::PUT,
                trial("99999999999999999999999"),
                Some(&token),
                Body::from(good.to_string()),
                StatusCode::BAD_REQUEST,
            ),
            (
                "an index past the list",
                Method::PUT,
                trial("100000"),
                Some(&token),
                with("stimulus_index", json!(100000)),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "the path and the row disagree",
                Method::PUT,
                trial("2"),
                Some(&token),
                Body::from(good.to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "a label of 99",
                Method::PUT,
                trial("1"),
                Some(&token),
                with("label", json!(99)),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "a label of 300",
                Method::PUT,
                trial("1"),
                Some(&token),
                with("label", json!(300)),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "NaN in a number field",
                Method::PUT,
                trial("1"),
                Some(&token),
                Body::from(nan_rt.clone()),
                StatusCode::BAD_REQUEST,
            ),
            (
                "\"NaN\" as a number",
                Method::PUT,
                trial("1"),
                Some(&token),
                with("rt", json!("NaN")),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "another image",
                Method::PUT,
                trial("1"),
                Some(&token),
                with("test_index", json!(rows[1].test_index + 1)),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "another participant",
                Method::PUT,
                trial("1"),
                Some(&token),
                with("participant_id", json!("someone-else")),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "an unknown session",
                Method::PUT,
                "/sessions/nope/trials/1".into(),
                Some(&token),
                Body::from(good.to_string()),
                StatusCode::NOT_FOUND,
            ),
            (
                "another session's token",
                Method::PUT,
                trial("1"),
                Some(&other_token),
                Body::from(good.to_string()),
                StatusCode::FORBIDDEN,
            ),
            (
                "no token",
                Method::PUT,
                trial("1"),
                None,
                Body::from(good.to_string()),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "a token on another session's path",
                Method::GET,
                format!("/sessions/{other_session}"),
                Some(&token),
                Body::empty(),
                StatusCode::FORBIDDEN,
            ),
            (
                "no consent",
                Method::POST,
                format!("/studies/{}/sessions", lab.study),
                None,
                Body::from("{\"consent\": false}"),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "an unknown field",
                Method::POST,
                format!("/studies/{}/sessions", lab.study),
                None,
                Body::from("{\"consent\": true, \"ip\": \"1.2.3.4\"}"),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "an unknown study",
                Method::POST,
                "/studies/s-nope/sessions".into(),
                None,
                Body::from("{\"consent\": true}"),
                StatusCode::NOT_FOUND,
            ),
            (
                "export without a token",
                Method::GET,
                format!("/studies/{}/trials.csv", lab.study),
                None,
                Body::empty(),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "export with a wrong token",
                Method::GET,
                format!("/studies/{}/trials.csv", lab.study),
                Some("exp-wrong"),
                Body::empty(),
                StatusCode::FORBIDDEN,
            ),
            (
                "export with a participant's token",
                Method::GET,
                format!("/studies/{}/trials.ndjson", lab.study),
                Some(&token),
                Body::empty(),
                StatusCode::FORBIDDEN,
            ),
            (
                "summary with a wrong token",
                Method::GET,
                format!("/studies/{}/summary", lab.study),
                Some("x"),
                Body::empty(),
                StatusCode::FORBIDDEN,
            ),
            (
                "an unknown route",
                Method::GET,
                "/nothing/here".into(),
                None,
                Body::empty(),
                StatusCode::NOT_FOUND,
            ),
            (
                "a NUL byte in a session id",
                Method::GET,
                "/sessions/%00".into(),
                Some(&token),
                Body::empty(),
                StatusCode::NOT_FOUND,
            ),
            (
                "a NUL byte in a study id",
                Method::GET,
                "/studies/a%00b".into(),
                None,
                Body::empty(),
                StatusCode::NOT_FOUND,
            ),
            (
                "a path that is not UTF-8",
                Method::GET,
                "/studies/%FF".into(),
                None,
                Body::empty(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "a method the route does not take",
                Method::PATCH,
                trial("1"),
                Some(&token),
                Body::empty(),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                "a short resume key",
                Method::POST,
                format!("/studies/{}/sessions", lab.study),
                None,
                Body::from("{\"consent\": true, \"resume_key\": \"x\"}"),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ];
        for (what, method, path, token, body, expected) in cases {
            let r = lab.send(method, &path, token, body).await;
            assert_eq!(r.status, expected, "{backend}, {what}: {}", r.text);
            let message = r.json()["error"].as_str().map(str::to_owned);
            assert!(
                message.is_some_and(|m| !m.is_empty()),
                "{backend}, {what}: no message in {}",
                r.text
            );
        }
        // Nothing of that was stored, and the server still takes a good trial.
        assert_eq!(lab.store.count_trials(&lab.study).await.unwrap(), (0, 0));
        assert_eq!(
            lab.put(&session, &token, &rows[1]).await.status,
            StatusCode::CREATED
        );
        lab.store.close().await;
    }
}

#[tokio::test]
async fn the_dashboard_hears_trials_as_they_arrive() {
    let (_, url) = databases("events").await.remove(0);
    let lab = lab(&url, None).await;
    let request = Request::builder()
        .uri(format!("/api/v1/studies/{}/events", lab.study))
        .header("authorization", format!("Bearer {}", lab.experimenter))
        .body(Body::empty())
        .unwrap();
    let response = lab.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut next = async || {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
    };
    assert!(next().await.contains("event: hello"));
    let (session, token, participant) = lab.start(json!({ "participant": "live" })).await;
    assert!(next().await.contains("event: session-started"));
    let row = lab.rows(&session, &participant, |l| l).remove(0);
    assert_eq!(
        lab.put(&session, &token, &row).await.status,
        StatusCode::CREATED
    );
    let event = next().await;
    assert!(event.contains("event: trial"), "{event}");
    assert!(
        event.contains(&format!("\"session\":\"{session}\"")),
        "{event}"
    );
    lab.store.close().await;
}

#[test]
fn the_study_command_creates_lists_and_exports() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("microlearning-study-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = format!("sqlite://{}", dir.join("lab.db").display());
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_microlearning"))
            .args(["study", "--database", &db])
            .args(args)
            .env(
                "MICROLEARNING_DATA",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../data"),
            )
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = run(&[
        "create",
        "--name",
        "class demo",
        "--design",
        "short",
        "--json",
        "--public-url",
        "http://lab.example",
    ]);
    assert!(ok, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    let id = created["study"].as_str().unwrap();
    assert_eq!(created["link"], format!("http://lab.example/?study={id}"));
    assert_eq!(created["trials"], short_list(1).stimuli.len());
    // The token is stored only as a hash.
    let raw = std::fs::read(dir.join("lab.db")).unwrap();
    let token = created["experimenter_token"].as_str().unwrap();
    assert!(!raw.windows(token.len()).any(|w| w == token.as_bytes()));
    let (ok, listing, _) = run(&["list"]);
    assert!(
        ok && listing.contains(id) && listing.contains("class demo"),
        "{listing}"
    );
    let (ok, csv, _) = run(&["export", id]);
    assert!(ok);
    assert_eq!(
        csv.lines().count(),
        1,
        "an empty study exports its header: {csv}"
    );
    let file = dir.join("exports/trials.ndjson");
    let (ok, _, stderr) = run(&[
        "export",
        id,
        "--format",
        "ndjson",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(ok && stderr.contains("0 trials written"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
    let (ok, _, stderr) = run(&["export", id, "--format", "xml"]);
    assert!(!ok && stderr.contains("csv or ndjson"), "{stderr}");
    let (ok, _, stderr) = run(&["close", id]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["close", "s-none"]);
    assert!(!ok && stderr.contains("no study"), "{stderr}");
    let (ok, _, stderr) = run(&["create", "--name", "x", "--design", "/no/such/design.json"]);
    assert!(!ok && stderr.contains("design"), "{stderr}");
}
