-- SPDX-License-Identifier: MIT
-- Accounts of the users service. E-mails are stored lower-cased (the service normalises them),
-- so a plain unique index gives case-insensitive uniqueness without the citext extension.
CREATE SCHEMA IF NOT EXISTS users;

CREATE TABLE users.users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    first_name    text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
    last_name     text NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
    role          text NOT NULL CHECK (role IN ('admin', 'manager', 'merchandiser')),
    active        boolean NOT NULL DEFAULT true,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE UNIQUE INDEX users_email_key ON users.users (email);
-- The list is ordered newest first, optionally filtered by role.
CREATE INDEX users_created_idx ON users.users (created_at DESC, id DESC);
CREATE INDEX users_role_created_idx ON users.users (role, created_at DESC, id DESC);
