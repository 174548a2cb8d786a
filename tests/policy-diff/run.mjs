// run.mjs: decides generated requests with `ztiam policy eval` and with
// Cedar's reference implementation (@cedar-policy/cedar-wasm), and
// compares, for every request, the decision, the set of determining
// policy ids and the set of policy ids that raised errors (messages are
// not compared: they are each engine's own words).
//
//   node run.mjs --ztiam build/src/ztiam [--seed N|random] [--cases N]
//       [--requests N] [--policies N] [--only WORLD] [--keep DIR]
//       [--show N] [--jobs N]
//
// Cases are batched: each world (one entity store and policy set) is
// decided for --requests requests, so --cases / --requests worlds run.
// A policy Cedar refuses to parse is dropped from its world before
// either engine sees it, and counted.  --jobs (default 2) splits the
// worlds among that many Node processes, each with its own cedar-wasm.  Exit status 0 when every case
// agrees, 1 otherwise (also when Node, the package or ztiam is missing).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeWorld } from './gen.mjs';

let cedar;
try {
  cedar = await import('@cedar-policy/cedar-wasm/nodejs');
} catch (e) {
  console.error('policy-diff: cannot load @cedar-policy/cedar-wasm ' +
    '(run `npm ci` in tests/policy-diff): ' + e.message);
  process.exit(1);
}

const argv = process.argv.slice(2);
function opt(name, dflt) {
  const i = argv.indexOf('--' + name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
}
const ztiam = opt('ztiam', process.env.ZTIAM);
let seed = opt('seed', process.env.POLICY_DIFF_SEED ?? '20261204');
if (seed === 'random') seed = String(Math.floor(Math.random() * 2 ** 31));
seed = Number(seed);
// The environment wins over --cases so a CI job can change the count
// without editing meson.build.
const cases = Number(process.env.POLICY_DIFF_CASES ?? opt('cases', 100000));
const perWorld = Number(opt('requests', 250));
const npol = Number(opt('policies', 24));
const only = opt('only', null);
const keep = opt('keep', null);
const show = Number(opt('show', 5));
const jobs = Number(opt('jobs', 2));
const [kshard, nshards] = (opt('shard', '0/1')).split('/').map(Number);

if (!ztiam || !fs.existsSync(ztiam)) {
  console.error('policy-diff: --ztiam PATH (or ZTIAM) must name the ' +
    'ztiam binary');
  process.exit(1);
}

const toJson = (v) => JSON.stringify(v);

// Splits the run among `jobs` child processes (worlds w with w % jobs ==
// k go to child k) and adds up what they report on their last line.
async function runShards() {
  const args = [];
  for (let i = 0; i < argv.length; i++) {
    if (['--seed', '--jobs', '--shard'].includes(argv[i])) i++;
    else args.push(argv[i]);
  }
  const kids = Array.from({ length: jobs }, (_, k) => new Promise((done) => {
    const child = spawn(process.execPath, [new URL(import.meta.url).pathname,
      ...args, '--seed', String(seed), '--jobs', '1',
      '--shard', `${k}/${jobs}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('close', (code) => done({ code, out }));
  }));
  const sum = { total: 0, bad: 0, failures: 0, allow: 0, errored: 0,
    dropped: 0, worlds: 0 };
  let ok = true;
  for (const { code, out } of await Promise.all(kids)) {
    const lines = out.split('\n').filter((l) => l);
    const last = lines.length ? lines[lines.length - 1] : '';
    if (!last.startsWith('shard-result ')) {
      console.log(out);
      ok = false;
      continue;
    }
    for (const l of lines.slice(0, -1)) console.log(l);
    const r = JSON.parse(last.slice('shard-result '.length));
    for (const k of Object.keys(sum)) sum[k] += r[k];
    if (code !== 0 && r.bad === 0 && r.failures === 0) ok = false;
  }
  return { ...sum, ok };
}
const worldSeed = (w) => seed * 1000003 + w;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-diff-'));

// Runs `ztiam policy eval` on a world written to `dir`; resolves with
// its output lines.
function runZtiam(dir) {
  return new Promise((resolve) => {
    const out = fs.openSync(path.join(dir, 'ztiam.out'), 'w');
    const child = spawn(ztiam, ['policy', 'eval',
      '--policies', path.join(dir, 'policies.cedar'),
      '--entities', path.join(dir, 'entities.json'),
      '--requests', path.join(dir, 'requests.jsonl')],
    { stdio: ['ignore', out, 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', (e) => { stderr += e.message; });
    child.on('close', (code) => {
      fs.closeSync(out);
      const text = fs.readFileSync(path.join(dir, 'ztiam.out'), 'utf8');
      resolve({ code, stderr, lines: text.split('\n').filter((l) => l) });
    });
  });
}

// Does ztiam parse this policy text?
function ztiamParses(text) {
  const dir = path.join(tmp, 'parse');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'p.cedar'), text);
  fs.writeFileSync(path.join(dir, 'e.json'), '[]');
  fs.writeFileSync(path.join(dir, 'r.jsonl'), '');
  try {
    execFileSync(ztiam, ['policy', 'eval', '--policies',
      path.join(dir, 'p.cedar'), '--entities', path.join(dir, 'e.json'),
      '--requests', path.join(dir, 'r.jsonl')], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// Keeps the policies Cedar parses; returns them, the count dropped, and
// those Cedar refused but ztiam accepted (each one a mismatch).
function parsable(policies) {
  const ok = [], accepted = [];
  for (const p of policies) {
    const c = cedar.checkParsePolicySet({ staticPolicies: p });
    if (c.type === 'success')
      ok.push(p);
    else if (ztiamParses(p))
      accepted.push({ policy: p, cedar: c.errors.map((e) => e.message) });
  }
  return { ok, dropped: policies.length - ok.length, accepted };
}

function cedarDecide(world, text) {
  const pre = cedar.preparsePolicySet('w', { staticPolicies: text });
  if (pre.type !== 'success')
    throw new Error('cedar refused the policy set: ' + toJson(pre.errors));
  return world.requests.map((r) => {
    const a = cedar.statefulIsAuthorized({ ...r, entities: world.entities,
      preparsedPolicySetId: 'w' });
    if (a.type !== 'success')
      return { failure: a.errors.map((e) => e.message).join('; ') };
    return {
      decision: a.response.decision,
      determining: [...a.response.diagnostics.reason].sort(),
      errors: a.response.diagnostics.errors.map((e) => e.policyId).sort(),
      messages: a.response.diagnostics.errors,
    };
  });
}

function same(z, c) {
  if (c.failure !== undefined || z.error !== undefined)
    return c.failure !== undefined && z.error !== undefined;
  const det = [...z.determining].sort();
  const errs = z.errors.map((e) => e.policy).sort();
  return z.decision === c.decision && toJson(det) === toJson(c.determining) &&
    toJson(errs) === toJson(c.errors);
}

// Names the policies two answers disagree about.
function involved(z, c) {
  const ids = new Set([...(z.determining ?? []), ...(c.determining ?? []),
    ...(z.errors ?? []).map((e) => e.policy), ...(c.errors ?? [])]);
  const zs = new Set([...(z.determining ?? []),
    ...(z.errors ?? []).map((e) => e.policy)]);
  const cs = new Set([...(c.determining ?? []), ...(c.errors ?? [])]);
  return [...ids].filter((i) => zs.has(i) !== cs.has(i));
}

function report(w, text, policies, req, z, c) {
  console.log(`--- mismatch: world ${w} (seed ${seed}), request:`);
  console.log('  ' + toJson(req));
  console.log('  ztiam: ' + toJson(z));
  console.log('  cedar: ' + toJson({ ...c, messages: undefined }));
  for (const m of c.messages ?? [])
    console.log(`    cedar error ${m.policyId}: ${m.error.message}`);
  for (const id of involved(z, c)) {
    const i = Number(id.replace('policy', ''));
    console.log(`  ${id}: ${policies[i]}`);
  }
}

const t0 = Date.now();
const nworlds = Math.max(1, Math.ceil(cases / perWorld));
let total = 0, bad = 0, dropped = 0, failures = 0;
let allow = 0, errored = 0, ok = true;

if (jobs > 1 && only === null) {
  const r = await runShards();
  ({ total, bad, failures, allow, errored, dropped, ok } = r);
} else {

for (let w = only !== null ? Number(only) : 0;
  w < (only !== null ? Number(only) + 1 : nworlds); w++) {
  if (w % nshards !== kshard) continue;
  const world = makeWorld(worldSeed(w), { requests: perWorld,
    policies: npol });
  const p = parsable(world.policies);
  dropped += p.dropped;
  for (const a of p.accepted) {
    if (bad < show)
      console.log(`--- mismatch: world ${w} (seed ${seed}): Cedar refuses ` +
        `what ztiam parses: ${a.policy}\n  cedar: ${a.cedar.join('; ')}`);
    bad++;
  }
  const text = p.ok.join('\n');
  const dir = keep ?? path.join(tmp, 'w');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'policies.cedar'), text + '\n');
  fs.writeFileSync(path.join(dir, 'entities.json'), toJson(world.entities));
  fs.writeFileSync(path.join(dir, 'requests.jsonl'),
    world.requests.map(toJson).join('\n') + '\n');

  const zrun = runZtiam(dir);
  const cans = cedarDecide(world, text);
  const z = await zrun;
  // An entity store both engines refuse is agreement.
  if (z.code !== 0 && z.lines.length === 0 && cans.every((c) =>
    c.failure !== undefined)) {
    total += cans.length;
    continue;
  }
  if (z.lines.length !== world.requests.length) {
    failures++;
    bad += world.requests.length;
    console.log(`--- world ${w} (seed ${seed}): ztiam exited ${z.code} ` +
      `with ${z.lines.length} lines for ${world.requests.length} ` +
      `requests: ${z.stderr.trim()}`);
    if (failures >= show) break;
    continue;
  }
  for (let i = 0; i < cans.length; i++) {
    const zi = JSON.parse(z.lines[i]);
    total++;
    if (cans[i].decision === 'allow') allow++;
    if (cans[i].errors?.length) errored++;
    if (same(zi, cans[i])) continue;
    if (bad < show)
      report(w, text, p.ok, world.requests[i], zi, cans[i]);
    bad++;
  }
}

}

const secs = ((Date.now() - t0) / 1000).toFixed(1);
if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
if (nshards > 1) {
  console.log('shard-result ' + toJson({ total, bad, failures, allow,
    errored, dropped, worlds: 0 }));
  process.exit(bad > 0 || failures > 0 ? 1 : 0);
}
console.log(`policy-diff: seed ${seed}: ${total} cases in ${nworlds} ` +
  `worlds, ${bad} mismatches, ${secs}s (allow ${allow}, with errors ` +
  `${errored}, policies dropped as unparsable by Cedar ${dropped})`);
if (bad > 0 || failures > 0 || !ok) {
  console.log(`reproduce: node run.mjs --ztiam ${ztiam} --seed ${seed} ` +
    `--requests ${perWorld} --policies ${npol} --only WORLD --keep DIR`);
  process.exit(1);
}
