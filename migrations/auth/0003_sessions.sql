-- SPDX-License-Identifier: MIT
-- Sessions (issue 14): each refresh-token family is a session, as its owner sees it: the device
-- (from the User-Agent at login), the client IP, when it started and when it was last used
-- (login or refresh). A session is live while its family holds a live refresh token.
CREATE TABLE auth.sessions (
    family_id    uuid PRIMARY KEY,
    user_id      uuid NOT NULL,
    user_agent   text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    device       text NOT NULL DEFAULT '' CHECK (length(device) <= 100),
    ip           text NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_idx ON auth.sessions (user_id, last_used_at DESC);

-- Families issued before this migration: sessions with what is known.
INSERT INTO auth.sessions (family_id, user_id, created_at, last_used_at)
SELECT family_id, min(user_id::text)::uuid, min(created_at), max(created_at)
FROM auth.refresh_tokens GROUP BY family_id
ON CONFLICT DO NOTHING;
