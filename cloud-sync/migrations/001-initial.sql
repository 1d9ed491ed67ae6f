-- CareHub cloud: homes, their gateways and what the gateways sync (issue 8).
-- Forward-only; applied in order by `carehub-cloud migrate`, each file once (schema_migrations).
-- Every row a gateway writes carries its home (tenant isolation is enforced in every query).

CREATE TABLE homes (
  id          BIGINT AUTO_INCREMENT PRIMARY KEY,
  name        VARCHAR(120) NOT NULL,
  created_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One-time enrolment codes an installer creates for a home; only their SHA-256 is stored.
CREATE TABLE enrolment_codes (
  code_hash   CHAR(64) PRIMARY KEY,
  home_id     BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  used_at     BIGINT NULL,
  used_by     VARCHAR(64) NULL,
  created_at  BIGINT NOT NULL,
  CONSTRAINT enrolment_codes_home FOREIGN KEY (home_id) REFERENCES homes(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A gateway's HMAC secret is stored encrypted (AES-256-GCM, key from the service's environment).
CREATE TABLE gateways (
  id            VARCHAR(64) PRIMARY KEY,
  home_id       BIGINT NOT NULL,
  name          VARCHAR(120) NULL,
  secret_enc    VARBINARY(255) NOT NULL,
  -- A new one at each enrolment: a reinstalled box counts its alerts and outbox from 1 again, so
  -- its ids only mean something within one enrolment.
  epoch         BIGINT NOT NULL,
  enrolled_at   BIGINT NOT NULL,
  last_seen_at  BIGINT NULL,
  last_health   JSON NULL,
  revoked_at    BIGINT NULL,
  KEY gateways_home (home_id),
  CONSTRAINT gateways_home_fk FOREIGN KEY (home_id) REFERENCES homes(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Signatures seen within the replay window, shared by every service instance.
CREATE TABLE request_nonces (
  gateway_id  VARCHAR(64) NOT NULL,
  signature   CHAR(64) NOT NULL,
  expires_at  BIGINT NOT NULL,
  PRIMARY KEY (gateway_id, signature),
  KEY request_nonces_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE alerts (
  id               BIGINT AUTO_INCREMENT PRIMARY KEY,
  home_id          BIGINT NOT NULL,
  gateway_id       VARCHAR(64) NOT NULL,
  epoch            BIGINT NOT NULL,
  local_id         BIGINT NOT NULL,
  rule_id          VARCHAR(64) NULL,
  rule_name        VARCHAR(120) NULL,
  device_id        VARCHAR(64) NULL,
  severity         ENUM('info', 'warning', 'critical') NOT NULL,
  title            VARCHAR(200) NOT NULL,
  body             TEXT NULL,
  status           ENUM('open', 'acknowledged', 'snoozed', 'resolved') NOT NULL,
  raised_at        BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL,
  acknowledged_at  BIGINT NULL,
  acknowledged_by  VARCHAR(120) NULL,
  -- The gateway's outbox seq of the event that last changed this row: last writer wins by the
  -- edge's sequence, never by wall-clock time.
  source_seq       BIGINT NOT NULL,
  UNIQUE KEY alerts_local (gateway_id, epoch, local_id),
  KEY alerts_home_status (home_id, status),
  CONSTRAINT alerts_home_fk FOREIGN KEY (home_id) REFERENCES homes(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every lifecycle event, from the gateway (idempotency key g:<gateway>:<epoch>:<seq>) or the cloud.
CREATE TABLE alert_events (
  id               BIGINT AUTO_INCREMENT PRIMARY KEY,
  alert_id         BIGINT NOT NULL,
  home_id          BIGINT NOT NULL,
  idempotency_key  VARCHAR(100) NOT NULL,
  -- The gateway's outbox position (NULL for events made in the cloud): the order they happened in.
  seq              BIGINT NULL,
  event            VARCHAR(32) NOT NULL,
  at               BIGINT NOT NULL,
  actor            VARCHAR(120) NULL,
  origin           ENUM('gateway', 'cloud') NOT NULL,
  received_at      BIGINT NOT NULL,
  UNIQUE KEY alert_events_key (idempotency_key),
  KEY alert_events_alert (alert_id),
  CONSTRAINT alert_events_alert_fk FOREIGN KEY (alert_id) REFERENCES alerts(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
