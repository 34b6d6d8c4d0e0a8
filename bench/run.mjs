#!/usr/bin/env node
// `npm run bench [-- [--quick] [--out DIR] scenario …]`: runs every scenario (or the named ones),
// prints a table per scenario and writes <DIR>/<scenario>.json (default bench/results/) with the
// machine's facts. `--quick` runs reduced sizes (CI: the whole suite in under 2 minutes) and marks
// the results `quick: true`. Loopback only; every loop is bounded in count and time.
import path from 'node:path';
import { activationScenario } from './activation.mjs';
import { clusterScenario } from './cluster.mjs';
import { commandsScenario } from './commands.mjs';
import { consoleScenario } from './console.mjs';
import { deviceAuthScenario } from './device-auth.mjs';
import { idleScenario } from './idle.mjs';
import { mlsScenario } from './mls.mjs';
import { relayScenario } from './relay.mjs';
import { machine, options, stopAll } from './lib.mjs';

/**
 * Every scenario, in run order: name → async function that prints its table and writes its result
 * with writeResult(name, …). To add one, import it above and add a line here; it reads its sizes
 * with size(full, quick) from lib.mjs so that `--quick` stays under 2 minutes in total.
 */
const scenarios = {
  activation: activationScenario,
  'device-auth': deviceAuthScenario,
  relay: relayScenario,
  idle: idleScenario,
  cluster: clusterScenario,
  mls: mlsScenario,
  commands: commandsScenario,
  console: consoleScenario,
};

const usage = `usage: node bench/run.mjs [--quick] [--out DIR] [--list] [scenario …]\nscenarios: ${Object.keys(scenarios).join(', ')}`;
const args = process.argv.slice(2);
const wanted = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--quick') options.quick = true;
  else if (a === '--list') {
    console.log(Object.keys(scenarios).join('\n'));
    process.exit(0);
  } else if (a === '--out' && args[i + 1]) options.outDir = path.resolve(args[++i]);
  else if (a.startsWith('--out=')) options.outDir = path.resolve(a.slice(6));
  else if (a === '--help' || a === '-h') {
    console.log(usage);
    process.exit(0);
  } else if (a.startsWith('-')) {
    console.error(`error: unknown option ${a}\n${usage}`);
    process.exit(2);
  } else if (!(a in scenarios)) {
    console.error(`error: unknown scenario ${a} (known: ${Object.keys(scenarios).join(', ')})`);
    process.exit(2);
  } else wanted.push(a);
}
const m = machine();
console.log(
  `Enclave benchmarks on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}${options.quick ? ' (quick sizes)' : ''}`,
);
// An interrupted run stops the servers it started (their worker processes go with them).
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    console.error(`\n${signal}: stopping servers`);
    void stopAll().finally(() => process.exit(130));
  });
const failed = [];
const t0 = performance.now();
for (const name of wanted.length ? wanted : Object.keys(scenarios)) {
  const s0 = performance.now();
  try {
    await scenarios[name]();
  } catch (err) {
    failed.push(name);
    console.error(`\n${name}: FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  console.log(`  (${name}: ${((performance.now() - s0) / 1000).toFixed(1)} s)`);
}
console.log(
  `\nall done in ${((performance.now() - t0) / 1000).toFixed(1)} s${failed.length ? `; failed: ${failed.join(', ')}` : ''}`,
);
// Sockets and agents of a failed scenario may linger: the run ends here regardless.
process.exit(failed.length ? 1 : 0);
