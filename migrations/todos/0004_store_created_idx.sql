-- SPDX-License-Identifier: MIT
-- A store's todos newest first (the default sort of ?storeId=): read in order instead of
-- fetching every todo of the store and sorting (measured on the 1M-row bench: 5,000 heap
-- fetches and a top-N sort per page otherwise).
CREATE INDEX todos_store_created_idx ON todos.todos (store_id, created_at DESC, id DESC);
