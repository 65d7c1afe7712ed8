/** The zod pieces every section of the configuration schema shares. */
import { isIP } from 'node:net';
import { z } from 'zod';

/** A DNS name: dot-separated labels of letters, digits and inner hyphens. */
export const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** An address to bind or put in a certificate: an IP literal or a DNS name. */
export const hostOrAddress = z
  .string()
  .refine((host) => isIP(host) !== 0 || DNS_NAME.test(host), 'an IP address or a DNS name');

/** A certificate or SNI name: an IP literal, a DNS name or `*.suffix`, in lower case. */
export const certificateName = z
  .string()
  .refine(
    (name) => isIP(name) !== 0 || DNS_NAME.test(name.startsWith('*.') ? name.slice(2) : name),
    'an IP address, a DNS name or "*.suffix"',
  )
  .transform((name) => name.toLowerCase());
