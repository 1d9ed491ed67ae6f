/**
 * Hash-chained audit log (ASVS 16.4.2: logs cannot be modified undetected): every entry stores the
 * hash of the one before it and its own hash over its content, so an edited, inserted or removed
 * entry breaks the chain (`carehub audit verify`). Entries written before this migration are not
 * chained (hash NULL) and are reported as such by the verifier.
 */
export const sql = /* sql */ `
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
`
