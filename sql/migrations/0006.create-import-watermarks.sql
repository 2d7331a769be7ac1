-- Where import-sqlite got to in each source table (beyond the plan's DDL): the cutover's
-- catch-up reads only the rows written since, not the whole file. Written in the same
-- transaction as the batch it covers, so a killed import never has a watermark ahead of its
-- data. The file's identity and the key of the row at max_rowid tell a file replaced by
-- another of the same name, which is then compared in full.
--
-- Re-runnable (IF NOT EXISTS); a new table only.

CREATE TABLE IF NOT EXISTS import_watermarks (
    source_file TEXT NOT NULL,
    source_table TEXT NOT NULL,
    file_identity TEXT NOT NULL,
    max_rowid BIGINT,
    anchor_key TEXT,
    time_mark TEXT,
    source_rows BIGINT NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (source_file, source_table)
);

COMMENT ON TABLE import_watermarks IS
    'import-sqlite: per source file and table, the highest rowid imported, the key of its row, the latest time seen (in the column''s own format) and the rows the table held; the catch-up reads from there.';
