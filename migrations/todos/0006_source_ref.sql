-- SPDX-License-Identifier: MIT
-- Todos that another service creates on its own behalf (an audit's corrective tasks) carry the
-- reference of what caused them ("audit:<auditId>:<questionId>"). The unique index makes that
-- creation idempotent: a retried or concurrent POST with the same sourceRef gets the same todo.
ALTER TABLE todos.todos ADD COLUMN source_ref text
    CHECK (source_ref IS NULL OR char_length(source_ref) BETWEEN 1 AND 200);
CREATE UNIQUE INDEX todos_source_ref_key ON todos.todos (source_ref) WHERE source_ref IS NOT NULL;
