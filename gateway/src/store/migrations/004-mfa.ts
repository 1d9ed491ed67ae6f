/** TOTP enrolment is two steps (enrol → verify a first code): the pending secret waits here. */
export const sql = /* sql */ `
ALTER TABLE users ADD COLUMN totp_pending_enc TEXT;
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0 CHECK (totp_enabled IN (0, 1));
`
