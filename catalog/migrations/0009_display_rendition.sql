-- The display rendition (1024 px on the long edge), made with the
-- thumbnail; its key is looked up by `/media/…` like the others.
ALTER TABLE photos ADD COLUMN display_key TEXT;

CREATE UNIQUE INDEX photos_display_key ON photos (display_key);
