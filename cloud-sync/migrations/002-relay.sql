-- The guardian relay (issue 8): who is told, how, in which order, and what happened to each message.

-- A guardian acknowledges with their own token (only its SHA-256 is kept).
CREATE TABLE guardians (
  id          BIGINT AUTO_INCREMENT PRIMARY KEY,
  home_id     BIGINT NOT NULL,
  name        VARCHAR(120) NOT NULL,
  token_hash  CHAR(64) NOT NULL,
  created_at  BIGINT NOT NULL,
  UNIQUE KEY guardians_token (token_hash),
  KEY guardians_home (home_id),
  CONSTRAINT guardians_home_fk FOREIGN KEY (home_id) REFERENCES homes(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- How a guardian is reached: an FCM registration token, an email address, a phone number.
CREATE TABLE guardian_channels (
  id               BIGINT AUTO_INCREMENT PRIMARY KEY,
  guardian_id      BIGINT NOT NULL,
  kind             ENUM('push', 'email', 'sms') NOT NULL,
  target           VARCHAR(512) NOT NULL,
  disabled_at      BIGINT NULL,
  disabled_reason  VARCHAR(200) NULL,
  KEY guardian_channels_guardian (guardian_id, kind),
  CONSTRAINT guardian_channels_guardian_fk FOREIGN KEY (guardian_id) REFERENCES guardians(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The escalation ladder of a home: step 0 goes at once; a critical alert not acknowledged after
-- `after_seconds` goes on to the next step (another channel, another guardian).
CREATE TABLE escalation_steps (
  home_id        BIGINT NOT NULL,
  step           INT NOT NULL,
  after_seconds  INT NOT NULL,
  guardian_id    BIGINT NOT NULL,
  kind           ENUM('push', 'email', 'sms') NOT NULL,
  PRIMARY KEY (home_id, step),
  CONSTRAINT escalation_steps_home_fk FOREIGN KEY (home_id) REFERENCES homes(id) ON DELETE CASCADE,
  CONSTRAINT escalation_steps_guardian_fk FOREIGN KEY (guardian_id) REFERENCES guardians(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per message to send; relay instances claim due rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE deliveries (
  id               BIGINT AUTO_INCREMENT PRIMARY KEY,
  idempotency_key  VARCHAR(120) NOT NULL,
  home_id          BIGINT NOT NULL,
  alert_id         BIGINT NULL,
  gateway_id       VARCHAR(64) NULL,
  notice           VARCHAR(16) NOT NULL,
  step             INT NOT NULL,
  guardian_id      BIGINT NOT NULL,
  channel_id       BIGINT NOT NULL,
  kind             ENUM('push', 'email', 'sms') NOT NULL,
  status           ENUM('pending', 'sending', 'sent', 'failed', 'cancelled') NOT NULL DEFAULT 'pending',
  due_at           BIGINT NOT NULL,
  attempts         INT NOT NULL DEFAULT 0,
  claimed_by       VARCHAR(64) NULL,
  claimed_until    BIGINT NULL,
  receipt          VARCHAR(200) NULL,
  last_error       VARCHAR(500) NULL,
  sent_at          BIGINT NULL,
  UNIQUE KEY deliveries_key (idempotency_key),
  KEY deliveries_due (status, due_at),
  KEY deliveries_alert (alert_id),
  CONSTRAINT deliveries_home_fk FOREIGN KEY (home_id) REFERENCES homes(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A gateway that stopped sending heartbeats: one row per episode.
CREATE TABLE gateway_outages (
  id           BIGINT AUTO_INCREMENT PRIMARY KEY,
  gateway_id   VARCHAR(64) NOT NULL,
  home_id      BIGINT NOT NULL,
  started_at   BIGINT NOT NULL,
  ended_at     BIGINT NULL,
  -- The gateway while the outage is open, NULL after: at most one open outage per gateway.
  open_gateway VARCHAR(64) AS (IF(ended_at IS NULL, gateway_id, NULL)) PERSISTENT,
  UNIQUE KEY gateway_outages_one_open (open_gateway),
  KEY gateway_outages_open (gateway_id, ended_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Device metadata as the box knows it (names and rooms guardians see), per gateway; a row changes
-- only for a newer version (the box's updated_at of that device).
CREATE TABLE devices (
  gateway_id  VARCHAR(64) NOT NULL,
  device_id   VARCHAR(64) NOT NULL,
  home_id     BIGINT NOT NULL,
  name        VARCHAR(120) NULL,
  room        VARCHAR(64) NULL,
  type        VARCHAR(32) NOT NULL,
  source      VARCHAR(16) NOT NULL,
  version     BIGINT NOT NULL,
  PRIMARY KEY (gateway_id, device_id),
  KEY devices_home (home_id),
  CONSTRAINT devices_home_fk FOREIGN KEY (home_id) REFERENCES homes(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
