// `pretext federate host | join | status | start | pause | resume | stop | save`: federations
// hosted by a hub. The owner hosts (the recipe's initial weights go to the hub), each site joins
// from its own machine and dials out to the hub, and the owner saves the global encoder as a run
// folder once the rounds are done.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildStrategy,
  dpSettings,
  hostFederation,
  joinFederation,
  loadRecipe,
  saveHostedEncoder,
  spentPrivacy,
  watchFederation,
  type HostedFederation,
  type Recipe,
  type Share,
  type Strategy,
} from '@pretext/ssl';
import { HubClient, parseModelRef } from '@pretext/hub/client';
import { UsageError } from './errors.js';
import { hubConfig } from './hub.js';

export const FEDERATE_HUB_HELP = `Usage: pretext federate host <team/name> <recipe.yaml> --sites A,B,... [--strategy NAME]
                 [--rounds R] [--local-epochs E] [--min-sites K] [--round-timeout S] [--share encoder|all]
                 [--server-lr X] [--prox-mu X] [--ema-tau X] [--trim-beta X]
                 [--secure-aggregation [--clip X]] [--dp-noise SIGMA --dp-clip C [--dp-delta D]]
                 [--site-summaries [--min-count N] [--summary-wait S]] [--no-start]
       pretext federate join <team/name> --site TEAM [--data recipe.yaml | --shard SPEC:I/N]
                 [--state DIR] [--poll S]
       pretext federate watch <team/name> [--poll S]
       pretext federate status|start|pause|resume|stop <team/name> [--json]
       pretext federate save <team/name> --out DIR

A federation on the hub you are logged in to (pretext login). 'host' creates it in your team
with the recipe's initial weights and the invited site teams, and starts it. Each site runs
'join' on its own machine: it dials out to the hub (no inbound port), trains every round on its
own examples and sends only its update; killed and restarted with the same --state folder
(default .pretext-federation/<team>-<name>-<site>), it goes on at the open round. --data takes
the site's own recipe (its data section: images, or a table or event file the site encodes
with the preprocessing the owner fitted at 'host'); --shard SPEC:I/N trains on part I of N of the
federation recipe's data (e.g. dirichlet:0.1:0/8), for trying a federation out on a benchmark.
Only writers of the owner team host, start, pause, resume or stop; only a site team's writers
submit for that site. --secure-aggregation: the hub only ever holds the sum of masked updates
(each site clips every coordinate to [-X, X], default 4; needs 3 sites or more, the mean, and a
majority per round); sites that die after sharing their keys are unmasked by the others.
--dp-noise/--dp-clip: every site trains with record-level DP-SGD (per-example gradients clipped
to C, Gaussian noise of std SIGMA*C, Poisson sampling; the recipe needs a loss that is a mean
over examples and no BatchNorm) and reports the epsilon it has spent at delta (--dp-delta,
default 1e-5) after each round; the hub shows it per site and 'save' records it. 'watch'
(the owner, on labeled data of the recipe's kind) scores the global encoder after every round
(images: validation kNN; tables, histories: AUROC or accuracy of a linear head) and records
it on the hub, where the federation page plots it. 'save' writes the global encoder as a run
folder (eval, embed, push read it).
--site-summaries (tables, histories): the preprocessing is not fitted on the owner's data but
merged from the sites': each site sends a summary of its training rows or histories when it
joins (per numeric column or event field its values at 256 evenly spaced probabilities, never
past its N-th smallest or largest value; per category its count, levels seen fewer than N times
counted but not named; histories add each event type's values and the time gaps; N is --min-count,
default the recipe's features.minCount or 5), only the owner reads them, and 'host' waits for
every site's (or, after --summary-wait seconds, default the round timeout, for --min-sites of
them) before it merges, builds the model and starts.`;

const positiveNumber = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || x <= 0) throw new UsageError(`--${name} must be a positive number, got '${v}'`);
  return x;
};

function describe(f: HostedFederation): string {
  const lines = [
    `${f.team}/${f.name}: ${f.status}, round ${Math.min(f.round + 1, f.rounds)} of ${f.rounds}${f.status === 'finished' ? ' (done)' : ''}`,
    `sites: ${f.sites.join(', ')} (a round needs ${f.minSites} once ${f.roundTimeoutS} s have passed)`,
    `strategy: ${f.strategy.name}, sharing ${f.strategy.share}; ${f.localEpochs} local epoch(s) per round`,
  ];
  if (f.secureAggregation) lines.push(`secure aggregation: on (clip ${f.secureAggregation.clip})`);
  if (f.siteSummaries)
    lines.push(
      `preprocessing: merged from site summaries (min count ${f.siteSummaries.minCount}), ${f.features ? 'fixed' : 'not fixed yet'}; in from ${
        f.summarized?.length ? f.summarized.join(', ') : 'no site yet'
      }`,
    );
  const spent = spentPrivacy(f);
  if (f.dp && spent)
    lines.push(
      `DP-SGD: clip ${f.dp.clip}, noise ${f.dp.noise}; epsilon at delta ${f.dp.delta}: ${f.sites
        .map((s) => `${s} ${spent[s]?.toFixed(2) ?? '-'}`)
        .join(', ')}`,
    );
  if (f.status === 'running') lines.push(`in for the open round: ${f.submitted.length ? f.submitted.join(', ') : 'none yet'}`);
  for (const r of f.history) {
    const losses = Object.entries(f.losses?.[String(r.round)] ?? {});
    lines.push(
      `  round ${r.round}: ${r.sites.join(', ')} (${r.closedBy}), ${(r.bytesIn / 1e6).toFixed(1)} MB in, ${r.seconds.toFixed(0)} s${
        losses.length ? `; training loss ${losses.map(([s, l]) => `${s} ${l.toFixed(3)}`).join(', ')}` : ''
      }`,
    );
  }
  return lines.join('\n');
}

/** DP-SGD's settings from --dp-noise, --dp-clip and --dp-delta (simulate and host read them alike); undefined when none is given. */
export function dpOption(values: Record<string, unknown>): { noise: number; clip: number; delta?: number } | undefined {
  const given = ['dp-noise', 'dp-clip', 'dp-delta'].filter((k) => values[k] !== undefined);
  if (given.length === 0) return undefined;
  if (values['dp-noise'] === undefined || values['dp-clip'] === undefined)
    throw new UsageError('DP-SGD needs both --dp-noise SIGMA and --dp-clip C');
  const delta = values['dp-delta'] as string | undefined;
  return {
    noise: positiveNumber(values['dp-noise'] as string, 'dp-noise')!,
    clip: positiveNumber(values['dp-clip'] as string, 'dp-clip')!,
    ...(delta === undefined ? {} : { delta: positiveNumber(delta, 'dp-delta')! }),
  };
}

/** --min-count: the smallest count a site summary names (default the recipe's features.minCount, else 5). */
export function minCountOption(v: string | undefined, recipe: Recipe): number {
  if (v === undefined) return recipe.features?.minCount ?? 5;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--min-count must be a whole number, at least 1, got '${v}'`);
  return n;
}

/** What simulate and host read alike: local epochs, rounds (default: the recipe's epochs / local epochs) and the strategy. */
export function roundsAndStrategy(
  values: { rounds?: string; 'local-epochs'?: string; strategy?: string; share?: string } & Record<string, unknown>,
  recipe: Recipe,
): { localEpochs: number; rounds: number; strategy: Strategy } {
  if (values.share !== undefined && values.share !== 'encoder' && values.share !== 'all')
    throw new UsageError(`--share is encoder or all, got '${values.share}'`);
  const localEpochs = positiveNumber(values['local-epochs'], 'local-epochs') ?? 1;
  const rounds = values.rounds !== undefined ? Number(values.rounds) : Math.max(1, Math.round(recipe.train.epochs / localEpochs));
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds must be a whole number, at least 1, got '${values.rounds}'`);
  const opt = (k: string): number | undefined => positiveNumber(values[k] as string | undefined, k);
  const strategy = buildStrategy(values.strategy ?? 'fedavg', {
    share: values.share as Share | undefined,
    serverLr: opt('server-lr'),
    proxMu: opt('prox-mu'),
    emaTau: opt('ema-tau'),
    trimBeta: opt('trim-beta'),
  });
  return { localEpochs, rounds, strategy };
}

/** The hosted subcommands; returns null for a subcommand that is not one of them. */
export async function federateHubCommand(sub: string, argv: string[]): Promise<number | null> {
  if (!['host', 'join', 'watch', 'status', 'start', 'pause', 'resume', 'stop', 'save'].includes(sub)) return null;
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      sites: { type: 'string' },
      strategy: { type: 'string', default: 'fedavg' },
      rounds: { type: 'string' },
      'local-epochs': { type: 'string', default: '1' },
      'min-sites': { type: 'string' },
      'round-timeout': { type: 'string', default: '600' },
      share: { type: 'string' },
      'server-lr': { type: 'string' },
      'prox-mu': { type: 'string' },
      'ema-tau': { type: 'string' },
      'trim-beta': { type: 'string' },
      'no-start': { type: 'boolean', default: false },
      'secure-aggregation': { type: 'boolean', default: false },
      clip: { type: 'string', default: '4' },
      'dp-noise': { type: 'string' },
      'dp-clip': { type: 'string' },
      'dp-delta': { type: 'string' },
      'site-summaries': { type: 'boolean', default: false },
      'min-count': { type: 'string' },
      'summary-wait': { type: 'string' },
      site: { type: 'string' },
      data: { type: 'string' },
      shard: { type: 'string' },
      state: { type: 'string' },
      poll: { type: 'string', default: '2' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return (void console.log(FEDERATE_HUB_HELP), 0);
  if (!positionals[0]) throw new UsageError(`pretext federate ${sub} needs <team/name>\n\n${FEDERATE_HUB_HELP}`);
  const ref = parseModelRef(positionals[0]);
  const client = new HubClient(hubConfig());
  const show = (f: HostedFederation): number => (void console.log(values.json ? JSON.stringify(f) : describe(f)), 0);
  const at = `/api/federations/${ref.team}/${ref.name}`;

  if (sub === 'host') {
    if (!positionals[1]) throw new UsageError('pretext federate host <team/name> <recipe.yaml> --sites A,B');
    if (!values.sites) throw new UsageError('--sites A,B,... (the invited site teams) is required');
    const recipe = loadRecipe(positionals[1]);
    const { localEpochs, rounds, strategy } = roundsAndStrategy(values, recipe);
    const sites = values.sites.split(',').map((s) => s.trim());
    const dp = dpOption(values);
    const minSites = values['min-sites'] === undefined ? undefined : Number(values['min-sites']);
    if (!values['site-summaries'] && (values['min-count'] !== undefined || values['summary-wait'] !== undefined))
      throw new UsageError('--min-count and --summary-wait belong to --site-summaries');
    const f = await hostFederation(
      client,
      ref,
      readFileSync(positionals[1], 'utf8'),
      {
        sites,
        rounds,
        localEpochs,
        minSites,
        roundTimeoutS: positiveNumber(values['round-timeout'], 'round-timeout'),
        ...(values['secure-aggregation'] ? { secureAggregation: { clip: positiveNumber(values.clip, 'clip')! } } : {}),
        ...(dp ? { dp: dpSettings(dp) } : {}),
      },
      strategy,
      {
        start: !values['no-start'],
        pollMs: positiveNumber(values.poll, 'poll')! * 1000,
        ...(values['site-summaries'] ? { siteSummaries: { minCount: minCountOption(values['min-count'], recipe) } } : {}),
        ...(values['summary-wait'] === undefined ? {} : { summaryWaitMs: positiveNumber(values['summary-wait'], 'summary-wait')! * 1000 }),
      },
    );
    return show(f);
  }
  if (sub === 'join') {
    if (!values.site) throw new UsageError('--site TEAM (the site team this machine submits for) is required');
    let shard: { spec: string; index: number; of: number } | undefined;
    if (values.shard) {
      const m = /^(.+):(\d+)\/(\d+)$/.exec(values.shard);
      if (!m) throw new UsageError(`--shard is SPEC:I/N (e.g. dirichlet:0.1:0/8), got '${values.shard}'`);
      shard = { spec: m[1]!, index: Number(m[2]), of: Number(m[3]) };
    }
    if (shard && values.data) throw new UsageError('--data and --shard are alternatives: give one');
    const r = await joinFederation({
      client,
      federation: ref,
      site: values.site,
      data: values.data ? loadRecipe(values.data).data : undefined,
      shard,
      stateDir: values.state ?? join('.pretext-federation', `${ref.team}-${ref.name}-${values.site}`),
      pollMs: positiveNumber(values.poll, 'poll')! * 1000,
    });
    console.log(
      values.json
        ? JSON.stringify(r)
        : `${values.site}: federation ${r.status}; updates in rounds ${r.submitted.join(', ') || 'none'}${r.missed.length ? `, missed ${r.missed.join(', ')}` : ''}`,
    );
    return 0;
  }
  if (sub === 'watch') {
    const f = await watchFederation(client, ref, {
      pollMs: positiveNumber(values.poll, 'poll')! * 1000,
      onRound: (round, scores) =>
        console.log(
          `round ${round}: ${Object.entries(scores)
            .map(([k, v]) =>
              k === 'knn' ? `validation kNN ${(100 * v).toFixed(2)}%` : `validation ${k === 'auroc' ? 'AUROC' : k} ${v.toFixed(4)}`,
            )
            .join(', ')}`,
        ),
    });
    console.log(`${ref.team}/${ref.name} ${f.status} after ${f.round} of ${f.rounds} rounds`);
    return 0;
  }
  if (sub === 'status') return show(await client.call<HostedFederation>('GET', at));
  if (sub === 'save') {
    if (!values.out) throw new UsageError('pretext federate save <team/name> --out DIR');
    const { info, outDir } = await saveHostedEncoder(client, ref, values.out);
    console.log(`${ref.team}/${ref.name} (${info.status}, ${info.round} of ${info.rounds} rounds): encoder saved in ${outDir}`);
    return 0;
  }
  return show(await client.call<HostedFederation>('POST', `${at}/control`, { action: sub }));
}
