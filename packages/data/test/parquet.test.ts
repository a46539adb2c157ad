// Parquet through hyparquet: the column types a Parquet writer declares arrive as table
// types, missing values as missing, and a damaged file is an error naming it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { column, DataFormatError, readTableFile, type Column } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'parquet-'));

describe('Parquet tables', () => {
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'id', data: [1, 2, 3, 4], type: 'INT32' },
      { name: 'amount', data: [10.5, null, 3.25, 8], type: 'DOUBLE' },
      { name: 'state', data: ['CA', 'NY', null, 'CA'], type: 'STRING' },
      { name: 'fraud', data: [false, true, false, null], type: 'BOOLEAN' },
      {
        name: 'seen',
        data: [new Date('2026-01-01T00:00:00Z'), null, new Date('2026-02-01T00:00:00Z'), new Date('2026-03-01T00:00:00Z')],
        type: 'TIMESTAMP',
      },
    ],
  });
  const path = join(dir, 'tx.parquet');
  writeFileSync(path, new Uint8Array(buffer));

  it('reads typed columns with missing values, and drops what it is told to', async () => {
    const t = await readTableFile(path, { drop: ['id'] });
    assert.equal(t.rows, 4);
    assert.deepEqual(
      t.columns.map((c) => [c.name, c.type]),
      [
        ['amount', 'numeric'],
        ['state', 'categorical'],
        ['fraud', 'boolean'],
        ['seen', 'date'],
      ],
    );
    assert.deepEqual(Array.from(column(t, 'amount').values as Float64Array), [10.5, NaN, 3.25, 8]);
    const state = column(t, 'state') as Extract<Column, { levels: string[] }>;
    assert.deepEqual(
      [state.levels, Array.from(state.values)],
      [
        ['CA', 'NY'],
        [0, 1, -1, 0],
      ],
    );
    assert.deepEqual(Array.from(column(t, 'fraud').values as Int32Array), [0, 1, 0, -1]);
    assert.equal((column(t, 'seen').values as Float64Array)[2], Date.parse('2026-02-01T00:00:00Z'));
    await assert.rejects(readTableFile(path, { drop: ['nope'] }), /no column 'nope' to drop/);
  });

  it('names a damaged file and an unknown extension', async () => {
    const bytes = new Uint8Array(buffer);
    for (const cut of [8, bytes.length / 2, bytes.length - 3]) {
      const bad = join(dir, `cut${cut}.parquet`);
      writeFileSync(bad, bytes.subarray(0, Math.floor(cut)));
      await assert.rejects(readTableFile(bad), (e: Error) => e instanceof DataFormatError && e.message.startsWith(bad));
    }
    await assert.rejects(readTableFile(join(dir, 'x.xlsx')), /cannot tell the table format from '.xlsx'/);
  });
});
