import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBackupFileName, sidecarOwner } from '../../../src/modules/backups/backup-files.js';
import { unexpectedGlobalsErrors } from '../../../src/modules/backups/postgres/globals.js';

const EXTENSIONS = ['dump', 'dir'];

describe('backup file names', () => {
  it('parses either extension of a kind', () => {
    assert.equal(parseBackupFileName('pg', 'pg-20240131T020000.123Z.dump', EXTENSIONS)?.toISOString(), '2024-01-31T02:00:00.123Z');
    assert.equal(parseBackupFileName('pg', 'pg-20240131T020000.123Z.dir', EXTENSIONS)?.toISOString(), '2024-01-31T02:00:00.123Z');
    assert.equal(parseBackupFileName('pg', 'pg-20240131T020000.123Z.rdb', EXTENSIONS), undefined);
    assert.equal(parseBackupFileName('pg', 'pg-20240131T020000.123Z.dump.json', EXTENSIONS), undefined);
    assert.equal(parseBackupFileName('pg', 'pgx-20240131T020000.123Z.dump', EXTENSIONS), undefined);
  });

  it('finds the backup a manifest or companion belongs to', () => {
    assert.equal(sidecarOwner('pg', 'pg-20240131T020000.123Z.dump.json', EXTENSIONS), 'pg-20240131T020000.123Z.dump');
    assert.equal(sidecarOwner('pg', 'pg-20240131T020000.123Z.dir.globals.sql', EXTENSIONS), 'pg-20240131T020000.123Z.dir');
    assert.equal(sidecarOwner('files', 'files-20240131T020000.123Z.tar.gz.json', ['tar.gz']), 'files-20240131T020000.123Z.tar.gz');
    for (const name of ['pg-20240131T020000.123Z.dump', 'pg-20240131T020000.123Z.dump.partial', 'pg-20240131T020000.123Z.dump.globals.sql.partial', 'notes.txt', 'pg-x.dump.json']) {
      assert.equal(sidecarOwner('pg', name, EXTENSIONS), undefined, name);
    }
  });
});

describe('globals restore errors', () => {
  it('tolerates only roles and tablespaces that already exist', () => {
    const stderr = [
      'psql:/b/pg.dir.globals.sql:14: ERROR:  role "postgres" already exists',
      'psql:/b/pg.dir.globals.sql:16: ERROR:  role "app" already exists',
      'psql:/b/pg.dir.globals.sql:30: ERROR:  tablespace "fast" already exists',
    ].join('\n');
    assert.deepEqual(unexpectedGlobalsErrors(stderr), []);
    assert.deepEqual(unexpectedGlobalsErrors(`${stderr}\npsql:/b/g.sql:40: ERROR:  directory "/srv/ts" does not exist`), ['directory "/srv/ts" does not exist']);
    assert.deepEqual(unexpectedGlobalsErrors('psql:/b/g.sql:3: ERROR:  permission denied to create role'), ['permission denied to create role']);
  });
});
