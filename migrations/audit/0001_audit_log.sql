-- SPDX-License-Identifier: MIT
-- The audit log (issue 14): every write by an admin or a manager appends one row in the same
-- transaction as the change (src/services/common/audit.h). Rows are hash-chained: each holds
-- the hash of the previous one and its own hash over its content and that link, so an UPDATE or
-- DELETE of a row by SQL breaks the chain where it happened (`dtm audit verify`). Appends take
-- a transaction-scoped advisory lock, so the chain has no forks.
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE audit.log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_id    uuid,                      -- NULL: the CLI
    actor_role  text NOT NULL,             -- admin | manager | cli
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),   -- user.update, ...
    entity      text NOT NULL CHECK (length(entity) BETWEEN 1 AND 32),   -- user, store, ...
    entity_id   text NOT NULL DEFAULT '' CHECK (length(entity_id) <= 64),
    ip          text NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    request_id  text NOT NULL DEFAULT '' CHECK (length(request_id) <= 128),
    changes     jsonb NOT NULL DEFAULT '{}',
    prev_hash   text NOT NULL CHECK (length(prev_hash) = 64),
    hash        text NOT NULL CHECK (length(hash) = 64)
);
CREATE INDEX log_at_idx ON audit.log (at);

-- The chain's head, moved by every append in the same statement: deleting the newest rows
-- (which leaves a shorter but consistent chain) shows as a head that names a missing row.
CREATE TABLE audit.head (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    id   bigint NOT NULL,
    hash text NOT NULL CHECK (length(hash) = 64)
);
INSERT INTO audit.head (id, hash) VALUES (0, repeat('0', 64));
CREATE INDEX log_actor_idx ON audit.log (actor_id, at);
CREATE INDEX log_entity_idx ON audit.log (entity, entity_id, at);

-- The hash of one row: SHA-256 over the previous hash and every field, each field length-
-- prefixed so that no two different rows share a text; jsonb's text form is canonical (sorted
-- keys), the time is whole microseconds since the epoch (no time-zone setting involved).
CREATE FUNCTION audit.row_hash(prev text, id bigint, at timestamptz, actor_id uuid,
                               actor_role text, action text, entity text, entity_id text,
                               ip text, request_id text, changes jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(concat_ws('|',
        prev, id::text, (extract(epoch FROM at) * 1000000)::bigint::text,
        length(coalesce(actor_id::text, '')) || ':' || coalesce(actor_id::text, ''),
        length(actor_role) || ':' || actor_role,
        length(action) || ':' || action,
        length(entity) || ':' || entity,
        length(entity_id) || ':' || entity_id,
        length(ip) || ':' || ip,
        length(request_id) || ':' || request_id,
        changes::text), 'UTF8')), 'hex')
$$;
