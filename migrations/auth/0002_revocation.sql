-- SPDX-License-Identifier: MIT
-- Revocation within seconds (issue 14): a per-user "valid after" epoch. An access token of that
-- user whose iat is at or before valid_after (whole seconds) is refused. Bumped in the same
-- transaction as deactivation, role change, password change or reset. Every process keeps the
-- live rows (changed within an access-token lifetime) in memory and re-reads what changed since
-- its last look (changed_at) on a Redis wake-up, or every 2 s while Redis is down.
CREATE TABLE auth.user_epochs (
    user_id     uuid PRIMARY KEY,
    valid_after bigint NOT NULL,             -- unix seconds
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_epochs_changed_idx ON auth.user_epochs (changed_at);

-- The denylist is read the same way: rows revoked since the last look.
ALTER TABLE auth.revoked_access_tokens ADD COLUMN revoked_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX revoked_access_tokens_revoked_idx ON auth.revoked_access_tokens (revoked_at);
