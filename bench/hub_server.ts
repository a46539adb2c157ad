// The hub as the load bench runs it: its own process (so its memory is measured alone),
// SQLite and artifacts in a temporary folder, logs off. Prints {url, token} once listening.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub } from '@pretext/hub';

const hub = await createHub({ dataDir: mkdtempSync(join(tmpdir(), 'bench-hub-')), logLevel: false });
await hub.app.listen({ port: 0, host: '127.0.0.1' });
const port = (hub.app.server.address() as { port: number }).port;
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, token: hub.adminToken })}\n`);
process.on('SIGTERM', () => void hub.app.close().then(() => process.exit(0)));
