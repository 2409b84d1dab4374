-- SPDX-License-Identifier: MIT
-- Sessions and login protection of the auth service. Users and their password hashes live in
-- the users schema; auth only keeps user ids (no foreign key across services).
CREATE SCHEMA IF NOT EXISTS auth;

-- Opaque refresh tokens, stored as SHA-256 (hex). Every use rotates the token inside its family;
-- presenting a token that was already used revokes the whole family.
CREATE TABLE auth.refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash  text NOT NULL CHECK (length(token_hash) = 64),
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    access_jti  uuid,            -- jti of the access token issued together with it
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,     -- set when rotated
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON auth.refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_idx ON auth.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_live_idx ON auth.refresh_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_access_jti_idx ON auth.refresh_tokens (access_jti);
CREATE INDEX refresh_tokens_expires_idx ON auth.refresh_tokens (expires_at);

-- Consecutive failed logins per (normalised) e-mail; locked_until set after the 5th.
CREATE TABLE auth.login_failures (
    email        text PRIMARY KEY,
    failures     integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_updated_idx ON auth.login_failures (updated_at);

-- Durable copy of the access-token denylist (Redis `jwt:deny:<jti>` is the fast path).
CREATE TABLE auth.revoked_access_tokens (
    jti        uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_idx ON auth.revoked_access_tokens (expires_at);
