-- Undo 0004: drop the pattern identity index, CONCURRENTLY (outside a transaction, like its
-- migration). The last statement pairs with 0004's clean-up of an interrupted build.

DROP INDEX CONCURRENTLY IF EXISTS idx_patterns_identity;

DO $$ BEGIN END $$;
