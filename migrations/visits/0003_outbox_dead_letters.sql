-- SPDX-License-Identifier: MIT
-- Dead letters (src/db/outbox.h): an event refused for good, or out of DTM_OUTBOX_MAX_ATTEMPTS,
-- keeps its row with dead_at set and next_attempt_at = 'infinity' (out of the pending scan)
-- until `dtm outbox requeue visits`.
ALTER TABLE visits.outbox ADD COLUMN dead_at timestamptz;
CREATE INDEX outbox_dead_idx ON visits.outbox (dead_at) WHERE dead_at IS NOT NULL;
