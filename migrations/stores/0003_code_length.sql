-- SPDX-License-Identifier: MIT
-- Store codes up to 50 characters, as docs/openapi.yaml has them.
ALTER TABLE stores.stores DROP CONSTRAINT stores_code_check,
    ADD CONSTRAINT stores_code_check CHECK (char_length(code) BETWEEN 1 AND 50);
