-- Pads a catalog with synthetic photos for the load benchmark's large-catalog
-- runs (`scripts/load-bench --pad N`): 1,000 users who are not the
-- benchmark's, each with one album, and N ready, public photos spread evenly
-- over the 30 days before now, interleaved in owner order. The rows are
-- catalog rows only (no objects, no search documents): they make the
-- catalog's tables and indexes the size of a large service's, so the read
-- path's index walks run on them, while the benchmark reads its own seeded
-- photos. Runs unchanged on SQLite and PostgreSQL (psql -v / sqlite3 don't
-- take parameters the same way, so the script substitutes :pad and :now).
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
INSERT INTO users (id, username, password_hash, created_ms)
SELECT 'pad-u' || i, 'pad' || i, '!', 0 FROM n;

WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
INSERT INTO albums (id, owner_id, name, title, created_ms)
SELECT 'pad-a' || i, 'pad-u' || i, 'default', 'Photos', 0 FROM n;

WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :pad - 1)
INSERT INTO photos (id, owner_id, album_id, title, visibility, status, width, height, format,
                    content_hash, byte_size, file_name, file_stem, original_key, thumbnail_key,
                    thumbnail_done, indexed, moderated, tags, created_ms, updated_ms, ready_ms)
SELECT 'pad-p' || i, 'pad-u' || (i % 1000), 'pad-a' || (i % 1000), 'padding ' || i, 'public', 'ready',
       160, 120, 'jpeg', 'pad' || i, 1000, 'p' || i || '.jpg', 'p' || i,
       'pad' || (i % 1000) || '/default/original/p' || i || '.jpg',
       'pad' || (i % 1000) || '/default/thumbnail/p' || i || '_thumb.jpg',
       1, 1, 1, '[]', :now - (:pad - i) * (2592000000 / :pad), :now, :now
FROM n;
