import { z } from 'zod'

/**
 * The service's settings, from the environment only (a stateless container: no config file), validated
 * once at start. Secrets (database password in the URL, the credential key, the admin token) come
 * from the environment of the deployment, never from the repository.
 */
const Config = z.object({
  CLOUD_DATABASE_URL: z.url({ protocol: /^(mysql|mariadb)$/, error: 'a URL such as mysql://user:password@db.example:3306/carehub' }),
  CLOUD_HTTP_PORT: z.coerce.number().int().min(1).max(65_535).default(8080),
  CLOUD_BIND: z.string().default('127.0.0.1'),
  CLOUD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** 32 bytes, base64: encrypts the gateways' HMAC secrets at rest. */
  CLOUD_CREDENTIAL_KEY: z
    .string()
    .refine((k) => Buffer.from(k, 'base64').length === 32, { error: '32 random bytes in base64 (openssl rand -base64 32)' }),
  /** Installers' token for creating homes and enrolment codes (compared in constant time). */
  CLOUD_ADMIN_TOKEN: z.string().min(32, { error: 'at least 32 characters (openssl rand -base64 32)' }),
  CLOUD_MAX_SKEW_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  // The relay's channels; each is optional (a delivery for a channel not configured fails, logged).
  /** Path of the Firebase service-account JSON (push). */
  CLOUD_FCM_SERVICE_ACCOUNT_FILE: z.string().min(1).optional(),
  /** smtp://user:password@host:587 (STARTTLS required) or smtps://… (email). */
  CLOUD_SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  CLOUD_MAIL_FROM: z.email().optional(),
  /** An HTTP SMS provider: POST {to, text} with the bearer token. */
  CLOUD_SMS_URL: z.url({ protocol: /^https?$/ }).optional(),
  CLOUD_SMS_TOKEN: z.string().min(1).optional(),
  /** A gateway silent this long is reported offline to its guardians. */
  CLOUD_OFFLINE_MINUTES: z.coerce.number().int().min(2).max(1440).default(10),
  /** This relay instance's name in claims (default: host name and pid). */
  CLOUD_RELAY_ID: z.string().min(1).max(64).optional(),
})

export type CloudConfig = z.infer<typeof Config>

export function loadCloudConfig(env: Readonly<Record<string, string | undefined>>): CloudConfig {
  const parsed = Config.safeParse(env)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    throw new Error(`cloud-sync configuration: ${lines.join('; ')}`)
  }
  return parsed.data
}
