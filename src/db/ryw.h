/* SPDX-License-Identifier: MIT */
/* Read-your-writes for read replicas: the primary's WAL position after a caller's last write,
 * per caller, so that the caller's next reads go to a replica only once it has replayed that
 * far (db/pg.h, dtm_db_open_read). Per scope: the replica's name (dtm_pg_replica_name), since
 * LSNs of two database clusters cannot be compared. Kept in Redis (dtm:ryw:<scope>:<caller>, shared
 * by every process of a deployment, TTL 2 x DTM_REPLICA_MAX_LAG_MS: past that a replica that far
 * behind is skipped anyway) and in this process (the fallback when Redis is down, and the only copy
 * a single process needs). The larger of both wins. */
#ifndef DTM_DB_RYW_H
#define DTM_DB_RYW_H

#include <stdint.h>

/** Remember that `caller` (a user id) wrote up to `lsn`. Never lowers a remembered LSN in
 *  this process; Redis keeps the last one written (concurrent writes of one caller in two
 *  processes within a millisecond may keep the lower: the next write fixes it). */
void dtm_ryw_note(const char *scope, const char *caller, uint64_t lsn);
/** The LSN a read of `caller` must see (0: none recorded, or expired). One Redis GET. */
uint64_t dtm_ryw_get(const char *scope, const char *caller);

#endif
