import { z } from 'zod';

/**
 * What a backup holds, recorded in its manifest when the job has a restore drill, so a drill can compare
 * the restored copy with the source as it was dumped.
 */
export const contentsSchema = z.object({
  /** PostgreSQL: every table pg_dump wrote data for, with its exact row count in the dump's own snapshot. */
  tables: z.array(z.object({ schema: z.string(), name: z.string(), rows: z.number().int().min(0) })).optional(),
  /**
   * Redis: keys without a TTL per database, read just before and just after the snapshot (the snapshot lies
   * between them); keys with a TTL are left out, they may expire before a drill loads the file.
   */
  redis: z
    .object({
      databases: z.array(z.object({ db: z.number().int().min(0), persistentBefore: z.number().int().min(0), persistentAfter: z.number().int().min(0) })),
      /** Keys (base64, they may be binary) without a TTL whose type was the same before and after the snapshot. */
      sample: z.array(z.object({ db: z.number().int().min(0), key: z.string(), type: z.string() })),
    })
    .optional(),
});

export type BackupContents = z.output<typeof contentsSchema>;
