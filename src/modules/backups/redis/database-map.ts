import { redisAddress, type RedisTarget } from '../../../agent/kit/redis.js';

/** Source database → target database: each under its own number, or the one database into `into`. */
export function databaseMap(databases: number[], into: number | undefined, target: RedisTarget): Array<[number, number]> {
  if (into === undefined) return databases.map((db) => [db, db]);
  if (databases.length > 1) {
    throw new Error(
      `the backup holds databases ${databases.join(', ')}, but ${redisAddress(target)}/${into} names one: ` +
        'give --to without a database to restore each under its own number',
    );
  }
  return databases.map((db) => [db, into]);
}
