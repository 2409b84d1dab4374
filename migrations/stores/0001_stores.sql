-- SPDX-License-Identifier: MIT
-- The store registry. Stores are deactivated, never deleted: attendance and todos refer to them.
CREATE SCHEMA IF NOT EXISTS stores;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE stores.stores (
    id uuid PRIMARY KEY,
    code text NOT NULL CHECK (char_length(code) BETWEEN 1 AND 32),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    address text NOT NULL DEFAULT '',
    latitude double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    geofence_radius_m integer NOT NULL DEFAULT 100 CHECK (geofence_radius_m BETWEEN 10 AND 5000),
    timezone text NOT NULL DEFAULT 'UTC',
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Codes are unique regardless of case ("PAR-01" and "par-01" are the same store).
CREATE UNIQUE INDEX stores_code_key ON stores.stores (lower(code));
-- List order and the active filter.
CREATE INDEX stores_active_name_idx ON stores.stores (active, name, id);
CREATE INDEX stores_name_idx ON stores.stores (name, id);
-- ?search= matches code, name or address anywhere (ILIKE '%...%').
CREATE INDEX stores_search_trgm_idx ON stores.stores
    USING gin ((code || ' ' || name || ' ' || address) gin_trgm_ops);
