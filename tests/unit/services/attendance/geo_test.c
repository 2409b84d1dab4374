/* SPDX-License-Identifier: MIT */
#include "services/attendance/geo.h"
#include <criterion/criterion.h>
#include <math.h>

/* Point at `dist` metres due north of (lat, lon) on the same sphere: the exact inverse of the
 * haversine along a meridian. */
static double north_of(double lat, double dist)
{
    return lat + dist / DTM_EARTH_RADIUS_M * 180.0 / M_PI;
}

Test(geo, same_point_is_zero)
{
    cr_assert_float_eq(dtm_geo_distance_m(48.8566, 2.3522, 48.8566, 2.3522), 0.0, 1e-9);
}

Test(geo, known_city_pair)
{
    /* Paris -> London is ~343.5 km on the mean-radius sphere. */
    double d = dtm_geo_distance_m(48.8566, 2.3522, 51.5074, -0.1278);
    cr_assert(d > 343000 && d < 344200, "got %f", d);
}

Test(geo, symmetric)
{
    double a = dtm_geo_distance_m(-33.86, 151.21, 40.71, -74.0);
    double b = dtm_geo_distance_m(40.71, -74.0, -33.86, 151.21);
    cr_assert_float_eq(a, b, 1e-6);
}

Test(geo, short_distances_are_precise)
{
    /* One metre north must come out as one metre, not 0 or 2 (law-of-cosines failure mode). */
    double d = dtm_geo_distance_m(45.0, 7.0, north_of(45.0, 1.0), 7.0);
    cr_assert_float_eq(d, 1.0, 1e-6);
}

Test(geo, exactly_on_the_radius_is_inside)
{
    long dist = 0;
    double lat = north_of(10.0, 100.0);
    cr_assert(dtm_geo_within(lat, 20.0, 10.0, 20.0, 100, &dist));
    cr_assert_eq(dist, 100);
    /* A metre further is outside, and the reported distance exceeds the radius. */
    cr_assert_not(dtm_geo_within(north_of(10.0, 101.0), 20.0, 10.0, 20.0, 100, &dist));
    cr_assert_eq(dist, 101);
    /* Rounding: 100.4 m reports 100 (inside), 100.6 m reports 101 (outside). */
    cr_assert(dtm_geo_within(north_of(10.0, 100.4), 20.0, 10.0, 20.0, 100, &dist));
    cr_assert_not(dtm_geo_within(north_of(10.0, 100.6), 20.0, 10.0, 20.0, 100, &dist));
}

Test(geo, antimeridian)
{
    /* 179.999 and -179.999 are 0.002 degrees of longitude apart at the equator (~222 m), not
     * 359.998 degrees. */
    double d = dtm_geo_distance_m(0.0, 179.999, 0.0, -179.999);
    cr_assert(d > 222.0 && d < 223.0, "got %f", d);
    cr_assert(dtm_geo_within(0.0, -180.0, 0.0, 180.0, 10, NULL), "-180 and 180 are one meridian");
    double e = dtm_geo_distance_m(-16.5, 179.9995, -16.5, -179.9995);
    cr_assert(e < 110.0, "Fiji across the antimeridian: %f", e);
}

Test(geo, poles)
{
    /* Every longitude meets at a pole. */
    cr_assert_float_eq(dtm_geo_distance_m(90.0, 0.0, 90.0, 123.0), 0.0, 1e-6);
    cr_assert_float_eq(dtm_geo_distance_m(-90.0, -45.0, -90.0, 170.0), 0.0, 1e-6);
    /* Pole to pole is half the circumference; pole to equator a quarter. */
    cr_assert_float_eq(dtm_geo_distance_m(90.0, 0.0, -90.0, 0.0), M_PI * DTM_EARTH_RADIUS_M, 1e-3);
    cr_assert_float_eq(dtm_geo_distance_m(90.0, 0.0, 0.0, 77.0), M_PI / 2 * DTM_EARTH_RADIUS_M,
                       1e-3);
    /* 0.0005 degrees from the pole on opposite meridians: 0.001 degrees apart via the pole. */
    double d = dtm_geo_distance_m(89.9995, 0.0, 89.9995, 180.0);
    cr_assert(d > 110.0 && d < 112.0, "across the pole: %f", d);
}

Test(geo, antipodal_does_not_nan)
{
    double d = dtm_geo_distance_m(0.0, 0.0, 0.0, 180.0);
    cr_assert(!isnan(d));
    cr_assert_float_eq(d, M_PI * DTM_EARTH_RADIUS_M, 1e-3);
}

Test(geo, invalid_coordinates)
{
    cr_assert_not(dtm_geo_valid(90.0001, 0));
    cr_assert_not(dtm_geo_valid(-91, 0));
    cr_assert_not(dtm_geo_valid(0, 180.5));
    cr_assert_not(dtm_geo_valid(0, -181));
    cr_assert_not(dtm_geo_valid(NAN, 0));
    cr_assert_not(dtm_geo_valid(0, INFINITY));
    cr_assert(dtm_geo_valid(90, 180));
    cr_assert(dtm_geo_valid(-90, -180));
    cr_assert(isnan(dtm_geo_distance_m(95, 0, 0, 0)));
    cr_assert(isnan(dtm_geo_distance_m(0, 0, 0, NAN)));
    long dist = 0;
    cr_assert_not(dtm_geo_within(NAN, 0, 0, 0, 5000, &dist));
    cr_assert_eq(dist, -1);
    cr_assert_not(dtm_geo_within(0, 0, 100, 0, 5000, &dist), "invalid centre");
}
