// The `pretext` command. It wires the packages together and holds no ML logic of its own.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import {
  loadRecipe,
  pretrainFromRecipe,
  evaluateTableEncoder,
  evaluateTextEncoder,
  evaluateSequenceEncoder,
  evaluateEncoder,
  rawPixelScores,
  RecipeError,
  TrainingDiverged,
  DataFormatError,
  parseDatasetArg,
  readEncoderMeta,
  type DataSpec,
  type Scores,
  LabelBudgetError,
  OnnxExportError,
  joinDataParallel,
  leaveDataParallel,
} from '@pretext/ssl';
import { UsageError } from './errors.js';
import { EXPORT_HELP, exportCommand } from './export.js';
import { FEDERATE_HELP, federateCommand } from './federate.js';
import { IMAGE_TEXT_HELP, imageTextCommand, searchCommand, zeroShotCommand } from './imageText.js';
import { launchRanks, WORKER_FLAG } from './launch.js';
import { SERVE_HELP, serveCommand } from './serve.js';
import { TEXT_HELP, fillMaskCommand, similarCommand } from './text.js';
import { TRANSFER_HELP, diagnoseCommand, embedCommand, finetuneCommand, reportCommand, transferReportCommand } from './transfer.js';
import { HubCallError } from '@pretext/hub/client';
import {
  HUB_HELP,
  hubCommand,
  loadSavedEvals,
  loginCommand,
  modelsCommand,
  pullCommand,
  pulledVersion,
  pushCommand,
  pushSavedEvals,
  resolveEncoderArg,
  saveEvals,
  savedEvalsPath,
  type EvalResult,
} from './hub.js';

/** This command's entry script, which the data-parallel launcher runs once per rank. */
const BIN = fileURLToPath(new URL('../bin/pretext.js', import.meta.url));

const HELP: Record<string, string> = {
  ...TRANSFER_HELP,
  ...TEXT_HELP,
  ...HUB_HELP,
  ...EXPORT_HELP,
  ...SERVE_HELP,
  ...FEDERATE_HELP,
  ...IMAGE_TEXT_HELP,
  main: `pretext: self-supervised pretraining for TypeScript teams

Usage: pretext <command> [options]

Commands:
  pretrain <recipe.yaml>   pretrain an encoder on unlabeled data, then score it
  eval                     score a pretrained encoder (kNN and linear probe)
  baselines                raw-pixel kNN and linear-probe scores of a data set
  finetune                 train a classifier on an encoder with few labels
  transfer-report          label-efficiency table: pretrained vs scratch vs baselines
  embed                    embed a table's rows or documents with a table or text encoder
  fill-mask <run> "..."    the most likely words at each [MASK] (text encoders, method mlm)
  similar                  nearest documents of a corpus to a query (text encoders)
  diagnose                 alignment, uniformity, rank, collapse check, embedding map
  report <run>             one HTML page (and Markdown) with a run's tables and plots
  export <run> --format onnx  the encoder or a fine-tuned classifier as ONNX, checked by onnxruntime
  serve <run>              an embedding / prediction service (HTTP JSON, micro-batching, metrics)
  federate simulate        federated pretraining by simulated sites (partitions, strategies)
  image-text train         CLIP / SigLIP / LiT on (image, caption) pairs
  zero-shot                classify images into classes named on the command line
  search "<sentence>"      the images nearest a sentence (image-text models)
  hub serve                run the hub (registry server); hub team|user|token for admin
  login                    save a hub address and token
  push <run> <team/name>   publish an encoder with its card, metrics and lineage
  pull <team/name[@ref]>   download an encoder version (resumes, checks sha256)
  models ls|search         find encoders on the hub

Run 'pretext <command> --help' for a command's options.`,
  pretrain: `Usage: pretext pretrain <recipe.yaml> [--out DIR] [--resume] [--epochs N] [--max-steps N] [--json]
                         [--nproc N [--nnodes M --node-rank R --master HOST:PORT]]

Trains the recipe's encoder with its self-supervised method and writes, in the run folder:
encoder.safetensors, encoder.json (rebuilds the module), metrics.jsonl, scores.json,
recipe.yaml and checkpoint/ (for --resume).

Options:
  --out DIR        run folder (default: runs/<recipe name>)
  --resume         continue from the run folder's last checkpoint
  --epochs N       override the recipe's epochs
  --max-steps N    stop after N optimizer steps
  --nproc N        data-parallel: N ranks on this machine (c10d + Gloo), each on its shard of
                   every epoch with batchSize / ranks examples a step, gradients averaged;
                   rank 0 writes the run folder
  --nnodes M, --node-rank R, --master HOST:PORT
                   join a run across M machines (rank 0 hosts the store at HOST:PORT)
  --json           print the result as one JSON object
  --help           this text`,
  eval: `Usage: pretext eval --encoder DIR|team/name[@version] [--dataset DATA] [--push [--fresh]] [--json]

Scores a pretrained encoder's frozen features on the test split: weighted kNN (k=200,
cosine, temperature 0.07) and a linear probe on standardized features.

DATA is fashion-mnist (the default) or a labeled image folder: one sub-folder per class,
with train/ and test/ inside it, or two folders given as TRAIN_DIR,TEST_DIR. Images are
resized to the encoder's input size and channels. With a hub reference as --encoder, the
version is pulled first; --push then attaches the scores to that version on the hub, where
they feed the task's leaderboard. The result is saved beside the pulled encoder
(eval-DATA.json) before it is sent: if the hub cannot be reached, the same command sends the
saved result later without evaluating again (--fresh evaluates again), and a result the hub
already has is not added twice.

A table encoder is scored on the rows it was pretrained on (or DATA: a benchmark table's
name or a table file with the same columns and label): logistic regression on its frozen
features of the training rows, C chosen on a validation fifth, AUROC (binary) or accuracy
on the test rows. A text encoder likewise on its own documents (or DATA: a benchmark
corpus's name), by accuracy on the test documents.`,
  baselines: `Usage: pretext baselines [--dataset DATA] [--json]

Raw-pixel kNN and linear-probe scores under the same protocol as 'pretext eval'.
DATA as for 'pretext eval' (image folders are read as 28x28 grayscale).`,
};

function pct(x: number | undefined): string {
  return x === undefined ? '-' : `${(100 * x).toFixed(2)}%`;
}

function printScores(label: string, s: Scores): void {
  if (s.metric === 'auroc') console.log(`${label}: linear AUROC ${s.linear === undefined ? '-' : s.linear.toFixed(3)}`);
  else console.log(`${label}: kNN ${pct(s.knn)}  linear ${pct(s.linear)}`);
}

async function pretrainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      epochs: { type: 'string' },
      'max-steps': { type: 'string' },
      json: { type: 'boolean', default: false },
      nproc: { type: 'string' },
      nnodes: { type: 'string', default: '1' },
      'node-rank': { type: 'string', default: '0' },
      master: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP.pretrain);
    return 0;
  }
  if ((values.nproc !== undefined || values.nnodes !== '1') && process.env[WORKER_FLAG] !== '1') {
    // The launcher: the same command once per rank, without the launch options.
    const world = Number(values.nproc ?? '1') * Number(values.nnodes);
    const batch = positionals[0] ? loadRecipe(positionals[0]).train.batchSize : 0;
    if (world > 0 && batch % world !== 0) throw new UsageError(`batch size ${batch} does not divide among ${world} ranks`);
    const rest = argv.filter(
      (a, i) =>
        !['--nproc', '--nnodes', '--node-rank', '--master'].includes(a) &&
        !['--nproc', '--nnodes', '--node-rank', '--master'].includes(argv[i - 1] ?? ''),
    );
    return launchRanks(BIN, ['pretrain', ...rest], {
      nproc: Number(values.nproc ?? '1'),
      nnodes: Number(values.nnodes),
      nodeRank: Number(values['node-rank']),
      master: values.master,
    });
  }
  const worker = process.env[WORKER_FLAG] === '1' ? joinDataParallel() : null;
  if (positionals.length !== 1) {
    console.error(`pretext pretrain needs exactly one recipe file\n\n${HELP.pretrain}`);
    return 2;
  }
  const recipe = loadRecipe(positionals[0]!);
  if (values.epochs !== undefined) recipe.train.epochs = Number(values.epochs);
  if (values['max-steps'] !== undefined) recipe.train.maxSteps = Number(values['max-steps']);
  // Ranks other than 0 train their share into a scratch folder; rank 0's run folder is the run.
  const outDir =
    worker && worker.rank !== 0 ? mkdtempSync(join(tmpdir(), `pretext-rank${worker.rank}-`)) : (values.out ?? join('runs', recipe.name));
  const run = await pretrainFromRecipe(recipe, { outDir, resume: values.resume, quiet: values.json }).finally(
    () => worker && leaveDataParallel(),
  );
  if (values.json) {
    console.log(
      JSON.stringify({
        outDir,
        method: recipe.method.name,
        steps: run.result.step,
        trainMinutes: run.result.trainSeconds / 60,
        ...run.scores,
      }),
    );
  } else {
    console.log(
      `\n${recipe.method.name}: ${run.result.step} steps in ${(run.result.trainSeconds / 60).toFixed(1)} train-minutes, encoder in ${outDir}`,
    );
    printScores('frozen features', run.scores);
  }
  return 0;
}

async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      encoder: { type: 'string' },
      dataset: { type: 'string', default: 'fashion-mnist' },
      push: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP.eval);
    return 0;
  }
  if (!values.encoder) {
    console.error(`pretext eval needs --encoder DIR\n\n${HELP.eval}`);
    return 2;
  }
  const hubRef = values.push ? values.encoder : null;
  if (hubRef !== null && existsSync(values.encoder))
    throw new UsageError('--push needs --encoder to be a hub reference (team/name[@version]), so the result lands on that version');
  const encoderDir = await resolveEncoderArg(values.encoder);
  // A table or text encoder is scored on its own rows or documents unless --dataset names others.
  const modality = readEncoderMeta(encoderDir).modality ?? 'image';
  const ownData = modality !== 'image';
  const own = values.dataset === 'fashion-mnist' ? undefined : values.dataset;
  const evaluate = (): Promise<Scores> =>
    modality === 'tabular'
      ? evaluateTableEncoder(encoderDir, own)
      : modality === 'text'
        ? evaluateTextEncoder(encoderDir, own)
        : modality === 'sequence'
          ? evaluateSequenceEncoder(encoderDir, own)
          : evaluateEncoder(encoderDir, datasetArg(values.dataset, encoderDir));
  if (hubRef === null) {
    const scores = await evaluate();
    if (values.json) console.log(JSON.stringify({ encoder: values.encoder, dataset: values.dataset, ...scores }));
    else printScores(values.encoder, scores);
    return 0;
  }
  // A result for the hub is saved beside the pulled encoder before it is sent: if the push
  // fails, running the same command again sends the saved result instead of evaluating again.
  const pulled = pulledVersion(encoderDir)!;
  const saved = values.fresh ? null : loadSavedEvals(encoderDir, values.dataset);
  let scores: Scores;
  let path = savedEvalsPath(encoderDir, values.dataset);
  if (saved && saved.version === pulled.version) {
    scores = saved.scores as Scores;
    if (!values.json) console.error(`sending the result of ${saved.evaluatedAt} saved beside the encoder (--fresh evaluates again)`);
  } else {
    scores = await evaluate();
    const results: EvalResult[] = [];
    const task = ownData ? (scores as Scores & { dataset: string }).dataset : values.dataset;
    for (const [metric, value, protocol] of [
      ['knn-accuracy', scores.knn, 'knn-k200-t0.07'],
      [scores.metric === 'auroc' ? 'linear-auroc' : 'linear-accuracy', scores.linear, ownData ? 'logistic-regression' : 'linear-probe'],
    ] as const)
      if (value !== undefined)
        results.push({
          task,
          dataset: values.dataset === 'fashion-mnist' ? `${ownData ? task : 'fashion-mnist'}/test` : values.dataset,
          metric,
          value,
          protocol,
          labelBudget: '100%',
        });
    path = saveEvals(encoderDir, {
      model: pulled.model,
      version: pulled.version,
      dataset: values.dataset,
      evaluatedAt: new Date().toISOString(),
      scores: Object.fromEntries(Object.entries(scores).filter((e): e is [string, number] => typeof e[1] === 'number')),
      results,
    });
  }
  const sent = await pushSavedEvals(path);
  if (!values.json) {
    const fingerprint = readEncoderMeta(encoderDir).dataFingerprint;
    console.log(
      `results attached to ${pulled.model}@v${pulled.version} (${sent.added} new, ${sent.already} already there; trained on ${fingerprint.slice(0, 19)}...)`,
    );
  }
  if (values.json)
    console.log(
      JSON.stringify({
        encoder: values.encoder,
        dataset: values.dataset,
        ...scores,
        version: pulled.version,
        added: sent.added,
        already: sent.already,
      }),
    );
  else printScores(values.encoder, scores);
  return 0;
}

async function baselinesCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dataset: { type: 'string', default: 'fashion-mnist' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP.baselines);
    return 0;
  }
  const scores = await rawPixelScores(datasetArg(values.dataset));
  if (values.json) console.log(JSON.stringify({ dataset: values.dataset, features: 'raw-pixels', ...scores }));
  else printScores('raw pixels', scores);
  return 0;
}

/** --dataset: fashion-mnist or an image folder, sized as the encoder expects its inputs. */
function datasetArg(arg: string, encoderDir?: string): DataSpec {
  const shape = encoderDir ? readEncoderMeta(encoderDir).inputShape : undefined;
  return parseDatasetArg(arg, shape ? { channels: shape[0] === 3 ? 3 : 1, size: shape[1] } : {});
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'pretrain':
        return await pretrainCommand(rest);
      case 'eval':
        return await evalCommand(rest);
      case 'baselines':
        return await baselinesCommand(rest);
      case 'finetune':
        return await finetuneCommand(rest);
      case 'transfer-report':
        return await transferReportCommand(rest);
      case 'diagnose':
        return await diagnoseCommand(rest);
      case 'embed':
        return await embedCommand(rest);
      case 'fill-mask':
        return await fillMaskCommand(rest);
      case 'similar':
        return await similarCommand(rest);
      case 'report':
        return await reportCommand(rest);
      case 'export':
        return await exportCommand(rest);
      case 'serve':
        return await serveCommand(rest);
      case 'federate':
        return await federateCommand(rest);
      case 'image-text':
        return await imageTextCommand(rest);
      case 'zero-shot':
        return await zeroShotCommand(rest);
      case 'search':
        return await searchCommand(rest);
      case 'hub':
        return await hubCommand(rest);
      case 'login':
        return await loginCommand(rest);
      case 'push':
        return await pushCommand(rest);
      case 'pull':
        return await pullCommand(rest);
      case 'models':
        return await modelsCommand(rest);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        console.log(HELP.main);
        return command === undefined ? 2 : 0;
      default:
        console.error(`unknown command '${command}'\n\n${HELP.main}`);
        return 2;
    }
  } catch (err) {
    // Errors a user can act on are printed as their message; anything else with its stack.
    if (err instanceof UsageError) {
      console.error(`pretext: ${err.message}`);
      return 2;
    }
    const code = (err as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      console.error(`pretext: ${(err as Error).message} (see pretext ${command ?? ''} --help)`);
      return 2;
    }
    if (
      err instanceof RecipeError ||
      err instanceof TrainingDiverged ||
      err instanceof DataFormatError ||
      err instanceof LabelBudgetError ||
      err instanceof HubCallError ||
      err instanceof OnnxExportError ||
      (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ) {
      console.error(`pretext: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
}
