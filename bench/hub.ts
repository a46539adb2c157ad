// Hub load bench, loopback only: 200 concurrent clients read a model's metadata, then 200
// concurrent clients download its 50 MB artifact, with autocannon. The hub runs in its own
// process; its resident memory is sampled throughout. One JSON line:
//   {"clients":200,"p50_ms":..,"p99_ms":..,"mb_per_s":..,"errors":0,"rss_mb":..}
// p50/p99 are the metadata requests' latencies; the download phase reports its own
// latencies (one request = one whole 50 MB file) and throughput.
//
//   npm run bench:hub                 10 s of metadata, then every client downloads twice
//   npm run bench:hub -- --seconds 5 --rounds 1
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, get } from 'node:http';
import autocannon from 'autocannon';

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
}

/** `clients` connections, each downloading `url` `rounds` times in a row; bodies are counted, not kept. */
async function downloads(url: string, token: string, clients: number, rounds: number, size: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const ms: number[] = [];
  let bytes = 0;
  let errors = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      let got = 0;
      get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.on('data', (c: Buffer) => (got += c.length));
        res.on('end', () => {
          bytes += got;
          if (res.statusCode === 200 && got === size) ms.push(performance.now() - t0);
          else errors++;
          resolve();
        });
        res.on('error', () => (errors++, resolve()));
      }).on('error', () => (errors++, resolve()));
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let r = 0; r < rounds; r++) await one();
    }),
  );
  agent.destroy();
  return { ms, bytes, errors, seconds: (performance.now() - t0) / 1000 };
}

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    mb: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '2' },
  },
});
const clients = Number(args.clients);
const seconds = Number(args.seconds);

const server = spawn(process.execPath, ['--import', 'tsx', join(here, 'hub_server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
  server.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as { url: string; token: string }));
  server.once('exit', (code) => reject(new Error(`hub exited with ${code}`)));
});
const rssMb = (): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 100);

try {
  const auth = { authorization: `Bearer ${token}` };
  const post = async (path: string, body: unknown): Promise<void> => {
    const r = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  };
  await post('/api/teams', { name: 'bench' });
  const artifact = randomBytes(Number(args.mb) * 1024 * 1024);
  const sha = createHash('sha256').update(artifact).digest('hex');
  const up = await fetch(`${url}/api/blobs/${sha}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(artifact),
  });
  if (!up.ok) throw new Error(`upload: ${up.status}`);
  await post('/api/models/bench/encoder/versions', {
    files: [{ path: 'encoder.safetensors', sha256: sha, size: artifact.length }],
    metrics: { knn: 0.857 },
  });
  const idle = rssMb();

  const run = (path: string, limit: { duration: number } | { amount: number }): Promise<autocannon.Result> =>
    new Promise((resolve, reject) =>
      autocannon({ url: `${url}${path}`, connections: clients, headers: auth, timeout: 300, ...limit }, (err, r) =>
        err ? reject(err) : resolve(r),
      ),
    );
  const meta = await run('/api/models/bench/encoder', { duration: seconds });
  // Downloads: autocannon keeps response bodies and runs out of heap at 200 x 50 MB, so each
  // of the 200 clients here is a plain HTTP connection that streams the artifact `rounds`
  // times, counting bytes and dropping them, and times each whole download.
  const files = await downloads(
    `${url}/api/models/bench/encoder/versions/latest/files/encoder.safetensors`,
    token,
    clients,
    Number(args.rounds),
    artifact.length,
  );
  const downloadSeconds = files.seconds;
  const errors = meta.errors + meta.timeouts + meta.non2xx + files.errors;
  console.log(
    JSON.stringify({
      clients,
      p50_ms: meta.latency.p50,
      p99_ms: meta.latency.p99,
      req_per_s: Math.round(meta.requests.average),
      mb_per_s: Math.round(files.bytes / 1e6 / downloadSeconds),
      download_p50_ms: Math.round(quantile(files.ms, 0.5)),
      download_p99_ms: Math.round(quantile(files.ms, 0.99)),
      downloads: files.ms.length,
      download_s: Number(downloadSeconds.toFixed(1)),
      artifact_mb: Number(args.mb),
      errors,
      rss_mb: Math.round(peak),
      rss_idle_mb: Math.round(idle),
    }),
  );
} finally {
  clearInterval(sampler);
  server.kill('SIGTERM');
}
