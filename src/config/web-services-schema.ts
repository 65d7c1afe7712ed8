/**
 * The `web-services` section: the internal HTTPS server behind the reverse proxy (address
 * book, distribution-list expansion, meeting content, device updates; web access later).
 */
import { z } from 'zod';
import { hostOrAddress } from './primitives.ts';

/** A media type without parameters: `application/pdf`, `image/png`. */
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

/** A time of day, `HH:MM` (UTC). */
const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;

/** The content types meeting organisers may upload by default. */
export const DEFAULT_MEETING_CONTENT_TYPES = [
  'application/pdf',
  'image/png',
  'image/jpeg',
  'image/gif',
  'text/plain',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
] as const;

/** The zod schema of the `web-services` section. */
export const webServicesSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** The internal HTTPS listener the reverse proxy (and internal clients) reach. */
    host: hostOrAddress.default('127.0.0.1'),
    /** HTTPS port; 0 = ephemeral, null = off. */
    port: z.number().int().min(0).max(65535).nullable().default(8444),
    /** The URL clients are told to fetch from (device updates); null: this listener's. */
    publicBaseUrl: z
      .string()
      .regex(/^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'an https:// URL')
      .nullable()
      .default(null),
    abs: z
      .strictObject({
        /** Time of day (UTC, `HH:MM`) of the daily generation, or null. */
        dailyAt: z.string().regex(TIME_OF_DAY, 'HH:MM').nullable().default('01:30'),
        /** Also generate every so many minutes (0: only daily and on demand). */
        intervalMinutes: z.number().int().min(0).max(1440).default(0),
        /** Full and delta files older than this many days are removed. */
        keepDays: z.number().int().min(1).max(365).default(30),
      })
      .prefault({}),
    dl: z
      .strictObject({
        /** A list that expands to more users is refused (413). */
        maxMembers: z.number().int().min(1).max(1_000_000).default(1000),
        /** Nested groups visited at most, per expansion. */
        maxGroups: z.number().int().min(1).max(100_000).default(1000),
      })
      .prefault({}),
    meetings: z
      .strictObject({
        maxFileBytes: z
          .number()
          .int()
          .min(1)
          .max(4 * 1024 ** 3)
          .default(50 * 1024 * 1024),
        maxFilesPerMeeting: z.number().int().min(1).max(10_000).default(100),
        allowedContentTypes: z
          .array(z.string().regex(MEDIA_TYPE, 'a media type such as application/pdf'))
          .min(1)
          .default([...DEFAULT_MEETING_CONTENT_TYPES]),
      })
      .prefault({}),
    updates: z
      .strictObject({
        /** Largest package `rampart updates publish` accepts. */
        maxPackageBytes: z
          .number()
          .int()
          .min(1)
          .max(8 * 1024 ** 3)
          .default(1024 ** 3),
      })
      .prefault({}),
    auth: z
      .strictObject({
        /** Failed password checks per user within the window before it is locked. */
        maxFailures: z.number().int().min(1).default(5),
        windowSeconds: z.number().int().min(1).default(900),
        lockSeconds: z.number().int().min(1).default(60),
      })
      .prefault({}),
  })
  .prefault({});

/** The `web-services` section as the schema outputs it. */
export type WebServicesSection = z.output<typeof webServicesSchema>;
