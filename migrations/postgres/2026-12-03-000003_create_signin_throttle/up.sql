-- Failed signins of the last hour: the brute-force throttle counts them per
-- (username, address), per address and per username. Old rows are swept.
CREATE TABLE signin_failures (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX signin_failures_user_addr ON signin_failures (username, client_addr, failed_at);
CREATE INDEX signin_failures_addr ON signin_failures (client_addr, failed_at);
CREATE INDEX signin_failures_failed_at ON signin_failures (failed_at);

-- Addresses a user has signed in from: they still get through while the
-- user's account is under attack from elsewhere.
CREATE TABLE known_addresses (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_addr TEXT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_addr)
);
CREATE INDEX known_addresses_last_seen_at ON known_addresses (last_seen_at);
