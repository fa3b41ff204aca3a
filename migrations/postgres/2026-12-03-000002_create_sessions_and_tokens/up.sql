-- Server-side sessions (`sessions = true`). Deleting a user deletes them.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_agent TEXT,
    client_addr TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Unspent single-use tokens (`single_use_tokens = true`): a row is deleted by
-- the one request that spends it.
CREATE TABLE single_use_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at BIGINT
);
CREATE INDEX single_use_tokens_user_id ON single_use_tokens (user_id);
CREATE INDEX single_use_tokens_session_id ON single_use_tokens (session_id);
CREATE INDEX single_use_tokens_expires_at ON single_use_tokens (expires_at);
