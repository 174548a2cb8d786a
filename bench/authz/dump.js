'use strict';
// Writes the workload of the peers' authorization harness
// (/work/shared/peers/authz, or PEERS) in the files `ztiam policy eval`
// and bench_authz read: policies.cedar, entities.json (every entity any
// request needs, users padded to --users with random role grants),
// requests.jsonl (Cedar requests, the trust score as a Long and the
// address as an ipaddr, as the peers' adapters pass them) and
// expected.jsonl (the peers' reference decisions).
// Usage: AUTHZ_APPS=N node dump.js PEERS OUTDIR [--n N] [--users U]
const fs = require('fs');
const path = require('path');

const [peers, out] = process.argv.slice(2, 4);
const arg = (k, d) => {
  const i = process.argv.indexOf(k);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const N = arg('--n', 10000);
const USERS = arg('--users', 100000);
const G = require(path.resolve(peers, 'gen'));
const R = require(path.resolve(peers, 'ref_eval'));

const policies = G.makePolicies();
const users = G.makeUsers();
const reqs = G.makeRequests(users, N);
const ref = R.makeRef(policies, users);
const uid = (type, id) => ({ type, id });

// The role grants of every user in every app become its parents: the
// apps' role ids are qualified by app, so one store serves every request.
const ents = new Map();
const put = (type, id, parents) => {
  const k = type + '\0' + id;
  if (!ents.has(k))
    ents.set(k, { uid: uid(type, id), attrs: {}, parents });
};
let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const names = Object.keys(users);
for (let i = names.length; i < USERS; i++) {
  const app = G.APPS[Math.floor(rnd() * G.APPS.length)];
  users[`pad${i}`] = { [app]: [G.ROLES[Math.floor(rnd() * G.ROLES.length)]] };
}
for (const [u, byApp] of Object.entries(users)) {
  const parents = [];
  for (const [app, roles] of Object.entries(byApp))
    for (const r of roles) parents.push(uid('Role', `${app}/${r}`));
  put('User', u, parents);
}
for (const app of G.APPS) {
  put('App', app, []);
  for (const r of G.ROLES.concat(['suspended']))
    put('Role', `${app}/${r}`,
      (G.ROLE_PARENTS[r] || []).map(p => uid('Role', `${app}/${p}`)));
}
for (const a of G.allActions())
  put('Action', a.name, [uid('Action', a.group)]);
for (const g of Object.keys(G.GROUP_PARENTS || {}))
  put('Action', g, (G.GROUP_PARENTS[g] || []).map(p => uid('Action', p)));

const lines = [], expected = [];
for (const q of reqs) {
  const chain = G.resourceChain(q.resource);
  chain.forEach((res, i) => put('Resource', `${q.appid}|${res}`,
    [i + 1 < chain.length ? uid('Resource', `${q.appid}|${chain[i + 1]}`)
      : uid('App', q.appid)]));
  lines.push(JSON.stringify({
    principal: uid('User', q.user), action: uid('Action', q.action),
    resource: uid('Resource', `${q.appid}|${q.resource}`),
    context: {
      remoteIP: { __extn: { fn: 'ip', arg: q.context.remoteIP } },
      trustScore: parseInt(q.context.trustScore, 10), appid: q.appid,
    },
  }));
  expected.push(JSON.stringify({ decision: ref(q) }));
}
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'policies.cedar'), R.toCedar(policies));
fs.writeFileSync(path.join(out, 'entities.json'),
  JSON.stringify([...ents.values()]));
fs.writeFileSync(path.join(out, 'requests.jsonl'), lines.join('\n') + '\n');
fs.writeFileSync(path.join(out, 'expected.jsonl'), expected.join('\n') + '\n');
console.error(`${policies.length} policies, ${Object.keys(users).length} ` +
  `users, ${ents.size} entities, ${reqs.length} requests -> ${out}`);
