-- The collection server's tables. One dialect for SQLite and PostgreSQL: TEXT, BIGINT, no
-- autoincrement, no booleans (0/1 as BIGINT), times as Unix milliseconds.

CREATE TABLE studies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- The StimulusDesign (task and seed included) and the stimulus list it gives, as JSON: every
    -- participant of a study sees the same list, so people can be compared stimulus by stimulus.
    design TEXT NOT NULL,
    stimuli TEXT NOT NULL,
    max_participants BIGINT,
    completion_url TEXT,
    -- SHA-256 of the experimenter token; the token itself is shown once and never stored.
    token_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    sessions_started BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    study_id TEXT NOT NULL REFERENCES studies (id),
    participant_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    -- SHA-256 of a secret the participant's browser made before asking for the session: the same
    -- browser can get its session back (with a new token) if the first reply was lost.
    resume_hash TEXT,
    -- The link's query parameters (PROLIFIC_PID, STUDY_ID, SESSION_ID, ...), as a JSON object.
    url_params TEXT NOT NULL,
    status TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_trial_ms BIGINT,
    completed_ms BIGINT,
    withdrawn_ms BIGINT,
    -- One participation per participant id and study.
    UNIQUE (study_id, participant_id)
);

CREATE INDEX sessions_by_study ON sessions (study_id, created_ms);

CREATE TABLE trials (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    stimulus_index BIGINT NOT NULL,
    study_id TEXT NOT NULL,
    phase TEXT NOT NULL,
    condition_label TEXT NOT NULL,
    correct BIGINT NOT NULL,
    -- The trial row as the library's TrialRecord serialises it (canonical JSON).
    record TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    -- The key that makes every write idempotent: a trial is stored at most once.
    PRIMARY KEY (session_id, stimulus_index)
);

CREATE INDEX trials_by_study ON trials (study_id);
