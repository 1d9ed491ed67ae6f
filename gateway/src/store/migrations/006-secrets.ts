/**
 * Named secrets (issue 6): age-armored ciphertext only — the identity that decrypts it lives in
 * secrets/identity.age, outside the database, so a copied database or backup reveals nothing.
 * `previous_enc` keeps the value before the last rotation, still accepted until `previous_until`
 * (webhook secrets: two valid during a rotation).
 */
export const sql = /* sql */ `
CREATE TABLE secrets (
  name            TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 128),
  value_enc       TEXT NOT NULL CHECK (value_enc LIKE '-----BEGIN AGE ENCRYPTED FILE-----%'),
  version         INTEGER NOT NULL DEFAULT 1,
  updated_at      INTEGER NOT NULL,
  previous_enc    TEXT CHECK (previous_enc IS NULL OR previous_enc LIKE '-----BEGIN AGE ENCRYPTED FILE-----%'),
  previous_until  INTEGER
);
`
