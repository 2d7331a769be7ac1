-- Undo 0006: drop the watermarks (the next import compares every row again).

DROP TABLE IF EXISTS import_watermarks;
