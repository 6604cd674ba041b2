"""Distances on the Earth for check-ins and «Nearby»: pure functions, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass

from crm.errors import InvalidInput

# The mean Earth radius (IUGG), km: haversine's error against the ellipsoid is within 0.5 %.
EARTH_RADIUS_KM = 6371.0088
# Floating-point slack on the box's edges, degrees (about 1 mm).
_SLACK = 1e-8


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Box:
    """A latitude/longitude rectangle; `lon_min > lon_max` never happens (see box_around)."""

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float


def point(lat: float, lon: float) -> Point:
    """A point as Telegram sends it; anything off the globe is refused."""
    if not (math.isfinite(lat) and math.isfinite(lon)) or not (
        -90 <= lat <= 90 and -180 <= lon <= 180
    ):
        raise InvalidInput("location")
    return Point(lat, lon)


def haversine_km(a: Point, b: Point) -> float:
    """The great-circle distance between two points, km. The arc is taken with atan2 (the
    sphere's case of Vincenty's formula): exact to rounding at any distance, where the
    haversine's asin loses digits near the antipode (and breaks the triangle inequality)."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dlmb = math.radians(b.lon - a.lon)
    sin1, cos1 = math.sin(phi1), math.cos(phi1)
    sin2, cos2 = math.sin(phi2), math.cos(phi2)
    y = math.hypot(cos2 * math.sin(dlmb), cos1 * sin2 - sin1 * cos2 * math.cos(dlmb))
    x = sin1 * sin2 + cos1 * cos2 * math.cos(dlmb)
    return EARTH_RADIUS_KM * math.atan2(y, x)


def box_around(center: Point, radius_km: float) -> Box:
    """A rectangle holding every point within `radius_km` of `center` (J. P. Matuschek,
    "Finding points within a distance of a latitude/longitude").

    Near a pole, or across the ±180° meridian, the longitude range is the whole circle: rare
    for a sales team, and merely less selective, never wrong.
    """
    angle = radius_km / EARTH_RADIUS_KM  # radians
    dlat = math.degrees(angle) + _SLACK
    lat_min, lat_max = center.lat - dlat, center.lat + dlat
    cos_lat = math.cos(math.radians(center.lat))
    if lat_min <= -90 or lat_max >= 90 or math.sin(angle) >= cos_lat:
        return Box(max(lat_min, -90.0), min(lat_max, 90.0), -180.0, 180.0)
    dlon = math.degrees(math.asin(math.sin(angle) / cos_lat)) + _SLACK
    lon_min, lon_max = center.lon - dlon, center.lon + dlon
    if lon_min < -180 or lon_max > 180:
        return Box(lat_min, lat_max, -180.0, 180.0)
    return Box(lat_min, lat_max, lon_min, lon_max)


def contains(box: Box, p: Point) -> bool:
    return box.lat_min <= p.lat <= box.lat_max and box.lon_min <= p.lon <= box.lon_max
