import { z } from 'zod';

/** The body of `GET /cluster`, which `caretaker cluster` reads. */
export const clusterAnswer = z.object({
  name: z.string(),
  node: z.string().meta({ description: 'this node' }),
  leaseTtlSeconds: z.number(),
  reachable: z.boolean().meta({ description: 'whether the cluster Redis answered this request' }),
  error: z.string().nullable(),
  nodes: z.array(z.object({ node: z.string(), lastSeenAt: z.string() })).meta({ description: 'nodes whose heartbeat was seen lately' }),
  leases: z
    .array(
      z.object({
        name: z.string(),
        holder: z.string(),
        token: z.number().meta({ description: "the holder's fencing token" }),
        fence: z.number().meta({ description: 'the largest token given out for this lease' }),
        expiresInMs: z.number(),
        heldHere: z.boolean(),
      }),
    )
    .meta({ description: 'leases held now' }),
});

export type ClusterAnswer = z.infer<typeof clusterAnswer>;
