import { z } from 'zod';
import { cronExpression } from '../../agent/kit/cron.js';
import { heartbeatUrl } from '../../agent/kit/heartbeat.js';
import { duration, itemName } from '../../agent/kit/schema.js';
import { timeZone } from '../../agent/kit/zoned-time.js';
import { remoteSchema } from './remote/config.js';
import { retentionSchema } from './retention-schema.js';

/** zod's union says only "Invalid input": name the remote block's own problems instead. */
function remoteUnionError(issue: { code?: string; errors?: Array<Array<{ path: PropertyKey[]; message: string }>> }): string | undefined {
  if (issue.code !== 'invalid_union' || !issue.errors?.[0]) return undefined;
  const problems = issue.errors[0].map((i) => `${i.path.map(String).join('.') || 'remote'}: ${i.message}`);
  return `expected false or a remote block (${problems.join('; ')})`;
}

/** Keys every job has, whatever its type; each kind spreads these into its own strict object. */
export const jobCommon = {
  name: itemName().meta({ description: 'names the job in routes, metrics and its directory <dir>/<name>/' }),
  schedule: cronExpression(),
  timezone: timeZone('zone the schedule and the retention calendar are read in'),
  timeout: duration({ min: '1s' }).prefault('6h').meta({ description: 'a run still going after this is killed and counted as failed (default 6h)' }),
  retention: retentionSchema.optional(),
  remote: z
    .union([remoteSchema, z.literal(false)], { error: remoteUnionError })
    .optional()
    .meta({ description: "this job's own off-site repository, replacing backups.remote; false: no off-site copy for this job" }),
  cluster: z
    .literal('singleton')
    .optional()
    .meta({ description: "singleton: with a cluster section, each scheduled run happens on one node only (the holder of the job's lease); the others record which node ran it and take over when it dies mid-run" }),
  heartbeat: heartbeatUrl()
    .optional()
    .meta({ description: 'healthchecks.io-style URL pinged around each run: <url>/start when it begins, <url> on success, <url>/fail with the error as body; shown as scheme://host only' }),
};
