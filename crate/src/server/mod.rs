//! The collection server: `microlearning serve`. It serves the static site (the same files any
//! static host can serve) and the API under `/api/v1` that takes participants' trials as they
//! happen, so a study run online needs nobody to move files.
//!
//! `store.rs` is the database (SQLite or PostgreSQL), `participant.rs` the page's API,
//! `experimenter.rs` exports, summary and live events, `extract.rs` turns every malformed request
//! into a JSON error, `token.rs` makes ids and tokens. `docs/architecture.md` shows the flow.

mod error;
mod events;
mod experimenter;
mod extract;
mod participant;
mod store;
mod token;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::{get, post, put};
use tokio::sync::broadcast;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::ApiError;
pub use events::StudyEvent;
pub use experimenter::{csv_line, ndjson_line};
pub use participant::check_trial;
pub use store::{
    Backend, CompleteOutcome, CreatedStudy, NewStudy, PutOutcome, Session, SessionStatus,
    StartOutcome, Store, StoreError, Study, StudySummary, TrialWrite,
};

/// The largest request body: a trial row is about 600 bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    events: broadcast::Sender<StudyEvent>,
    /// Becomes true when the server shuts down (ends the live event streams).
    shutdown: tokio::sync::watch::Receiver<bool>,
    stop: Arc<tokio::sync::watch::Sender<bool>>,
    /// Studies' stimulus lists never change once created, so they are read once.
    studies: Arc<RwLock<HashMap<String, Arc<Study>>>>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        Self {
            store,
            events: broadcast::channel(1024).0,
            shutdown,
            stop: Arc::new(stop),
            studies: Arc::default(),
        }
    }

    /// Ends the live event streams (the server is shutting down).
    pub fn shut_down(&self) {
        let _ = self.stop.send(true);
    }

    fn publish(&self, event: StudyEvent) {
        // No dashboard listening is not an error.
        let _ = self.events.send(event);
    }

    /// The study (its stimulus list, from the cache after the first read). Its `open` and
    /// counts may be stale: read the store for those.
    async fn study(&self, id: &str) -> Result<Arc<Study>, ApiError> {
        if let Some(s) = self.studies.read().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(s);
        }
        let study = self
            .store
            .study(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("there is no study \"{id}\"")))?;
        let study = Arc::new(study);
        if let Ok(mut m) = self.studies.write() {
            m.insert(id.to_string(), study.clone());
        }
        Ok(study)
    }
}

/// The API routes alone (what the tests drive).
pub fn api(state: AppState) -> Router {
    use experimenter as e;
    use participant as p;
    let v1 = Router::new()
        .route("/studies/{study}", get(p::get_study))
        .route("/studies/{study}/sessions", post(p::start_session))
        .route("/studies/{study}/trials.csv", get(e::trials_csv))
        .route("/studies/{study}/trials.ndjson", get(e::trials_ndjson))
        .route("/studies/{study}/summary", get(e::summary))
        .route("/studies/{study}/events", get(e::events))
        .route(
            "/sessions/{session}",
            get(p::get_session).delete(p::withdraw),
        )
        .route("/sessions/{session}/trials/{index}", put(p::put_trial))
        .route("/sessions/{session}/complete", post(p::complete))
        .fallback(|| async { ApiError::not_found("no such API route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    Router::new().nest("/api/v1", v1)
}

/// The API plus the static site in `site` (index.html, dashboard.html, www/, data/), with the
/// cross-origin isolation headers the page's worker wants.
pub fn app(state: AppState, site: &Path) -> Router {
    let not_found = || async { (StatusCode::NOT_FOUND, "not found") };
    api(state)
        .route_service("/", ServeFile::new(site.join("index.html")))
        .route_service("/index.html", ServeFile::new(site.join("index.html")))
        .route_service(
            "/dashboard.html",
            ServeFile::new(site.join("dashboard.html")),
        )
        .nest_service("/www", ServeDir::new(site.join("www")))
        .nest_service("/data", ServeDir::new(site.join("data")))
        .fallback(not_found)
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-embedder-policy"),
            HeaderValue::from_static("require-corp"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// What `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub database: String,
    pub listen: SocketAddr,
    pub site: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Site(String),
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the server until Ctrl-C or SIGTERM, then finishes the requests in flight and closes
/// the database cleanly.
pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    if !options.site.join("index.html").is_file() {
        return Err(ServeError::Site(format!(
            "{} has no index.html: run from the repository (or give --site) after `bash scripts/build_web.sh`",
            options.site.display()
        )));
    }
    let store = Store::open(&options.database).await?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    eprintln!(
        "Microlearning Lab on http://{addr}/ (database {}, {:?}); Ctrl-C stops",
        redact(&options.database),
        store.backend()
    );
    let state = AppState::new(store.clone());
    let router = app(state.clone(), &options.site);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            state.shut_down();
        })
        .await?;
    store.close().await;
    eprintln!("collection server stopped; the database is closed");
    Ok(())
}

/// A database URL without its password, for the log.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
