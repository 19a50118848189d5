-- Login sessions: a session JWT names its row (`sid`), so one
-- session can be logged out and a password change can end the rest.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);

CREATE INDEX sessions_user ON sessions (user_id, created_ms);

CREATE INDEX sessions_expiry ON sessions (expires_ms);

-- When the password last changed: long-lived responses opened
-- before it end (whatever credential opened them).
ALTER TABLE users ADD COLUMN password_changed_ms BIGINT NOT NULL DEFAULT 0;
