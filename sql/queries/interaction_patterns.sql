-- Statements on interaction_patterns: patterns detected across users, counted. A pattern's
-- identity is (pattern_type, md5(pattern_data::text)), enforced by idx_patterns_identity.

-- name: record_pattern :one
-- Count one occurrence of a pattern, atomically: insert it, or bump occurrence_count and
-- last_seen and add the user and the business unit (each when not NULL) to its arrays
-- without duplicates. Concurrent recorders lose nothing. Returns the row.
INSERT INTO interaction_patterns (pattern_type, pattern_data, user_ids, business_units)
VALUES (:pattern_type, :pattern_data::jsonb,
        array_remove(ARRAY[:user_id::text], NULL),
        array_remove(ARRAY[:business_unit::text], NULL))
ON CONFLICT (pattern_type, md5(pattern_data::text)) DO UPDATE
SET occurrence_count = interaction_patterns.occurrence_count + 1,
    last_seen = now(),
    user_ids = CASE
        WHEN EXCLUDED.user_ids <@ coalesce(interaction_patterns.user_ids, '{}')
        THEN interaction_patterns.user_ids
        ELSE coalesce(interaction_patterns.user_ids, '{}') || EXCLUDED.user_ids END,
    business_units = CASE
        WHEN EXCLUDED.business_units <@ coalesce(interaction_patterns.business_units, '{}')
        THEN interaction_patterns.business_units
        ELSE coalesce(interaction_patterns.business_units, '{}') || EXCLUDED.business_units END
RETURNING *;

-- name: get_pattern :one
-- One pattern by its identity, or nothing.
SELECT * FROM interaction_patterns
WHERE pattern_type = :pattern_type AND md5(pattern_data::text) = md5(:pattern_data::jsonb::text);

-- name: top_patterns :many
-- The most frequent patterns.
SELECT * FROM interaction_patterns ORDER BY occurrence_count DESC LIMIT :limit;

-- name: top_patterns_of_type :many
-- The most frequent patterns of one type.
SELECT * FROM interaction_patterns
WHERE pattern_type = :pattern_type
ORDER BY occurrence_count DESC
LIMIT :limit;

-- name: top_patterns_of_user :many
-- The most frequent patterns seen in one user.
SELECT * FROM interaction_patterns
WHERE user_ids @> ARRAY[:user_id::text]
ORDER BY occurrence_count DESC
LIMIT :limit;

-- name: top_patterns_of_business_unit :many
-- The most frequent patterns seen in one business unit.
SELECT * FROM interaction_patterns
WHERE business_units @> ARRAY[:business_unit::text]
ORDER BY occurrence_count DESC
LIMIT :limit;
