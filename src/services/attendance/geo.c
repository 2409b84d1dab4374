/* SPDX-License-Identifier: MIT */
#include "services/attendance/geo.h"
#include <math.h>

#define DEG2RAD (M_PI / 180.0)

bool dtm_geo_valid(double lat, double lon)
{
    return isfinite(lat) && isfinite(lon) && lat >= -90.0 && lat <= 90.0 && lon >= -180.0 &&
           lon <= 180.0;
}

/* Haversine rather than the spherical law of cosines: it stays accurate for the short distances
 * a geofence is about (a few metres), where acos() of a value near 1 loses most digits. The
 * sin^2 of the longitude difference is periodic, so -179.9 vs 179.9 is 0.2 degrees apart. */
double dtm_geo_distance_m(double lat1, double lon1, double lat2, double lon2)
{
    if (!dtm_geo_valid(lat1, lon1) || !dtm_geo_valid(lat2, lon2))
        return NAN;
    double p1 = lat1 * DEG2RAD, p2 = lat2 * DEG2RAD;
    double dp = (lat2 - lat1) * DEG2RAD, dl = (lon2 - lon1) * DEG2RAD;
    double s1 = sin(dp / 2), s2 = sin(dl / 2);
    double a = s1 * s1 + cos(p1) * cos(p2) * s2 * s2;
    /* Rounding can push a a hair outside [0, 1] for antipodal points. */
    if (a < 0)
        a = 0;
    if (a > 1)
        a = 1;
    return 2.0 * DTM_EARTH_RADIUS_M * atan2(sqrt(a), sqrt(1.0 - a));
}

bool dtm_geo_within(double lat, double lon, double center_lat, double center_lon, long radius_m,
                    long *distance_m)
{
    double d = dtm_geo_distance_m(lat, lon, center_lat, center_lon);
    if (isnan(d)) {
        if (distance_m)
            *distance_m = -1;
        return false;
    }
    long rounded = lround(d);
    if (distance_m)
        *distance_m = rounded;
    return rounded <= radius_m;
}
