-- SPDX-License-Identifier: MIT
-- Read-only contract (like reporting.audits): which stored photos audit answers name. The photo
-- collector of the attendance service (src/services/attendance/photo_gc.c) reads it so that it
-- never deletes a file an audit still shows; it never reads audits.photos itself. Backed by
-- audits.photos_sha256_idx.
CREATE VIEW reporting.audit_photos AS
SELECT sha256, audit_id, created_at
FROM audits.photos;
