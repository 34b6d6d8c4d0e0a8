#!/usr/bin/env node
// `npm run bench [-- scenario …]`: runs every scenario (or the named ones), prints a table per
// scenario and writes bench/results/<scenario>.json with the machine's facts. Loopback only; every
// loop is bounded in count and time.
import { activationScenario } from './activation.mjs';
import { commandsScenario } from './commands.mjs';
import { deviceAuthScenario } from './device-auth.mjs';
import { mlsScenario } from './mls.mjs';
import { relayScenario } from './relay.mjs';
import { machine } from './lib.mjs';

const scenarios = {
  activation: activationScenario,
  'device-auth': deviceAuthScenario,
  relay: relayScenario,
  mls: mlsScenario,
  commands: commandsScenario,
};
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const w of wanted) {
  if (!(w in scenarios)) {
    console.error(`error: unknown scenario ${w} (known: ${Object.keys(scenarios).join(', ')})`);
    process.exit(2);
  }
}
const m = machine();
console.log(`Enclave benchmarks on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}`);
for (const name of wanted.length ? wanted : Object.keys(scenarios)) await scenarios[name]();
