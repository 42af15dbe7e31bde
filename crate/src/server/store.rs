//! The collection server's database: studies, sessions and trials, on SQLite (one file, the
//! default) or PostgreSQL, through sqlx's `Any` driver so that every statement is written once
//! (`$N` placeholders work on both).
//!
//! Why it is built this way:
//! - **Idempotent writes by construction.** A trial's key is (session, stimulus index), a primary
//!   key; a write is `INSERT … ON CONFLICT DO NOTHING`, and only when nothing was inserted is the
//!   stored row read to tell an identical repeat (a retry) from a different answer. There is no
//!   read-then-write window in which a retry could store a trial twice.
//! - **SQLite gets one writer connection** (and a few read-only ones). SQLite allows one writer
//!   at a time; queueing writers in the pool instead of in SQLite's lock means no `SQLITE_BUSY`
//!   under load, while WAL lets exports read alongside. `synchronous=FULL`: a trial is on disk
//!   before it is acknowledged. Trials go through one writer task that commits every trial
//!   waiting at that moment in one transaction (group commit), so under load one fsync serves
//!   many participants.
//! - **A trial write takes the session's row first** (`UPDATE sessions … WHERE status =
//!   'running'`), in the same transaction, so a withdrawal (which updates that row, then deletes
//!   the trials) and a late trial are strictly ordered on PostgreSQL too: no trial can land after
//!   the deletion.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row, SqlSafeStr};

use super::token;
use crate::human::{Phase, Stimulus, StimulusDesign};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL \"{0}\": give sqlite://PATH or postgres://USER@HOST/DB")]
    Url(String),
    #[error("could not create the database folder {path}: {reason}")]
    Folder { path: String, reason: String },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Random(#[from] token::RandomError),
    /// A write could not be committed just now (its whole transaction failed).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored value the server itself wrote no longer parses: the database was edited by hand.
    #[error("stored data of {what} is corrupt: {reason}")]
    Corrupt { what: String, reason: String },
}

type StoreResult<T> = Result<T, StoreError>;

/// Which database server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A study as the store keeps it.
#[derive(Debug, Clone)]
pub struct Study {
    pub id: String,
    pub name: String,
    pub design: StimulusDesign,
    pub stimuli: Vec<Stimulus>,
    pub max_participants: Option<u64>,
    pub completion_url: Option<String>,
    pub open: bool,
    pub sessions_started: u64,
    pub created_ms: i64,
}

impl Study {
    /// The stimulus indices a session must have stored before it counts as complete: every
    /// measured trial (test and attention checks; practice trials are not required).
    pub fn required_indices(&self) -> Vec<u64> {
        self.stimuli
            .iter()
            .filter(|s| s.phase != Phase::Practice)
            .map(|s| s.stimulus_index as u64)
            .collect()
    }

    pub fn is_full(&self) -> bool {
        self.max_participants
            .is_some_and(|max| self.sessions_started >= max)
    }
}

/// What `study create` asks for.
#[derive(Debug, Clone)]
pub struct NewStudy {
    pub name: String,
    pub design: StimulusDesign,
    pub stimuli: Vec<Stimulus>,
    pub max_participants: Option<u64>,
    pub completion_url: Option<String>,
}

/// A new study's id and its experimenter token (shown once; only its hash is stored).
#[derive(Debug, Clone)]
pub struct CreatedStudy {
    pub id: String,
    pub experimenter_token: String,
}

/// The state of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Running,
    Complete,
    Withdrawn,
}

impl SessionStatus {
    pub fn name(self) -> &'static str {
        match self {
            SessionStatus::Running => "running",
            SessionStatus::Complete => "complete",
            SessionStatus::Withdrawn => "withdrawn",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        match text {
            "running" => Ok(SessionStatus::Running),
            "complete" => Ok(SessionStatus::Complete),
            "withdrawn" => Ok(SessionStatus::Withdrawn),
            other => Err(StoreError::Corrupt {
                what: "a session".into(),
                reason: format!("unknown status \"{other}\""),
            }),
        }
    }
}

/// A session as the store keeps it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub study_id: String,
    pub participant_id: String,
    pub token_hash: String,
    pub status: SessionStatus,
    pub created_ms: i64,
}

/// A new session, or why there is none.
#[derive(Debug, Clone)]
pub enum StartOutcome {
    Started {
        session: String,
        token: String,
    },
    /// The same browser asked again (its resume key matched): the running session, new token.
    Resumed {
        session: String,
        token: String,
    },
    NoSuchStudy,
    Closed,
    Full,
    /// This participant id already has a session in this study.
    AlreadyTookPart,
}

/// One trial to store.
#[derive(Debug, Clone)]
pub struct TrialWrite {
    pub stimulus_index: u64,
    pub phase: Phase,
    pub condition_label: String,
    pub correct: bool,
    /// Canonical JSON of the trial row.
    pub record: String,
}

/// What a trial write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    IdenticalRepeat,
    /// A different record is already stored for this trial.
    Conflict,
    /// The session was withdrawn: nothing is stored for it any more.
    Withdrawn,
    /// The session is complete and this trial was not part of it.
    SessionComplete,
}

/// What completing a session did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteOutcome {
    Completed,
    AlreadyComplete,
    Missing(Vec<u64>),
    Withdrawn,
}

/// Counts for the dashboard and `study list`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StudySummary {
    pub sessions_started: u64,
    pub running: u64,
    pub completed: u64,
    pub withdrawn: u64,
    pub trials: u64,
    /// Test-phase accuracy per condition so far.
    pub conditions: Vec<ConditionCount>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConditionCount {
    pub condition: String,
    pub trials: u64,
    pub correct: u64,
}

/// The schema, embedded so the binary carries it; sqlx records which versions ran.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "collection server".into(),
        MigrationType::Simple,
        include_str!("../../migrations/0001_collection.sql").into_sql_str(),
        false,
    )])
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

/// The database: a writer pool, a reader pool (the same pool on PostgreSQL) and a small pool
/// of its own for exports, which hold a connection for as long as the client reads: a slow
/// download never takes the connections that participants' requests need.
#[derive(Clone)]
pub struct Store {
    write: AnyPool,
    read: AnyPool,
    export: AnyPool,
    /// SQLite only: the group-commit writer that stores trials.
    writer: Option<tokio::sync::mpsc::Sender<WriteJob>>,
    backend: Backend,
}

impl Store {
    /// Connects (creating an SQLite file and its folder if needed) and runs the migrations.
    pub async fn open(url: &str) -> StoreResult<Store> {
        install_default_drivers();
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            // Each pool would open its own in-memory database: refuse rather than lose data.
            if path.is_empty() || path.starts_with(":memory:") {
                return Err(StoreError::Url(url.to_string()));
            }
            if let Some(parent) = Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::Folder {
                    path: parent.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
            let rw = if url.contains('?') {
                url.to_string()
            } else {
                format!("sqlite://{path}?mode=rwc")
            };
            let write = sqlite_pool(&rw, 1, false).await?;
            migrator().run(&write).await?;
            let read = sqlite_pool(&rw, 4, true).await?;
            let export = sqlite_pool(&rw, 2, true).await?;
            Ok(Store {
                writer: Some(spawn_writer(write.clone())),
                write,
                read,
                export,
                backend: Backend::Sqlite,
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options: AnyConnectOptions =
                url.parse().map_err(|_| StoreError::Url(url.to_string()))?;
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            migrator().run(&pool).await?;
            let export = AnyPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(url.parse().map_err(|_| StoreError::Url(url.to_string()))?)
                .await?;
            Ok(Store {
                write: pool.clone(),
                read: pool,
                export,
                writer: None,
                backend: Backend::Postgres,
            })
        } else {
            Err(StoreError::Url(url.to_string()))
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (an SQLite file is then checkpointed and consistent).
    pub async fn close(&self) {
        self.export.close().await;
        self.read.close().await;
        self.write.close().await;
    }

    /// `PRAGMA integrity_check` on SQLite; `None` on PostgreSQL.
    pub async fn integrity_check(&self) -> StoreResult<Option<String>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let row = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&self.read)
            .await?;
        Ok(Some(row.try_get::<String, _>(0)?))
    }

    pub async fn create_study(&self, new: &NewStudy) -> StoreResult<CreatedStudy> {
        let design = serde_json::to_string(&new.design).map_err(|e| corrupt("a design", e))?;
        let stimuli = serde_json::to_string(&new.stimuli).map_err(|e| corrupt("stimuli", e))?;
        let id = format!("s-{}", token::random_hex(6)?);
        let experimenter_token = format!("exp-{}", token::random_hex(24)?);
        sqlx::query(
            "INSERT INTO studies (id, name, design, stimuli, max_participants, completion_url, \
             token_hash, status, sessions_started, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', 0, $8)",
        )
        .bind(id.clone())
        .bind(new.name.clone())
        .bind(design)
        .bind(stimuli)
        .bind(new.max_participants.map(|m| m.min(i64::MAX as u64) as i64))
        .bind(new.completion_url.clone())
        .bind(token::hash(&experimenter_token))
        .bind(now_ms())
        .execute(&self.write)
        .await?;
        Ok(CreatedStudy {
            id,
            experimenter_token,
        })
    }

    fn study_from_row(row: &sqlx::any::AnyRow) -> StoreResult<Study> {
        let id: String = row.try_get("id")?;
        let what = format!("study {id}");
        let design: String = row.try_get("design")?;
        let stimuli: String = row.try_get("stimuli")?;
        let max: Option<i64> = row.try_get("max_participants")?;
        let status: String = row.try_get("status")?;
        Ok(Study {
            name: row.try_get("name")?,
            design: serde_json::from_str(&design).map_err(|e| corrupt(&what, e))?,
            stimuli: serde_json::from_str(&stimuli).map_err(|e| corrupt(&what, e))?,
            max_participants: max.map(|m| m.max(0) as u64),
            completion_url: row.try_get("completion_url")?,
            open: status == "open",
            sessions_started: row.try_get::<i64, _>("sessions_started")?.max(0) as u64,
            created_ms: row.try_get("created_ms")?,
            id,
        })
    }

    pub async fn study(&self, id: &str) -> StoreResult<Option<Study>> {
        let row = sqlx::query(
            "SELECT id, name, design, stimuli, max_participants, completion_url, status, \
             sessions_started, created_ms FROM studies WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(Self::study_from_row).transpose()
    }

    pub async fn list_studies(&self) -> StoreResult<Vec<Study>> {
        let rows = sqlx::query(
            "SELECT id, name, design, stimuli, max_participants, completion_url, status, \
             sessions_started, created_ms FROM studies ORDER BY created_ms, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(Self::study_from_row).collect()
    }

    /// Closes a study to new sessions (running ones may still finish). False: no such study.
    pub async fn close_study(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE studies SET status = 'closed' WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// True when `token` is the study's experimenter token; `None`: no such study.
    pub async fn check_experimenter(&self, study: &str, token: &str) -> StoreResult<Option<bool>> {
        let row = sqlx::query("SELECT token_hash FROM studies WHERE id = $1")
            .bind(study.to_string())
            .fetch_optional(&self.read)
            .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
            .map(|stored| token::matches(token, &stored)))
    }

    /// Starts a session. The study's counter is raised and the session inserted in one
    /// transaction, so neither the participant limit nor "one session per participant id" can
    /// be beaten by two requests at once.
    pub async fn start_session(
        &self,
        study: &str,
        participant: &str,
        url_params: &BTreeMap<String, String>,
        resume_key: Option<&str>,
    ) -> StoreResult<StartOutcome> {
        let params = serde_json::to_string(url_params).map_err(|e| corrupt("url params", e))?;
        let session = token::random_hex(16)?;
        let session_token = format!("ses-{}", token::random_hex(24)?);
        let resume_hash = resume_key.map(token::hash);
        let mut tx = self.write.begin().await?;
        let resumed = resume(
            &mut tx,
            study,
            participant,
            resume_hash.as_deref(),
            &session_token,
        );
        if let Some(outcome) = resumed.await? {
            tx.commit().await?;
            return Ok(outcome);
        }
        // Someone who took part already hears so, even when the study is full or closed.
        let known =
            sqlx::query("SELECT 1 FROM sessions WHERE study_id = $1 AND participant_id = $2")
                .bind(study.to_string())
                .bind(participant.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if known.is_some() {
            tx.rollback().await?;
            return Ok(StartOutcome::AlreadyTookPart);
        }
        let counted = sqlx::query(
            "UPDATE studies SET sessions_started = sessions_started + 1 WHERE id = $1 \
             AND status = 'open' AND (max_participants IS NULL OR sessions_started < max_participants)",
        )
        .bind(study.to_string())
        .execute(&mut *tx)
        .await?;
        if counted.rows_affected() == 0 {
            // On PostgreSQL this statement waited for a concurrent start of the same participant
            // (same browser, same key) to commit: a fresh statement sees it.
            let resumed = resume(
                &mut tx,
                study,
                participant,
                resume_hash.as_deref(),
                &session_token,
            );
            if let Some(outcome) = resumed.await? {
                tx.commit().await?;
                return Ok(outcome);
            }
            tx.rollback().await?;
            return Ok(match self.study(study).await? {
                None => StartOutcome::NoSuchStudy,
                Some(s) if !s.open => StartOutcome::Closed,
                Some(_) => StartOutcome::Full,
            });
        }
        let inserted = sqlx::query(
            "INSERT INTO sessions (id, study_id, participant_id, token_hash, resume_hash, url_params, \
             status, created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'running', $7) \
             ON CONFLICT (study_id, participant_id) DO NOTHING",
        )
        .bind(session.clone())
        .bind(study.to_string())
        .bind(participant.to_string())
        .bind(token::hash(&session_token))
        .bind(resume_hash.clone())
        .bind(params)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            let mut tx = self.write.begin().await?;
            let resumed = resume(
                &mut tx,
                study,
                participant,
                resume_hash.as_deref(),
                &session_token,
            );
            if let Some(outcome) = resumed.await? {
                tx.commit().await?;
                return Ok(outcome);
            }
            tx.rollback().await?;
            return Ok(StartOutcome::AlreadyTookPart);
        }
        tx.commit().await?;
        Ok(StartOutcome::Started {
            session,
            token: session_token,
        })
    }

    /// The participant id of the session started with `resume_key` in `study`, if any (for a
    /// link without a participant id: the server made one, and the browser only has its key).
    pub async fn participant_by_resume_key(
        &self,
        study: &str,
        resume_key: &str,
    ) -> StoreResult<Option<String>> {
        Ok(sqlx::query(
            "SELECT participant_id FROM sessions WHERE study_id = $1 AND resume_hash = $2",
        )
        .bind(study.to_string())
        .bind(token::hash(resume_key))
        .fetch_optional(&self.read)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
    }

    pub async fn session(&self, id: &str) -> StoreResult<Option<Session>> {
        let row = sqlx::query(
            "SELECT id, study_id, participant_id, token_hash, status, created_ms \
             FROM sessions WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Session {
            id: row.try_get("id")?,
            study_id: row.try_get("study_id")?,
            participant_id: row.try_get("participant_id")?,
            token_hash: row.try_get("token_hash")?,
            status: SessionStatus::parse(&row.try_get::<String, _>("status")?)?,
            created_ms: row.try_get("created_ms")?,
        }))
    }

    /// Stores one trial of `session` (see the module doc for why it is safe to repeat). On
    /// SQLite the trial joins the writer's next group commit; it is acknowledged only once that
    /// transaction is on disk.
    pub async fn put_trial(
        &self,
        session: &Session,
        trial: &TrialWrite,
    ) -> StoreResult<PutOutcome> {
        if let Some(writer) = &self.writer {
            let (reply, outcome) = tokio::sync::oneshot::channel();
            let job = WriteJob {
                session: session.clone(),
                trial: trial.clone(),
                reply,
            };
            if writer.send(job).await.is_ok()
                && let Ok(result) = outcome.await
            {
                return result;
            }
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        let mut tx = self.write.begin().await?;
        let outcome = write_trial(&mut tx, session, trial).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// The stimulus indices stored for a session, ascending.
    pub async fn stored_indices(&self, session: &str) -> StoreResult<Vec<u64>> {
        let rows = sqlx::query(
            "SELECT stimulus_index FROM trials WHERE session_id = $1 ORDER BY stimulus_index",
        )
        .bind(session.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<i64, _>(0)?.max(0) as u64))
            .collect()
    }

    /// Marks the session complete if every index in `required` is stored.
    pub async fn complete(
        &self,
        session: &Session,
        required: &[u64],
    ) -> StoreResult<CompleteOutcome> {
        match session.status {
            SessionStatus::Withdrawn => return Ok(CompleteOutcome::Withdrawn),
            SessionStatus::Complete => return Ok(CompleteOutcome::AlreadyComplete),
            SessionStatus::Running => {}
        }
        let stored: std::collections::BTreeSet<u64> = self
            .stored_indices(&session.id)
            .await?
            .into_iter()
            .collect();
        let missing: Vec<u64> = required
            .iter()
            .copied()
            .filter(|i| !stored.contains(i))
            .collect();
        if !missing.is_empty() {
            return Ok(CompleteOutcome::Missing(missing));
        }
        let done = sqlx::query(
            "UPDATE sessions SET status = 'complete', completed_ms = $2 \
             WHERE id = $1 AND status = 'running'",
        )
        .bind(session.id.clone())
        .bind(now_ms())
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(CompleteOutcome::Completed);
        }
        // Someone else changed the status meanwhile: report what it is now.
        Ok(match self.session(&session.id).await?.map(|s| s.status) {
            Some(SessionStatus::Complete) => CompleteOutcome::AlreadyComplete,
            _ => CompleteOutcome::Withdrawn,
        })
    }

    /// Withdrawal: the session is marked withdrawn and its trials are deleted, in one
    /// transaction. Returns how many trials were deleted.
    pub async fn withdraw(&self, session: &str) -> StoreResult<u64> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE sessions SET status = 'withdrawn', withdrawn_ms = $2 WHERE id = $1")
            .bind(session.to_string())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM trials WHERE session_id = $1")
            .bind(session.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected())
    }

    /// Every stored trial record of a study, in session order then stimulus order, as a stream
    /// read from the database row by row (constant memory, whatever the study's size).
    pub fn trial_records(&self, study: &str) -> BoxStream<'static, StoreResult<String>> {
        let pool = self.export.clone();
        let study = study.to_string();
        // A task reads the rows and hands them over through a small bounded channel: the reader
        // waits whenever the client is slower than the database, so memory stays constant.
        let (send, receive) = tokio::sync::mpsc::channel::<StoreResult<String>>(64);
        tokio::spawn(async move {
            let mut rows = sqlx::query(
                "SELECT t.record FROM trials t JOIN sessions s ON s.id = t.session_id \
                 WHERE t.study_id = $1 ORDER BY s.created_ms, s.id, t.stimulus_index",
            )
            .bind(study)
            .fetch(&pool);
            while let Some(row) = rows.next().await {
                let item = row
                    .and_then(|r| r.try_get::<String, _>(0))
                    .map_err(StoreError::from);
                let failed = item.is_err();
                if send.send(item).await.is_err() || failed {
                    break; // the client went away, or the read failed (already reported)
                }
            }
        });
        futures_util::stream::unfold(receive, |mut receive| async move {
            receive.recv().await.map(|item| (item, receive))
        })
        .boxed()
    }

    pub async fn summary(&self, study: &str) -> StoreResult<StudySummary> {
        let mut summary = StudySummary::default();
        let rows = sqlx::query(
            "SELECT status, COUNT(*) FROM sessions WHERE study_id = $1 GROUP BY status",
        )
        .bind(study.to_string())
        .fetch_all(&self.read)
        .await?;
        for row in rows {
            let status: String = row.try_get(0)?;
            let n = row.try_get::<i64, _>(1)?.max(0) as u64;
            summary.sessions_started += n;
            match SessionStatus::parse(&status)? {
                SessionStatus::Running => summary.running = n,
                SessionStatus::Complete => summary.completed = n,
                SessionStatus::Withdrawn => summary.withdrawn = n,
            }
        }
        let rows = sqlx::query(
            "SELECT condition_label, phase, COUNT(*), CAST(SUM(correct) AS BIGINT) FROM trials \
             WHERE study_id = $1 GROUP BY condition_label, phase ORDER BY condition_label",
        )
        .bind(study.to_string())
        .fetch_all(&self.read)
        .await?;
        for row in rows {
            let n = row.try_get::<i64, _>(2)?.max(0) as u64;
            summary.trials += n;
            if row.try_get::<String, _>(1)? == "test" {
                summary.conditions.push(ConditionCount {
                    condition: row.try_get(0)?,
                    trials: n,
                    correct: row.try_get::<Option<i64>, _>(3)?.unwrap_or(0).max(0) as u64,
                });
            }
        }
        Ok(summary)
    }

    /// Counts of trial rows and of distinct trial keys of a study (the load test's check that
    /// nothing is stored twice).
    pub async fn count_trials(&self, study: &str) -> StoreResult<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COUNT(*), COUNT(DISTINCT session_id || ':' || CAST(stimulus_index AS TEXT)) \
             FROM trials WHERE study_id = $1",
        )
        .bind(study.to_string())
        .fetch_one(&self.read)
        .await?;
        Ok((
            row.try_get::<i64, _>(0)?.max(0) as u64,
            row.try_get::<i64, _>(1)?.max(0) as u64,
        ))
    }
}

/// If the running session of `participant` in `study` was started with this resume hash: give
/// it `token` and hand it back (the caller commits).
async fn resume(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    study: &str,
    participant: &str,
    resume_hash: Option<&str>,
    token: &str,
) -> StoreResult<Option<StartOutcome>> {
    let Some(resume_hash) = resume_hash else {
        return Ok(None);
    };
    let resumed = sqlx::query(
        "UPDATE sessions SET token_hash = $4 WHERE study_id = $1 AND participant_id = $2 \
         AND resume_hash = $3 AND status = 'running'",
    )
    .bind(study.to_string())
    .bind(participant.to_string())
    .bind(resume_hash.to_string())
    .bind(token::hash(token))
    .execute(&mut **tx)
    .await?;
    if resumed.rows_affected() == 0 {
        return Ok(None);
    }
    let id: String =
        sqlx::query("SELECT id FROM sessions WHERE study_id = $1 AND participant_id = $2")
            .bind(study.to_string())
            .bind(participant.to_string())
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
    Ok(Some(StartOutcome::Resumed {
        session: id,
        token: token.to_string(),
    }))
}

/// One trial's statements inside `tx` (no commit): the session row first (it must be running),
/// then the insert that stores a trial at most once, then, if nothing was inserted, the stored
/// row to tell a repeat from a different answer.
async fn write_trial(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    session: &Session,
    trial: &TrialWrite,
) -> StoreResult<PutOutcome> {
    let index = trial.stimulus_index.min(i64::MAX as u64) as i64;
    let now = now_ms();
    let live =
        sqlx::query("UPDATE sessions SET last_trial_ms = $2 WHERE id = $1 AND status = 'running'")
            .bind(session.id.clone())
            .bind(now)
            .execute(&mut **tx)
            .await?;
    if live.rows_affected() == 0 {
        let status: Option<String> = sqlx::query("SELECT status FROM sessions WHERE id = $1")
            .bind(session.id.clone())
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let stored = stored_record(tx, &session.id, index).await?;
        return Ok(match status.as_deref() {
            Some("complete") if stored.as_deref() == Some(trial.record.as_str()) => {
                PutOutcome::IdenticalRepeat
            }
            Some("complete") => PutOutcome::SessionComplete,
            _ => PutOutcome::Withdrawn,
        });
    }
    let inserted = sqlx::query(
        "INSERT INTO trials (session_id, stimulus_index, study_id, phase, condition_label, \
         correct, record, received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (session_id, stimulus_index) DO NOTHING",
    )
    .bind(session.id.clone())
    .bind(index)
    .bind(session.study_id.clone())
    .bind(phase_name(trial.phase))
    .bind(trial.condition_label.clone())
    .bind(trial.correct as i64)
    .bind(trial.record.clone())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(PutOutcome::Stored);
    }
    let stored = stored_record(tx, &session.id, index).await?;
    Ok(if stored.as_deref() == Some(trial.record.as_str()) {
        PutOutcome::IdenticalRepeat
    } else {
        PutOutcome::Conflict
    })
}

async fn stored_record(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    session: &str,
    index: i64,
) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query("SELECT record FROM trials WHERE session_id = $1 AND stimulus_index = $2")
            .bind(session.to_string())
            .bind(index)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?,
    )
}

/// A trial waiting for the SQLite writer.
struct WriteJob {
    session: Session,
    trial: TrialWrite,
    reply: tokio::sync::oneshot::Sender<StoreResult<PutOutcome>>,
}

/// The most trials one group commit takes.
const GROUP_COMMIT_MAX: usize = 128;

/// SQLite's writer: takes every trial that is waiting (up to [`GROUP_COMMIT_MAX`]) and stores
/// them in one transaction, so one fsync serves them all. If the batch fails, each trial is
/// retried in a transaction of its own, so one bad trial cannot fail the others.
fn spawn_writer(pool: AnyPool) -> tokio::sync::mpsc::Sender<WriteJob> {
    let (send, mut receive) = tokio::sync::mpsc::channel::<WriteJob>(4 * GROUP_COMMIT_MAX);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(GROUP_COMMIT_MAX);
        while receive.recv_many(&mut batch, GROUP_COMMIT_MAX).await > 0 {
            match commit_batch(&pool, &batch).await {
                Ok(outcomes) => {
                    for (job, outcome) in batch.drain(..).zip(outcomes) {
                        let _ = job.reply.send(Ok(outcome));
                    }
                }
                // One trial's statement failed: retry each alone, so the others still land.
                Err(BatchError::Statement(_)) if batch.len() > 1 => {
                    for job in batch.drain(..) {
                        let result = commit_batch(&pool, std::slice::from_ref(&job))
                            .await
                            .map(|mut o| o.remove(0))
                            .map_err(BatchError::into_store);
                        let _ = job.reply.send(result);
                    }
                }
                // The transaction itself failed (no connection, busy file, commit): nothing was
                // stored and nothing is acknowledged; the clients retry.
                Err(e) => {
                    let message = e.into_store().to_string();
                    for job in batch.drain(..) {
                        let _ = job
                            .reply
                            .send(Err(StoreError::Unavailable(message.clone())));
                    }
                }
            }
        }
    });
    send
}

/// Why a group commit failed: one trial's statement, or the transaction as a whole.
enum BatchError {
    Statement(StoreError),
    Transaction(StoreError),
}

impl BatchError {
    fn into_store(self) -> StoreError {
        match self {
            BatchError::Statement(e) | BatchError::Transaction(e) => e,
        }
    }
}

async fn commit_batch(pool: &AnyPool, jobs: &[WriteJob]) -> Result<Vec<PutOutcome>, BatchError> {
    let whole = |e: sqlx::Error| BatchError::Transaction(e.into());
    let mut tx = pool.begin().await.map_err(whole)?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(
            write_trial(&mut tx, &job.session, &job.trial)
                .await
                .map_err(BatchError::Statement)?,
        );
    }
    tx.commit().await.map_err(whole)?;
    Ok(outcomes)
}

pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Practice => "practice",
        Phase::Test => "test",
        Phase::Attention => "attention",
    }
}

async fn sqlite_pool(url: &str, connections: u32, read_only: bool) -> StoreResult<AnyPool> {
    let options: AnyConnectOptions = url.parse().map_err(|_| StoreError::Url(url.to_string()))?;
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(60))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                if read_only {
                    conn.execute("PRAGMA query_only = ON").await?;
                } else {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                }
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?)
}
