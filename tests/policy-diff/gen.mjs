// gen.mjs: a seeded generator of Cedar worlds for the differential suite.
//
// A world is an entity store (a random hierarchy of users, groups, roles,
// folders, documents and actions whose attributes take every Cedar type,
// sometimes the wrong one, sometimes missing), a policy set (permits and
// forbids with random scopes and `when`/`unless` conditions built from
// every operator the engine supports, with errors on purpose) and a batch
// of requests.  The same seed always gives the same world: all randomness
// comes from one xorshift generator.

export function rng(seed) {
  let s = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 1n);
  const next = () => {
    s ^= s << 13n; s = BigInt.asUintN(64, s);
    s ^= s >> 7n;
    s ^= s << 17n; s = BigInt.asUintN(64, s);
    return s;
  };
  const r = {
    // float in [0, 1)
    f: () => Number(next() >> 11n) / 2 ** 53,
    int: (n) => Math.floor(r.f() * n),
    pick: (a) => a[r.int(a.length)],
    chance: (p) => r.f() < p,
  };
  return r;
}

const uid = (type, id) => ({ type, id });
const ent = (u) => ({ __entity: u });
const quote = (s) => JSON.stringify(s);   // JSON and Cedar escapes agree here
const lit = (u) => `${u.type}::${quote(u.id)}`;

// ---- building blocks ---------------------------------------------------

// Longs in JSON data stay within 2^53: cedar-wasm takes its input as JS
// numbers.  Policy text carries the 64-bit extremes.
const LONGS = [0, 1, 2, -1, 3, 7, 10, 18, 30, 42, 100, -100, 65535,
  3037000499, 3037000500, -3037000500, 4294967296, -4294967296,
  9007199254740991, -9007199254740991];
const LIT_LONGS = ['9223372036854775807', '-9223372036854775808',
  '9223372036854775806', '-9223372036854775807', '4611686018427387904'];
const STRINGS = ['', 'a', 'abc', 'alice', 'Bob', 'a*b', '*', 'x\\y',
  'caf\u00e9', 'hello world', 'ab', 'ba', 'aaa', 'line\nbreak', 'q"t'];
const IPS = ['10.0.0.1', '10.1.2.3', '192.168.0.5', '127.0.0.1',
  '127.5.5.5', '224.0.0.1', '239.1.2.3', '0.0.0.0', '255.255.255.255',
  '10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/24', '::1', '::', 'ff02::1',
  '2001:db8::1', '2001:db8::/32', 'fe80::1/64', 'FF02::1',
  '1:2:3:4:5:6:7:8', '10.0.0.1/24', '0.0.0.0/0', '::/0', '127.0.0.0/8'];
const BAD_IPS = ['1.2.3', '256.1.1.1', '01.2.3.4', '1.2.3.4/33', '::1::',
  'x', '', '1.2.3.4/', '12345::', '::1/129', '::ffff:10.0.0.1',
  '1.2.3.4 ', ' ::1', '1:2:3:4:5:6:7:8:9', '1::2::3', '::1/01'];
const DECIMALS = ['0.0', '1.0', '1.5', '-1.5', '1.50', '2.0001', '-0.0001',
  '922337203685477.5807', '-922337203685477.5808', '3.14', '100.0',
  '0.9999'];
const BAD_DECIMALS = ['1', '1.', '.5', '1.23456', '+1.0',
  '922337203685477.5808', 'abc', '-'];
const DATETIMES = ['2024-01-01', '2024-02-29', '1970-01-01',
  '2024-01-01T12:30:00Z', '2024-01-01T12:30:00.123Z', '2024-06-30T23:59:59Z',
  '2024-01-01T12:30:00+0130', '2024-01-01T00:00:00-0800',
  '2024-01-01T12:30:00.999-2359', '9999-12-31T23:59:59.999Z',
  '0001-01-01', '1969-12-31T23:59:59.999Z'];
const BAD_DATETIMES = ['2024-1-1', '2024-02-30', '2023-02-29',
  '2024-01-01T25:00:00Z', '2024-01-01T12:30:00', '2024-01-01 12:30:00Z',
  '2024-01-01T12:30:00.12Z', '2024-01-01T12:30:00+2400',
  '2024-01-01T12:60:00Z', '', '+2024-01-01', '2024-01-01T12:30:00+01:30'];
const DURATIONS = ['1h', '-1d2h', '1d2h3m4s5ms', '0ms', '90m', '-5s', '1s',
  '24h', '1d', '9223372036854775807ms', '-9223372036854775808ms',
  '106751991167d', '2562047788015h', '1000ms'];
const BAD_DURATIONS = ['1x', '', 'h', '1h1d', '1.5h', '-', '1H', '1d 2h',
  '9223372036854775808ms', '106751991168d', '--1h', '1h-1m'];
// Patterns and some strings are written as Cedar source, escapes and all:
// `\*` is a literal star, a star spelled any other way is a wildcard.
const PATTERNS = ['*', '', 'a*', '*b', 'a*b', '*a*', 'abc', 'a\\*b',
  '\\*', '*\\**', 'al*ce', '**', '*l*', 'caf*', 'x\\\\y', 'h*o w*d',
  'a\\u{2a}b', 'caf\\u{e9}', '\\x61*', 'q\\"t', 'line\\n*', '*\\u{e9}'];
const RAW_STRINGS = ['caf\\u{e9}', '\\x41bc', 'a\\tb', "it\\'s",
  '\\u{1F600}', 'a\\0b', 'q\\"t', 'x\\\\y', 'a\\u{2a}b', 'line\\nbreak'];

// Attribute names and the type each usually has; `bad` is the chance it
// holds a value of another type.
const ATTRS = ['age', 'name', 'flag', 'tags', 'nums', 'addr', 'owner',
  'ip', 'score', 'members', 'level', 'other', 'since'];

// ---- the world ---------------------------------------------------------

export function makeWorld(seed, opts = {}) {
  const R = rng(seed);
  const nreq = opts.requests ?? 200;
  const npol = opts.policies ?? 24;

  const users = ['alice', 'bob', 'carol', 'dave'].map((i) => uid('User', i));
  const groups = ['eng', 'ops', 'all', 'admins'].map((i) => uid('Group', i));
  const roles = ['viewer', 'editor'].map((i) => uid('App::Role', i));
  const folders = ['f0', 'f1', 'f2'].map((i) => uid('Folder', i));
  const docs = ['d0', 'd1', 'd2', 'd3'].map((i) => uid('Doc', i));
  const actions = ['read', 'write', 'delete', 'share'].map((i) =>
    uid('Action', i));
  const agroups = ['readers', 'writers'].map((i) => uid('Action', i));
  const ghosts = [uid('User', 'ghost'), uid('Group', 'gx'),
    uid('Doc', 'nodoc'), uid('Action', 'nothing'), uid('User', ''),
    uid('User', 'a"b\\c'), uid('Doc', 'caf\u00e9 \u{1F600}')];
  const stored = [...users, ...groups, ...roles, ...folders, ...docs,
    ...actions, ...agroups];
  const all = [...stored, ...ghosts];
  const entityTypes = ['User', 'Group', 'App::Role', 'Folder', 'Doc',
    'Action', 'Other'];

  // -- values --
  const V = {
    long: () => R.pick(LONGS),
    string: () => R.pick(STRINGS),
    bool: () => R.chance(0.5),
    entity: () => R.pick(all),
    ip: () => R.pick(IPS),
    decimal: () => R.pick(DECIMALS),
    datetime: () => R.pick(DATETIMES),
    duration: () => R.pick(DURATIONS),
  };

  // A JSON attribute value of a Cedar type (entities JSON form).
  function jsonValue(type, depth = 0) {
    switch (type) {
      case 'long': return V.long();
      case 'string': return V.string();
      case 'bool': return V.bool();
      case 'entity': return ent(V.entity());
      case 'ip': return { __extn: { fn: 'ip', arg: V.ip() } };
      case 'decimal': return { __extn: { fn: 'decimal', arg: V.decimal() } };
      case 'datetime':
        return { __extn: { fn: 'datetime', arg: V.datetime() } };
      case 'duration':
        return { __extn: { fn: 'duration', arg: V.duration() } };
      case 'set': {
        const et = R.pick(['long', 'string', 'entity', 'long', 'string']);
        const n = R.int(4);
        return Array.from({ length: n }, () => jsonValue(et, depth + 1));
      }
      case 'record': {
        const o = {};
        if (depth < 2) {
          if (R.chance(0.8)) o.city = V.string();
          if (R.chance(0.7)) o.zip = V.long();
          if (R.chance(0.5)) o.inner = jsonValue('record', depth + 1);
          if (R.chance(0.3)) o.flag = V.bool();
        }
        return o;
      }
      default: throw new Error(type);
    }
  }
  const anyType = () => R.pick(['long', 'string', 'bool', 'entity', 'ip',
    'datetime', 'duration',
    'decimal', 'set', 'record']);
  const attrType = {
    age: 'long', level: 'long', name: 'string', flag: 'bool', tags: 'set',
    nums: 'set', addr: 'record', owner: 'entity', ip: 'ip',
    score: 'decimal', members: 'set', other: 'record', since: 'datetime',
  };
  function attrValue(a) {
    if (R.chance(0.08)) return jsonValue(extAttrs ? anyType() :
      R.pick(['long', 'string', 'bool', 'set', 'record']));
    if (a === 'tags') return Array.from({ length: R.int(4) }, V.string);
    if (a === 'nums') return Array.from({ length: R.int(4) }, V.long);
    if (a === 'members')
      return Array.from({ length: R.int(3) }, () => ent(V.entity()));
    return jsonValue(attrType[a]);
  }
  // cedar-wasm rebuilds the store on every call, at a cost that grows
  // with the attribute values (extension values most), so users and
  // documents carry most of them and the rest few.
  // Extension values cost the most, so only some worlds store them.
  const extAttrs = R.chance(0.3);
  function attrs(u) {
    const dense = u.type === 'User' || u.type === 'Doc';
    const o = {};
    for (const a of ATTRS)
      if ((extAttrs || (a !== 'ip' && a !== 'score' && a !== 'since')) &&
          R.chance(dense ? 0.3 : 0.08))
        o[a] = attrValue(a);
    return o;
  }

  // -- entities: parents only among earlier entities of a type, so no
  // cycles; ghosts may be named as parents but are never stored. --
  const parentsOf = new Map();
  const pickSome = (pool, p) => pool.filter(() => R.chance(p));
  for (let i = 0; i < groups.length; i++)
    parentsOf.set(groups[i], pickSome(groups.slice(i + 1), 0.4));
  for (const u of users)
    parentsOf.set(u, [...pickSome(groups, 0.35), ...pickSome(roles, 0.4),
      ...(R.chance(0.1) ? [ghosts[1]] : [])]);
  for (const r of roles) parentsOf.set(r, pickSome(groups, 0.2));
  for (let i = 0; i < folders.length; i++)
    parentsOf.set(folders[i], pickSome(folders.slice(i + 1), 0.5));
  for (const d of docs) parentsOf.set(d, pickSome(folders, 0.5));
  for (const a of actions) parentsOf.set(a, pickSome(agroups, 0.5));
  parentsOf.set(agroups[0], R.chance(0.5) ? [agroups[1]] : []);
  parentsOf.set(agroups[1], []);
  const entities = stored.filter((u) => !(R.chance(0.05) &&
    u.type !== 'Action')).map((u) => ({
      uid: u, attrs: u.type === 'Action' ? {} : attrs(u),
      parents: parentsOf.get(u),
    }));

  // -- expressions, typed; `bad` gives an operand of a random type --
  const ctxKeys = ['n', 's', 'flag', 'ip', 'score', 'rec', 'list', 'who',
    'now', 'ttl'];
  const ctxType = { n: 'long', s: 'string', flag: 'bool', ip: 'ip',
    score: 'decimal', rec: 'record', list: 'set', who: 'entity',
    now: 'datetime', ttl: 'duration' };
  const attrsOfType = (t) => ATTRS.filter((a) => attrType[a] === t);
  const ctxOfType = (t) => ctxKeys.filter((k) => ctxType[k] === t);
  const varE = () => R.pick(['principal', 'resource', 'principal',
    'resource', 'action']);
  const types = ['bool', 'long', 'string', 'entity', 'set', 'record', 'ip',
    'decimal', 'datetime', 'duration'];

  // An attribute read that should give a `t`.
  function access(t, d) {
    const names = attrsOfType(t);
    const keys = ctxOfType(t);
    const choices = [];
    if (names.length) {
      choices.push(() => `${varE()}.${R.pick(names)}`);
      choices.push(() => `${varE()}.owner.${R.pick(names)}`);
      choices.push(() => `${varE()}[${quote(R.pick(names))}]`);
    }
    if (keys.length) choices.push(() => `context.${R.pick(keys)}`);
    if (t === 'string')
      choices.push(() => `${varE()}.addr.${R.pick(['city', 'inner.city'])}`,
        () => `context.rec.city`);
    if (t === 'long')
      choices.push(() => `${varE()}.addr.zip`, () => `context.rec.zip`);
    if (t === 'record') choices.push(() => 'context');
    if (t === 'entity')
      choices.push(() => varE(), () => varE(), () => `${varE()}.owner`);
    if (!choices.length) return null;
    return R.pick(choices)();
  }

  function gen(t, d) {
    if (d > 0 && R.chance(0.04)) t = R.pick(types);   // wrong type on purpose
    if (d <= 0 || R.chance(0.25)) {
      const a = R.chance(0.5) ? access(t, d) : null;
      return a ?? leaf(t);
    }
    return G[t](d - 1);
  }
  const par = (s) => `(${s})`;
  // Cedar allows a trailing comma in lists, records and scopes.
  const comma = () => (R.chance(0.1) ? ',' : '');

  function leaf(t) {
    switch (t) {
      case 'bool': return R.chance(0.5) ? 'true' : 'false';
      case 'long': {
        const v = R.chance(0.15) ? R.pick(LIT_LONGS) : String(V.long());
        return v.startsWith('-') ? `(${v})` : v;
      }
      case 'string': return R.chance(0.2) ? `"${R.pick(RAW_STRINGS)}"` :
        quote(V.string());
      case 'entity': return lit(V.entity());
      case 'set': return `[${Array.from({ length: R.int(3) },
        () => leaf(R.pick(['long', 'string', 'entity']))).join(', ')}]`;
      case 'record': return R.chance(0.5) ? '{}' :
        `{city: ${quote(V.string())}, zip: ${leaf('long')}}`;
      case 'ip': return `ip(${quote(R.chance(0.08) ? R.pick(BAD_IPS) :
        V.ip())})`;
      case 'decimal': return `decimal(${quote(R.chance(0.08) ?
        R.pick(BAD_DECIMALS) : V.decimal())})`;
      case 'datetime': return `datetime(${quote(R.chance(0.1) ?
        R.pick(BAD_DATETIMES) : V.datetime())})`;
      case 'duration': return `duration(${quote(R.chance(0.1) ?
        R.pick(BAD_DURATIONS) : V.duration())})`;
      default: throw new Error(t);
    }
  }

  const G = {
    bool: (d) => R.pick([
      () => `${par(gen('long', d))} ${R.pick(['<', '<=', '>', '>='])} ${par(gen('long', d))}`,
      () => { const t = R.pick(['datetime', 'duration']);
        return `${par(gen(t, d))} ${R.pick(['<', '<=', '>', '>=', '==', '!='])} ${par(gen(t, d))}`; },
      () => { const t = R.chance(0.7) ? R.pick(types) : null;
        return `${par(gen(t ?? R.pick(types), d))} ${R.pick(['==', '!='])} ${par(gen(t ?? R.pick(types), d))}`; },
      () => `${par(gen('bool', d))} && ${par(gen('bool', d))}`,
      () => `${par(gen('bool', d))} || ${par(gen('bool', d))}`,
      () => `${par(gen('bool', d))} && ${par(gen('bool', d))} || ${par(gen('bool', d))}`,
      () => `!${par(gen('bool', d))}`,
      () => `if ${par(gen('bool', d))} then ${par(gen('bool', d))} else ${par(gen('bool', d))}`,
      () => `${par(gen('entity', d))} in ${par(gen('entity', d))}`,
      () => `${par(gen('entity', d))} in ${par(entSet(d))}`,
      () => `${par(gen(R.pick(['entity', 'record', 'entity']), d))} has ${R.pick(ATTRS)}`,
      () => `${par(gen('entity', d))} has addr.${R.pick(['city', 'zip', 'inner', 'inner.city'])}`,
      () => `context has ${R.pick([...ctxKeys, 'nope', '"rec"'])}`,
      () => `${par(gen('string', d))} like "${R.pick(PATTERNS)}"`,
      () => `${par(gen('set', d))}.contains(${par(gen(R.pick(['long', 'string', 'entity']), d))}${comma()})`,
      () => `${par(gen('set', d))}.${R.pick(['containsAll', 'containsAny'])}(${par(gen('set', d))})`,
      () => `${par(gen('set', d))}.isEmpty()`,
      () => `${par(gen('ip', d))}.isInRange(${par(gen('ip', d))})`,
      () => `${par(gen('ip', d))}.${R.pick(['isIpv4', 'isIpv6', 'isLoopback', 'isMulticast'])}()`,
      () => `${par(gen('decimal', d))}.${R.pick(['lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual'])}(${par(gen('decimal', d))})`,
      () => `${par(gen('entity', d))} is ${R.pick(entityTypes)}`,
      () => `${par(gen('entity', d))} is ${R.pick(entityTypes)} in ${par(gen('entity', d))}`,
      () => `${par(gen('entity', d))} is ${R.pick(entityTypes)} in ${par(entSet(d))}`,
      () => `${par(gen('record', d))} has "inner key"`,
    ])(),
    long: (d) => R.pick([
      () => `${par(gen('long', d))} + ${par(gen('long', d))}`,
      () => `${par(gen('long', d))} - ${par(gen('long', d))}`,
      () => `${par(gen('long', d))} * ${par(gen('long', d))}`,
      () => `-${par(gen('long', d))}`,
      () => `if ${par(gen('bool', d))} then ${par(gen('long', d))} else ${par(gen('long', d))}`,
      () => `{a: ${gen('long', d)}, b: ${gen('string', d)}}.a`,
      () => `${par(gen('duration', d))}.${R.pick(['toDays', 'toHours', 'toMinutes', 'toSeconds', 'toMilliseconds'])}()`,
    ])(),
    datetime: (d) => R.pick([
      () => `datetime(${par(gen('string', d))})`,
      () => `${par(gen('datetime', d))}.offset(${par(gen('duration', d))})`,
      () => `${par(gen('datetime', d))}.${R.pick(['toDate', 'toTime'])}()`,
      () => leaf('datetime'),
    ])(),
    duration: (d) => R.pick([
      () => `duration(${par(gen('string', d))})`,
      () => `${par(gen('datetime', d))}.durationSince(${par(gen('datetime', d))})`,
      () => `${par(gen('datetime', d))}.toTime()`,
      () => leaf('duration'),
    ])(),
    string: (d) => R.pick([
      () => `if ${par(gen('bool', d))} then ${par(gen('string', d))} else ${par(gen('string', d))}`,
      () => `{k: ${gen('string', d)}}["k"]`,
      () => leaf('string'),
    ])(),
    entity: (d) => R.pick([
      () => `if ${par(gen('bool', d))} then ${par(gen('entity', d))} else ${par(gen('entity', d))}`,
      () => leaf('entity'),
    ])(),
    set: (d) => R.pick([
      () => { const n = R.int(4);
        return `[${Array.from({ length: n }, () => gen(R.pick(['long', 'string', 'entity', 'long']), d)).join(', ')}${n ? comma() : ''}]`; },
      () => `[${par(gen('set', d))}, ${leaf('set')}]`,
      () => access('set', d) ?? leaf('set'),
    ])(),
    record: (d) => R.pick([
      () => `{city: ${gen('string', d)}, zip: ${gen('long', d)}, "inner key": ${gen('bool', d)}${comma()}}`,
      () => `{"inner key": ${gen(R.pick(types), d)}}`,
      () => `${varE()}.addr`,
      () => leaf('record'),
    ])(),
    ip: (d) => R.pick([
      () => `ip(${par(gen('string', d))})`,
      () => leaf('ip'),
    ])(),
    decimal: (d) => R.pick([
      () => `decimal(${par(gen('string', d))})`,
      () => leaf('decimal'),
    ])(),
  };
  function entSet(d) {
    return `[${Array.from({ length: R.int(3) }, () => gen('entity', d)).join(', ')}]`;
  }

  // -- scopes --
  function scope(v, pool) {
    const types = [...new Set(pool.map((u) => u.type))];
    const k = R.int(6);
    if (k <= 1) return v;
    if (k === 2) return `${v} == ${lit(R.pick(pool))}`;
    if (k === 3) return `${v} in ${lit(R.pick([...pool, ...groups, ...folders]))}`;
    if (k === 4) return `${v} is ${R.pick([...types, 'Other'])}`;
    return `${v} is ${R.pick([...types, 'Other'])} in ${lit(R.pick([...pool, ...groups, ...folders]))}`;
  }
  function actionScope() {
    const pool = [...actions, ...agroups, ghosts[3]];
    const k = R.int(5);
    if (k === 0) return 'action';
    if (k === 1) return `action == ${lit(R.pick(pool))}`;
    if (k === 2) return `action in ${lit(R.pick(pool))}`;
    const l = pickSome(pool, 0.35);
    return `action in [${l.map(lit).join(', ')}${l.length ? comma() : ''}]`;
  }

  const policies = [];
  for (let i = 0; i < npol; i++) {
    const effect = R.chance(0.65) ? 'permit' : 'forbid';
    const p = scope('principal', [...users, ...groups, ...roles, ghosts[0]]);
    const a = actionScope();
    const r = scope('resource', [...docs, ...folders, ghosts[2]]);
    let text = `${effect} (${p}, ${a}, ${r}${comma()})`;
    const nc = R.pick([0, 1, 1, 1, 2]);
    for (let c = 0; c < nc; c++)
      text += `\n  ${R.chance(0.75) ? 'when' : 'unless'} { ${gen('bool', 1 + R.int(3))} }`;
    policies.push(text + ';');
  }

  // -- requests --
  function ctxValue(k) {
    if (R.chance(0.06)) return jsonValue(anyType());
    if (k === 'list') return Array.from({ length: R.int(4) },
      () => jsonValue(R.pick(['long', 'string', 'entity'])));
    return jsonValue(ctxType[k]);
  }
  const requests = [];
  for (let i = 0; i < nreq; i++) {
    const context = {};
    for (const k of ctxKeys)
      if (R.chance(['ip', 'score', 'now', 'ttl'].includes(k) ? 0.35 : 0.7))
        context[k] = ctxValue(k);
    requests.push({
      principal: R.pick([...users, ...users, ghosts[0], groups[0],
        R.pick([ghosts[4], ghosts[5]])]),
      action: R.pick([...actions, ...actions, ghosts[3]]),
      resource: R.pick([...docs, ...docs, ...folders, ghosts[2], ghosts[6]]),
      context,
    });
  }
  return { policies, entities, requests };
}
