-- An upload's name check (`Catalog::file_stem_taken`) looks at every photo
-- of the owner with the stem: a photo moved to another album keeps its
-- keys, so its old album's names stay taken.
CREATE INDEX photos_owner_stem ON photos (owner_id, file_stem);
