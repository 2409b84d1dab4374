-- SPDX-License-Identifier: MIT
-- TOTP second factor (issue 14). A secret is pending (enabled_at NULL) from setup until the
-- first code confirms it. last_step is the highest time step accepted: a code works once.
CREATE TABLE auth.mfa_totp (
    user_id        uuid PRIMARY KEY,
    secret         text NOT NULL CHECK (length(secret) BETWEEN 16 AND 64), -- base32
    enabled_at     timestamptz,
    last_step      bigint NOT NULL DEFAULT 0,
    confirm_tries  integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Single-use recovery codes, stored as SHA-256 (80 random bits each).
CREATE TABLE auth.mfa_recovery_codes (
    user_id   uuid NOT NULL,
    code_hash text NOT NULL CHECK (length(code_hash) = 64),
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- The second step of a login: an opaque mfaToken (stored as SHA-256), 5 minutes, 5 tries.
-- purpose 'verify': a code completes the login; 'enroll': the role must enrol first
-- (DTM_MFA_REQUIRED_ROLES) and the token stands in for a bearer at setup and confirm.
CREATE TABLE auth.mfa_challenges (
    token_hash text PRIMARY KEY CHECK (length(token_hash) = 64),
    user_id    uuid NOT NULL,
    purpose    text NOT NULL CHECK (purpose IN ('verify', 'enroll')),
    tries      integer NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX mfa_challenges_expires_idx ON auth.mfa_challenges (expires_at);
