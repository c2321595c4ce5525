import { z } from 'zod';

/** The bodies of the certificates routes (routes.ts), which `caretaker certs` reads. */

export const certificateView = z.object({
  name: z.string(),
  domains: z.array(z.string()),
  state: z.enum(['missing', 'valid', 'renewing', 'failed', 'expired']),
  serial: z.string().optional(),
  notBefore: z.string().optional(),
  notAfter: z.string().optional(),
  version: z.number().optional(),
  profile: z.string().optional().meta({ description: 'the ACME profile new orders ask for (the certificate’s own or acme.profile); absent when none is set' }),
  nextRenewalAt: z.string().optional(),
  renewalReason: z.string().optional().meta({ description: 'why the next renewal is planned when it is: lifetime rule, the CA’s ARI window, urgency, a change' }),
  ari: z.object({ windowStart: z.string(), windowEnd: z.string(), nextPollAt: z.string(), explanationUrl: z.string().optional() }).optional(),
  lastRenewalAt: z.string().optional(),
  lastError: z.string().optional(),
  lastErrorAt: z.string().optional(),
  consecutiveFailures: z.number(),
  retryAt: z.string().optional(),
  deploy: z.object({ ok: z.boolean(), at: z.string(), message: z.string().optional() }).optional(),
});

export const certificatesAnswer = z.object({ certificates: z.array(certificateView) });

export const renewOutcome = z.object({ result: z.enum(['success', 'failure']), certificate: certificateView });
