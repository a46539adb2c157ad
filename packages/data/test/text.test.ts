// Text in: e-mails reduced to what a reader sees (no headers, MIME decoded), a team's own
// folders and columns with bad files reported by name, and the four benchmark corpora fetched
// from npm and Debian, pinned by sha256, with their test splits sealed during selection.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataFormatError,
  duringSelection,
  emailText,
  loadTextSet,
  npmPackageDir,
  readTextColumn,
  readTextFolder,
  splitMessage,
  TestSplitSealed,
  TEXT_PACKAGES,
} from '../src/index.js';

const mail = (head: string[], body: string): Buffer => Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`, 'latin1');

describe('e-mail text', () => {
  it('keeps the headers out and decodes quoted-printable plain text in its charset', () => {
    const m = mail(
      [
        'From spammer@example.com  Thu Aug 22 13:17:22 2002',
        'Received: from relay.example.com',
        '\tby mx.example.org with SMTP',
        'X-Spam-Status: Yes, hits=11.4 required=5.0',
        'Subject: caf\xe9 offer',
        'Content-Type: text/plain; charset="iso-8859-1"',
        'Content-Transfer-Encoding: quoted-printable',
      ],
      'Le caf=E9 est pr=EAt, a long line that was wr=\r\napped by the sender.\r\n',
    );
    assert.equal(emailText(m), 'Le café est prêt, a long line that was wrapped by the sender.');
    const { headers } = splitMessage(m.toString('latin1'));
    assert.equal(headers.get('received'), 'from relay.example.com by mx.example.org with SMTP');
    assert.equal(headers.get('x-spam-status'), 'Yes, hits=11.4 required=5.0');
  });

  it('prefers the plain alternative, reads base64 HTML as visible text, and skips binary attachments', () => {
    const html = Buffer.from(
      '<html><head><style>p{color:red}</style><script>var x=1</script></head><body><p>Win &amp; save&nbsp;now</p></body></html>',
    ).toString('base64');
    const m = mail(
      ['Content-Type: multipart/mixed; boundary="outer"'],
      [
        '--outer',
        'Content-Type: multipart/alternative; boundary=inner',
        '',
        '--inner',
        'Content-Type: text/plain',
        '',
        'plain version',
        '--inner',
        'Content-Type: text/html',
        '',
        '<p>html version</p>',
        '--inner--',
        '--outer',
        'Content-Type: text/html',
        'Content-Transfer-Encoding: base64',
        '',
        html,
        '--outer',
        'Content-Type: application/octet-stream',
        'Content-Disposition: attachment; filename="x.exe"',
        'Content-Transfer-Encoding: base64',
        '',
        'TVqQAAMAAAAEAAAA',
        '--outer--',
      ].join('\r\n'),
    );
    assert.equal(emailText(m), 'plain version\n\nWin & save now');
  });
});

describe("a team's own text", () => {
  it('reads a folder of .txt files with sub-folders as classes, reporting non-UTF-8 and binary files by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'text-folder-'));
    for (const c of ['billing', 'outage']) mkdirSync(join(dir, c));
    writeFileSync(join(dir, 'billing', 'a.txt'), 'I was charged twice this month.');
    writeFileSync(join(dir, 'billing', 'b.txt'), '\uFEFFRefund my invoice please.');
    writeFileSync(join(dir, 'outage', 'c.txt'), 'The site is down again.');
    writeFileSync(join(dir, 'outage', 'latin1.txt'), Buffer.from('caf\xe9 down', 'latin1'));
    writeFileSync(join(dir, 'outage', 'junk.txt'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    writeFileSync(join(dir, 'outage', 'notes.md'), 'not a document');
    const c = readTextFolder(dir);
    assert.deepEqual(c.texts, ['I was charged twice this month.', 'Refund my invoice please.', 'The site is down again.']);
    assert.deepEqual([...c.labels!], [0, 0, 1]);
    assert.deepEqual(c.classes, ['billing', 'outage']);
    assert.deepEqual(
      c.skipped.map((s) => [s.file.slice(dir.length + 1), s.reason.split(' ')[0]]),
      [
        ['outage/junk.txt', 'binary'],
        ['outage/latin1.txt', 'not'],
      ],
    );
    assert.match(c.skipped[1]!.reason, /byte 0xe9 at offset 3/);
    const flat = mkdtempSync(join(tmpdir(), 'text-flat-'));
    writeFileSync(join(flat, 'one.txt'), 'unlabeled note');
    assert.equal(readTextFolder(flat).labels, null);
    assert.throws(() => readTextFolder(mkdtempSync(join(tmpdir(), 'text-empty-'))), DataFormatError);
  });

  it('reads a text column and an optional label from CSV and JSONL, naming the line of a bad record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'text-col-'));
    writeFileSync(join(dir, 't.csv'), 'id,body,topic\n1,"first line\nsecond, with comma",a\n2,,b\n3,plain,b\n');
    const c = await readTextColumn(join(dir, 't.csv'), { text: 'body', label: 'topic' });
    assert.deepEqual(c.texts, ['first line\nsecond, with comma', 'plain']);
    assert.deepEqual([...c.labels!], [0, 1]);
    writeFileSync(join(dir, 't.jsonl'), '{"text":"hello","y":"x"}\n{"text":"world"}\n\n');
    const j = await readTextColumn(join(dir, 't.jsonl'), { text: 'text', label: 'y' });
    assert.deepEqual(j.texts, ['hello', 'world']);
    assert.deepEqual([...j.labels!], [0, -1]);
    writeFileSync(join(dir, 'bad.jsonl'), '{"text":"ok"}\n{"body":"no text"}\n');
    await assert.rejects(readTextColumn(join(dir, 'bad.jsonl'), { text: 'text' }), /bad\.jsonl, line 2: no "text" field/);
    await assert.rejects(readTextColumn(join(dir, 't.csv'), { text: 'missing' }), /no column 'missing' \(it has id, body, topic\)/);
  });
});

describe('benchmark corpora', () => {
  it("fetches SpamAssassin from npm, keeps every message's own headers out, and seals its test split", async () => {
    const s = loadTextSet('spam-assassin');
    const test = await s.test.forFinalScore('counting documents');
    assert.deepEqual(s.train.classes, ['ham', 'spam']);
    assert.equal(s.train.texts.length + test.texts.length, 5733); // 6,046 messages; 313 repeat another's body and are kept once
    assert.equal([...s.train.labels!, ...test.labels!].filter((l) => l === 1).length, 1634);
    const train = new Set(s.train.texts);
    assert.ok(
      test.texts.every((t) => !train.has(t)),
      'no document is in both splits',
    );
    // Each message's own routing and filter-verdict headers never reach the text.
    const dir = join(npmPackageDir(TEXT_PACKAGES.spamAssassin), 'data', 'spam-2');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.txt'))) {
      const raw = readFileSync(join(dir, f));
      const text = emailText(raw).toLowerCase();
      for (const [name, value] of splitMessage(raw.toString('latin1')).headers) {
        if (!/^(x-spam|received|delivered-to|return-path|x-mailer|message-id)/.test(name)) continue;
        assert.ok(!text.includes(`${name}: ${value.slice(0, 40).toLowerCase()}`), `${f}: header ${name} leaked`);
      }
    }
    await assert.rejects(
      duringSelection('choosing epochs', () => s.test.forFinalScore('peek')),
      TestSplitSealed,
    );
  });

  it('reads food reviews and tweets from Debian R packages and Brown from npm, with their classes', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'text-cache-'));
    const noInstall = mkdtempSync(join(tmpdir(), 'text-root-'));
    const food = loadTextSet('food-reviews', { cacheDir, installRoot: noInstall });
    const foodTest = await food.test.forFinalScore('count');
    assert.deepEqual([food.train.texts.length, foodTest.texts.length], [4000, 1000]);
    assert.deepEqual(food.train.classes, ['great', 'other']);
    assert.ok(food.train.texts.every((t) => !/<br/i.test(t)));
    const tweets = loadTextSet('tweets', { cacheDir, installRoot: noInstall });
    assert.deepEqual(tweets.train.classes, ['Twitter Web Client', 'Twitter for Android', 'Twitter for iPhone'].sort());
    assert.equal(tweets.train.texts.length + (await tweets.test.forFinalScore('count')).texts.length, 19234);
    const brown = loadTextSet('brown', { cacheDir });
    const brownTest = await brown.test.forFinalScore('count');
    assert.equal(brown.train.texts.length + brownTest.texts.length, 500);
    assert.equal(brown.train.classes.length, 15);
    assert.ok(brownTest.labels!.every((l) => l >= 0));
    assert.match(brown.train.texts[0]!, /^The Fulton County Grand Jury said Friday/);
    assert.throws(
      () => npmPackageDir({ ...TEXT_PACKAGES.brown, sha256: '0'.repeat(64) }, { cacheDir }),
      /sha256 [0-9a-f]{64}, expected 0{64}/,
    );
  });
});
