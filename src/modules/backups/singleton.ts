import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterService, Lease } from '../../agent/kit/cluster.js';
import { describeError } from '../../agent/kit/errors.js';

/** What one node records for the others once it has run a tick of a singleton job. */
export interface TickRecord {
  node: string;
  file: string;
  finishedAt: string;
}

/** How a tick of a `cluster: singleton` job went for this node. */
export type Turn =
  /** This node holds the job's lease and no node has run the tick yet: it runs it. */
  | { kind: 'ours'; lease: Lease }
  /** Another node ran the tick. */
  | { kind: 'elsewhere'; record: TickRecord }
  /** No node can be sure it alone runs the tick: nobody does. */
  | { kind: 'unreachable'; message: string };

/** Kept long enough for a weekly schedule's late starters to find it. */
const RECORD_TTL_MS = 8 * 24 * 3_600_000;

const leaseName = (job: string) => `backup:${job}`;
const tickKey = (job: string, tick: string) => `backup:${job}:tick:${tick}`;

function parseRecord(value: Buffer): TickRecord {
  return JSON.parse(value.toString('utf8')) as TickRecord;
}

/**
 * Takes this node's turn at `tick`: the tick's record when another node ran it, the job's lease when no node
 * has, or, while another node holds the lease, waits and looks again (every quarter TTL) — so when the holder
 * dies mid-run, a waiting node takes the lease after its TTL and runs the tick itself. Ends with `signal`.
 */
export async function takeTurn(cluster: ClusterService, job: string, tick: string, signal: AbortSignal, waiting: (holder: string) => void): Promise<Turn> {
  const pollMs = Math.max(200, Math.floor(cluster.leaseTtlMs / 4));
  for (;;) {
    signal.throwIfAborted();
    try {
      const done = await cluster.read(tickKey(job, tick));
      if (done) return { kind: 'elsewhere', record: parseRecord(done) };
      const got = await cluster.acquire(leaseName(job));
      if ('lease' in got) {
        // The holder may have recorded the tick and released between the read and the acquire.
        const after = await cluster.read(tickKey(job, tick));
        if (!after) return { kind: 'ours', lease: got.lease };
        await got.lease.release();
        return { kind: 'elsewhere', record: parseRecord(after) };
      }
      if (got.holder) waiting(got.holder.node);
    } catch (err) {
      return { kind: 'unreachable', message: `cluster Redis: ${describeError(err)}` };
    }
    await sleep(pollMs, undefined, { signal });
  }
}

/** Records the tick as run by this node, under its lease: refused (LeaseLostError) when a newer holder exists. */
export async function recordTick(cluster: ClusterService, job: string, tick: string, lease: Lease, record: TickRecord): Promise<void> {
  await cluster.write(tickKey(job, tick), JSON.stringify(record), lease, RECORD_TTL_MS);
}
