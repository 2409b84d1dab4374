-- SPDX-License-Identifier: MIT
-- Store audits: questionnaire templates (versioned), submissions with their answers and photos.
-- store_id, user_id, attendance_id, visit_id and corrective_todo_ids name rows of other services
-- (stores, users, attendance, visits, todos): checked through their APIs, never foreign keys
-- across schemas.
CREATE SCHEMA IF NOT EXISTS audits;

CREATE TABLE audits.templates (
    id uuid PRIMARY KEY,
    current_version integer NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    active boolean NOT NULL DEFAULT true,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX templates_created_idx ON audits.templates (created_at DESC, id DESC);

-- What an audit answers. A version that an audit references is never changed again: editing the
-- template then writes version + 1 (handlers.c decides, under the template's row lock).
CREATE TABLE audits.template_versions (
    template_id uuid NOT NULL REFERENCES audits.templates (id) ON DELETE CASCADE,
    version integer NOT NULL CHECK (version >= 1),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    pass_threshold_pct numeric(4, 1) NOT NULL DEFAULT 80
        CHECK (pass_threshold_pct BETWEEN 0 AND 100),
    -- [{id, text, type, required, weight, allowNa, passValue, min, max, options, passOptions,
    --   photoRequired, failCreatesTask}] in display order, normalised by template.c
    questions jsonb NOT NULL CHECK (jsonb_typeof(questions) = 'array'),
    -- set (for good) in the transaction that inserts the first audit of this version
    used boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, version)
);

CREATE TABLE audits.audits (
    id uuid PRIMARY KEY,
    template_id uuid NOT NULL,
    template_version integer NOT NULL,
    store_id uuid NOT NULL,
    user_id uuid NOT NULL,
    visit_id uuid,
    attendance_id uuid,
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted')),
    -- {questionId: {value, na, comment, photoUrls, capturedAt, receivedAt, passed}}
    answers jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(answers) = 'object'),
    -- bumped by every write to a draft: a submit scores one revision and commits only if it is
    -- still the current one
    revision integer NOT NULL DEFAULT 0,
    score_pct numeric(4, 1) CHECK (score_pct BETWEEN 0 AND 100),
    passed boolean,
    corrective_todo_ids uuid[] NOT NULL DEFAULT '{}',
    started_at timestamptz NOT NULL DEFAULT now(),
    submitted_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (template_id, template_version) REFERENCES audits.template_versions,
    CHECK ((status = 'submitted') = (submitted_at IS NOT NULL)),
    CHECK ((status = 'submitted') = (score_pct IS NOT NULL AND passed IS NOT NULL))
);
-- One index per list filter, newest first.
CREATE INDEX audits_started_idx ON audits.audits (started_at DESC, id DESC);
CREATE INDEX audits_user_started_idx ON audits.audits (user_id, started_at DESC, id DESC);
CREATE INDEX audits_store_started_idx ON audits.audits (store_id, started_at DESC, id DESC);
CREATE INDEX audits_template_started_idx ON audits.audits (template_id, started_at DESC, id DESC);
-- GET /scores: submitted audits of a period, grouped; index-only over the columns it reads.
CREATE INDEX audits_scores_idx ON audits.audits (submitted_at)
    INCLUDE (store_id, user_id, template_id, score_pct, passed)
    WHERE status = 'submitted';

-- Photos of answers. Files are content-addressed under DTM_DATA_DIR/uploads (common/photo.c),
-- shared with the punch-in photos; this table is what makes one readable through audits.
CREATE TABLE audits.photos (
    audit_id uuid NOT NULL REFERENCES audits.audits (id) ON DELETE CASCADE,
    question_id text NOT NULL,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text NOT NULL,
    bytes integer NOT NULL CHECK (bytes > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (audit_id, question_id, sha256)
);
CREATE INDEX photos_sha256_idx ON audits.photos (sha256);
