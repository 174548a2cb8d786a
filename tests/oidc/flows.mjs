// The OAuth provider of a running `ztiam serve`, driven by certified
// client libraries: openid-client (v6) and oauth4webapi for the flows,
// jose to verify the tokens against the published JWKS and to craft the
// attacks.  tests/integration/test_oauth.py starts the server and gives:
//   ZTIAM_URL          http://127.0.0.1:PORT
//   ZTIAM_ADMIN_TOKEN  a system administrator's API token
//   ZTIAM_TENANT, ZTIAM_SYSTEM   an existing tenant and account system
// Exits 0 when every check passes, 1 (naming the first failure) if not.
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import * as jose from 'jose';
import assert from 'node:assert/strict';

const base = process.env.ZTIAM_URL;
const admin = process.env.ZTIAM_ADMIN_TOKEN;
const tenant = process.env.ZTIAM_TENANT;
const system = process.env.ZTIAM_SYSTEM;
const issuer = `${base}/t/${tenant}/${system}`;
const insecure = { [oauth.allowInsecureRequests]: true };
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AT = 'urn:ietf:params:oauth:token-type:access_token';

async function registerClient(meta) {
	const r = await fetch(`${base}/v1/tenants/${tenant}/clients`, {
		method: 'POST',
		headers: { authorization: `Bearer ${admin}`,
		    'content-type': 'application/json' },
		body: JSON.stringify({ account_system: system, ...meta }),
	});
	const text = await r.text();
	assert.equal(r.status, 201, text);
	return JSON.parse(text);
}

async function post(path, form, headers = {}) {
	const r = await fetch(`${issuer}/${path}`, {
		method: 'POST',
		headers: { 'content-type': 'application/x-www-form-urlencoded',
		    ...headers },
		body: new URLSearchParams(form).toString(),
	});
	const text = await r.text();
	return { status: r.status, headers: r.headers,
	    body: text ? JSON.parse(text) : null };
}

function basic(id, secret) {
	return 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:` +
	    `${encodeURIComponent(secret)}`).toString('base64');
}

const checks = [];
function check(name, fn) { checks.push([name, fn]); }

// ---- set-up ----------------------------------------------------------------

const svc = await registerClient({ client_name: 'svc',
    grant_types: ['client_credentials', EXCHANGE], scope: 'read write' });
const postc = await registerClient({ client_name: 'post',
    grant_types: ['client_credentials'], scope: 'read',
    token_endpoint_auth_method: 'client_secret_post' });
const jwtKeys = await jose.generateKeyPair('ES256', { extractable: true });
const jwtPublic = { ...(await jose.exportJWK(jwtKeys.publicKey)),
    kid: 'k1', alg: 'ES256', use: 'sig' };
const jwtc = await registerClient({ client_name: 'jwt',
    grant_types: ['client_credentials'], scope: 'read',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [jwtPublic] } });
const dpopc = await registerClient({ client_name: 'dpop',
    grant_types: ['client_credentials'], scope: 'read',
    dpop_bound_access_tokens: true });

const as = await oauth.processDiscoveryResponse(new URL(issuer),
    await oauth.discoveryRequest(new URL(issuer),
    { algorithm: 'oidc', ...insecure }));
const JWKS = jose.createLocalJWKSet(await (await fetch(as.jwks_uri)).json());

async function verifyAT(token, aud) {
	const { payload, protectedHeader } = await jose.jwtVerify(token, JWKS,
	    { issuer, audience: aud, typ: 'at+jwt', algorithms: ['ES256'] });
	assert.equal(protectedHeader.typ, 'at+jwt');
	for (const c of ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti',
	    'client_id'])
		assert.ok(payload[c] !== undefined, `claim ${c}`);
	return payload;
}

async function svcToken(params = {}) {
	const r = await oauth.clientCredentialsGrantRequest(as,
	    { client_id: svc.client_id }, oauth.ClientSecretBasic(
	    svc.client_secret), params, insecure);
	return oauth.processClientCredentialsResponse(as,
	    { client_id: svc.client_id }, r);
}

async function assertion(claims, header = { alg: 'ES256', kid: 'k1' },
    key = jwtKeys.privateKey) {
	const now = Math.floor(Date.now() / 1000);
	return new jose.SignJWT({ jti: crypto.randomUUID(), ...claims })
	    .setProtectedHeader(header).setIssuer(jwtc.client_id)
	    .setSubject(jwtc.client_id).setAudience(`${issuer}/token`)
	    .setIssuedAt(now).setExpirationTime(claims.exp ?? now + 60)
	    .sign(key);
}

function jwtForm(a) {
	return { grant_type: 'client_credentials', client_assertion: a,
	    client_assertion_type:
	    'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' };
}

// ---- the flows ---------------------------------------------------------------

check('discovery lists what exists and nothing else', async () => {
	assert.equal(as.issuer, issuer);
	assert.equal(as.token_endpoint, `${issuer}/token`);
	assert.equal(as.authorization_endpoint, `${issuer}/authorize`);
	assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
	const rfc8414 = await fetch(`${base}/.well-known/oauth-authorization-` +
	    `server/t/${tenant}/${system}`);
	assert.equal(rfc8414.status, 200);
	assert.equal((await rfc8414.json()).issuer, issuer);
	const jwks = await fetch(as.jwks_uri);
	assert.match(jwks.headers.get('cache-control'), /max-age/);
});

check('client_credentials, client_secret_basic (oauth4webapi)', async () => {
	const t = await svcToken({ scope: 'read',
	    resource: 'https://api.example/' });
	assert.equal(t.token_type.toLowerCase(), 'bearer');
	const p = await verifyAT(t.access_token, 'https://api.example/');
	assert.equal(p.sub, svc.client_id);
	assert.equal(p.client_id, svc.client_id);
	assert.equal(p.scope, 'read');
});

check('client_credentials, default audience is the issuer', async () => {
	const t = await svcToken();
	const p = await verifyAT(t.access_token, issuer);
	assert.equal(p.scope, 'read write');
});

check('client_credentials, client_secret_post (openid-client)', async () => {
	const config = await client.discovery(new URL(issuer), postc.client_id,
	    postc.client_secret, client.ClientSecretPost(postc.client_secret),
	    { execute: [client.allowInsecureRequests] });
	const t = await client.clientCredentialsGrant(config, { scope: 'read' });
	await verifyAT(t.access_token, issuer);
	const i = await client.tokenIntrospection(config, t.access_token);
	assert.equal(i.active, true);
	assert.equal(i.client_id, postc.client_id);
});

check('client_credentials, private_key_jwt (openid-client)', async () => {
	const config = await client.discovery(new URL(issuer), jwtc.client_id,
	    {}, client.PrivateKeyJwt({ key: jwtKeys.privateKey, kid: 'k1' }),
	    { execute: [client.allowInsecureRequests] });
	const t = await client.clientCredentialsGrant(config, { scope: 'read' });
	const p = await verifyAT(t.access_token, issuer);
	assert.equal(p.client_id, jwtc.client_id);
});

check('introspection, then revocation, then inactive', async () => {
	const t = await svcToken();
	const c = { client_id: svc.client_id };
	const auth = oauth.ClientSecretBasic(svc.client_secret);
	let i = await oauth.processIntrospectionResponse(as, c,
	    await oauth.introspectionRequest(as, c, auth, t.access_token,
	    insecure));
	assert.equal(i.active, true);
	assert.equal(i.sub, svc.client_id);
	await oauth.processRevocationResponse(await oauth.revocationRequest(
	    as, c, auth, t.access_token, insecure));
	i = await oauth.processIntrospectionResponse(as, c,
	    await oauth.introspectionRequest(as, c, auth, t.access_token,
	    insecure));
	assert.equal(i.active, false);
	// Unknown tokens are revoked "successfully" too (RFC 7009 2.2).
	await oauth.processRevocationResponse(await oauth.revocationRequest(
	    as, c, auth, 'not-a-token', insecure));
});

check('token exchange: act names the client, scope narrows', async () => {
	const t = await svcToken({ scope: 'read write' });
	const c = { client_id: svc.client_id };
	const r = await oauth.genericTokenEndpointRequest(as, c,
	    oauth.ClientSecretBasic(svc.client_secret), EXCHANGE,
	    { subject_token: t.access_token, subject_token_type: AT,
	    requested_token_type: AT, scope: 'read',
	    resource: 'https://downstream.example/' }, insecure);
	const x = await oauth.processGenericTokenEndpointResponse(as, c, r);
	assert.equal(x.issued_token_type, AT);
	const p = await verifyAT(x.access_token, 'https://downstream.example/');
	assert.equal(p.act.sub, svc.client_id);
	assert.equal(p.scope, 'read');
	const wide = await post('token', { grant_type: EXCHANGE,
	    subject_token: x.access_token, subject_token_type: AT,
	    scope: 'read write' }, { authorization: basic(svc.client_id,
	    svc.client_secret) });
	assert.equal(wide.body.error, 'invalid_scope');
});

check('DPoP-bound token (oauth4webapi)', async () => {
	const keys = await oauth.generateKeyPair('ES256');
	const c = { client_id: dpopc.client_id };
	const DPoP = oauth.DPoP(c, keys);
	const r = await oauth.clientCredentialsGrantRequest(as, c,
	    oauth.ClientSecretBasic(dpopc.client_secret), { scope: 'read' },
	    { DPoP, ...insecure });
	const t = await oauth.processClientCredentialsResponse(as, c, r);
	assert.equal(t.token_type.toLowerCase(), 'dpop');
	const p = await verifyAT(t.access_token, issuer);
	const jkt = await jose.calculateJwkThumbprint(
	    await jose.exportJWK(keys.publicKey));
	assert.equal(p.cnf.jkt, jkt);
	// A client registered for DPoP must send a proof.
	const none = await post('token', { grant_type: 'client_credentials' },
	    { authorization: basic(dpopc.client_id, dpopc.client_secret) });
	assert.equal(none.body.error, 'invalid_request');
});

check('a DPoP-bound token is exchanged only with a proof of its key',
    async () => {
	const x = await registerClient({ client_name: 'dpop-x',
	    grant_types: ['client_credentials', EXCHANGE], scope: 'read' });
	const c = { client_id: x.client_id };
	const auth = oauth.ClientSecretBasic(x.client_secret);
	const keys = await oauth.generateKeyPair('ES256');
	const t = await oauth.processClientCredentialsResponse(as, c,
	    await oauth.clientCredentialsGrantRequest(as, c, auth, {},
	    { DPoP: oauth.DPoP(c, keys), ...insecure }));
	const form = { subject_token: t.access_token,
	    subject_token_type: AT };
	const bare = await post('token', { grant_type: EXCHANGE, ...form },
	    { authorization: basic(x.client_id, x.client_secret) });
	assert.equal(bare.status, 400);
	assert.equal(bare.body.error, 'invalid_request');
	const other = await oauth.generateKeyPair('ES256');
	await assert.rejects(async () =>
	    oauth.processGenericTokenEndpointResponse(as, c,
	    await oauth.genericTokenEndpointRequest(as, c, auth, EXCHANGE,
	    form, { DPoP: oauth.DPoP(c, other), ...insecure })));
	const r = await oauth.genericTokenEndpointRequest(as, c, auth,
	    EXCHANGE, form, { DPoP: oauth.DPoP(c, keys), ...insecure });
	const ok = await oauth.processGenericTokenEndpointResponse(as, c, r);
	const p = await verifyAT(ok.access_token, issuer);
	assert.equal(p.cnf.jkt, await jose.calculateJwkThumbprint(
	    await jose.exportJWK(keys.publicKey)));
});

// ---- attacks -------------------------------------------------------------------

async function refused(form, headers, status, error) {
	const r = await post('token', form, headers);
	assert.equal(r.status, status, JSON.stringify(r.body));
	assert.equal(r.body.error, error);
	assert.equal(r.headers.get('cache-control'), 'no-store');
	assert.equal(r.headers.get('pragma'), 'no-cache');
	if (status === 401)
		assert.match(r.headers.get('www-authenticate'), /^Basic /);
	return r;
}

check('assertion with alg none is refused', async () => {
	const now = Math.floor(Date.now() / 1000);
	const a = new jose.UnsecuredJWT({ jti: crypto.randomUUID() })
	    .setIssuer(jwtc.client_id).setSubject(jwtc.client_id)
	    .setAudience(`${issuer}/token`).setExpirationTime(now + 60)
	    .encode();
	await refused(jwtForm(a), {}, 401, 'invalid_client');
});

check('HS256 assertion keyed with the public key is refused', async () => {
	const secret = new TextEncoder().encode(JSON.stringify(jwtPublic));
	const a = await assertion({}, { alg: 'HS256', kid: 'k1' }, secret);
	await refused(jwtForm(a), {}, 401, 'invalid_client');
});

check('expired assertion is refused', async () => {
	const now = Math.floor(Date.now() / 1000);
	await refused(jwtForm(await assertion({ exp: now - 120 })), {}, 401,
	    'invalid_client');
});

check('long-lived assertion is refused', async () => {
	const now = Math.floor(Date.now() / 1000);
	await refused(jwtForm(await assertion({ exp: now + 3600 })), {}, 401,
	    'invalid_client');
});

check('replayed assertion jti is refused', async () => {
	const a = await assertion({});
	const ok = await post('token', jwtForm(a));
	assert.equal(ok.status, 200, JSON.stringify(ok.body));
	await refused(jwtForm(a), {}, 401, 'invalid_client');
});

check('assertion signed by another key is refused', async () => {
	const other = await jose.generateKeyPair('ES256');
	await refused(jwtForm(await assertion({}, { alg: 'ES256', kid: 'k1' },
	    other.privateKey)), {}, 401, 'invalid_client');
});

check('wrong secret and wrong method are invalid_client', async () => {
	await refused({ grant_type: 'client_credentials' },
	    { authorization: basic(svc.client_id, 'ztcs_wrong') }, 401,
	    'invalid_client');
	await refused({ grant_type: 'client_credentials',
	    client_id: svc.client_id, client_secret: svc.client_secret }, {},
	    401, 'invalid_client');
});

async function proof(keys, claims, header = {}) {
	return new jose.SignJWT({ jti: crypto.randomUUID(), htm: 'POST',
	    htu: `${issuer}/token`, iat: Math.floor(Date.now() / 1000),
	    ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt',
	    jwk: await jose.exportJWK(keys.publicKey), ...header })
	    .sign(keys.privateKey);
}

check('replayed DPoP proof and wrong htu are refused', async () => {
	const keys = await jose.generateKeyPair('ES256');
	const auth = basic(dpopc.client_id, dpopc.client_secret);
	const p = await proof(keys, {});
	const form = { grant_type: 'client_credentials' };
	const ok = await post('token', form, { authorization: auth, dpop: p });
	assert.equal(ok.status, 200, JSON.stringify(ok.body));
	await refused(form, { authorization: auth, dpop: p }, 400,
	    'invalid_dpop_proof');
	await refused(form, { authorization: auth, dpop: await proof(keys,
	    { htu: `${issuer}/introspect` }) }, 400, 'invalid_dpop_proof');
	await refused(form, { authorization: auth, dpop: await proof(keys,
	    {}, { typ: 'JWT' }) }, 400, 'invalid_dpop_proof');
	await refused(form, { authorization: auth, dpop: await proof(keys,
	    { iat: Math.floor(Date.now() / 1000) - 600 }) }, 400,
	    'invalid_dpop_proof');
});

check('forged, expired and foreign tokens are inactive', async () => {
	const auth = { authorization: basic(svc.client_id, svc.client_secret) };
	const t = await svcToken();
	const [h, p] = t.access_token.split('.');
	const claims = JSON.parse(Buffer.from(p, 'base64url'));
	const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims,
	    scope: 'admin' })).toString('base64url')}.${t.access_token.split(
	    '.')[2]}`;
	const mine = await jose.generateKeyPair('ES256');
	const header = JSON.parse(Buffer.from(h, 'base64url'));
	const resigned = await new jose.SignJWT(claims)
	    .setProtectedHeader(header).sign(mine.privateKey);
	const expired = await new jose.SignJWT({ ...claims,
	    exp: claims.iat - 10 }).setProtectedHeader(header)
	    .sign(mine.privateKey);
	for (const tok of [forged, resigned, expired, 'x.y.z']) {
		const r = await post('introspect', { token: tok }, auth);
		assert.equal(r.status, 200);
		assert.deepEqual(r.body, { active: false });
	}
});

check('a JSON body is invalid_request', async () => {
	const r = await fetch(`${issuer}/token`, { method: 'POST',
	    headers: { 'content-type': 'application/json',
	    authorization: basic(svc.client_id, svc.client_secret) },
	    body: JSON.stringify({ grant_type: 'client_credentials' }) });
	assert.equal(r.status, 400);
	assert.equal((await r.json()).error, 'invalid_request');
});

check('other grants are unsupported_grant_type', async () => {
	// Supported (grants.mjs), but not registered for this client.
	await refused({ grant_type: 'refresh_token', refresh_token: 'x' },
	    { authorization: basic(svc.client_id, svc.client_secret) }, 400,
	    'unauthorized_client');
	await refused({ grant_type: 'implicit' },
	    { authorization: basic(svc.client_id, svc.client_secret) }, 400,
	    'unsupported_grant_type');
	await refused({ grant_type: EXCHANGE, subject_token: 'x',
	    subject_token_type: AT, client_id: postc.client_id,
	    client_secret: postc.client_secret }, {}, 400,
	    'unauthorized_client');
	await refused({ grant_type: 'client_credentials', scope: 'admin' },
	    { authorization: basic(svc.client_id, svc.client_secret) }, 400,
	    'invalid_scope');
	await refused({ grant_type: 'client_credentials', resource: 'rel/x' },
	    { authorization: basic(svc.client_id, svc.client_secret) }, 400,
	    'invalid_target');
});

let failed = 0;
for (const [name, fn] of checks) {
	try {
		await fn();
		console.log(`ok   ${name}`);
	} catch (e) {
		failed++;
		console.log(`FAIL ${name}\n     ${e.stack || e}`);
	}
}
console.log(`${checks.length - failed}/${checks.length} passed`);
process.exit(failed ? 1 : 0);
