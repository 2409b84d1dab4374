/* SPDX-License-Identifier: MIT */
/* Great-circle distances for geofence checks. Pure functions, no dependencies. */
#ifndef DTM_ATTENDANCE_GEO_H
#define DTM_ATTENDANCE_GEO_H

#include <stdbool.h>

/* IUGG mean Earth radius. API tests that build points at a given distance use the same value. */
#define DTM_EARTH_RADIUS_M 6371008.8

/** True when lat is a finite number in [-90, 90] and lon a finite number in [-180, 180]. */
bool dtm_geo_valid(double lat, double lon);

/** Haversine distance in metres between two points in degrees. NaN when either point is
 *  invalid (see dtm_geo_valid). Symmetric; correct across the antimeridian and at the poles. */
double dtm_geo_distance_m(double lat1, double lon1, double lat2, double lon2);

/** Geofence decision: the distance is rounded to whole metres (the unit the API reports) and
 *  the point is inside when that rounded distance is <= radius_m, so a point exactly on the
 *  circle is inside and the reported distanceM of a rejection is always > radiusM.
 *  *distance_m (may be NULL) gets the rounded distance; -1 for invalid points (never inside). */
bool dtm_geo_within(double lat, double lon, double center_lat, double center_lon, long radius_m,
                    long *distance_m);

#endif
