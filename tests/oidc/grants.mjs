// The grants of a running `ztiam serve` beside client_credentials, driven
// by certified client libraries (oauth4webapi, openid-client v6): the
// device authorization grant (the test plays the person on the device
// page), refresh tokens with rotation, reuse detection and revocation,
// pushed authorization requests and dynamic client registration.
// tests/integration/test_oauth_grants.py starts the server and gives:
//   ZTIAM_URL, ZTIAM_ADMIN_TOKEN, ZTIAM_TENANT, ZTIAM_SYSTEM,
//   ZTIAM_SYSTEM_ID (the account system's id), ZTIAM_LOGIN and
//   ZTIAM_PASSWORD (a person with an account in it), ZTIAM_CLOSED_SYSTEM
//   (a second account system, where registration stays off).
// Exits 0 when every check passes, 1 (naming the first failure) if not.
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import assert from 'node:assert/strict';

const base = process.env.ZTIAM_URL;
const admin = process.env.ZTIAM_ADMIN_TOKEN;
const tenant = process.env.ZTIAM_TENANT;
const system = process.env.ZTIAM_SYSTEM;
const systemId = process.env.ZTIAM_SYSTEM_ID;
const closed = process.env.ZTIAM_CLOSED_SYSTEM;
const issuer = `${base}/t/${tenant}/${system}`;
const insecure = { [oauth.allowInsecureRequests]: true };
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

async function adminCall(method, path, body, headers = {}) {
	const r = await fetch(`${base}${path}`, {
		method,
		headers: { authorization: `Bearer ${admin}`,
		    'content-type': 'application/json', ...headers },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await r.text();
	return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function registerClient(meta) {
	const r = await adminCall('POST', `/v1/tenants/${tenant}/clients`,
	    { account_system: system, ...meta });
	assert.equal(r.status, 201, JSON.stringify(r.body));
	return r.body;
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

const checks = [];
function check(name, fn) { checks.push([name, fn]); }

// ---- the person ---------------------------------------------------------------

// The sign-in pages have tests of their own (codeflow.mjs); here the
// person's session is made the way a trusted front end makes one (POST
// .../sessions), and its cookie goes to the device page as a browser's
// would.
async function signIn() {
	const r = await adminCall('POST', `/v1/tenants/${tenant}/sessions`, {
	    system, login_name: process.env.ZTIAM_LOGIN,
	    password: process.env.ZTIAM_PASSWORD });
	assert.equal(r.status, 201, JSON.stringify(r.body));
	return { cookie: `ztiam_session=${r.body.token}`, id: r.body.id,
	    identity: r.body.identity_id };
}

function hidden(html, name) {
	const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
	assert.ok(m, `the page has a hidden ${name}`);
	return m[1];
}

async function page(session, method = 'GET', form = null, query = '') {
	const r = await fetch(`${issuer}/device${query}`, {
		method, redirect: 'manual',
		headers: { cookie: session.cookie, ...(form ? {
		    'content-type': 'application/x-www-form-urlencoded' } :
		    {}) },
		body: form ? new URLSearchParams(form).toString() : undefined,
	});
	return { status: r.status, headers: r.headers, html: await r.text() };
}

// Enters the code on the device page and approves or denies.
async function decide(session, userCode, action) {
	const first = await page(session);
	assert.equal(first.status, 200, first.html);
	const csrf = hidden(first.html, 'csrf');
	const shown = await page(session, 'POST',
	    { csrf, user_code: userCode.toLowerCase() });
	assert.equal(shown.status, 200, shown.html);
	assert.match(shown.html, /Approve/);
	const done = await page(session, 'POST', { csrf:
	    hidden(shown.html, 'csrf'), user_code: hidden(shown.html,
	    'user_code'), action });
	assert.equal(done.status, 200, done.html);
	return done;
}

// ---- set-up -------------------------------------------------------------------

const tv = await registerClient({ client_name: 'Living room TV',
    grant_types: [DEVICE, 'refresh_token'], scope: 'openid read write',
    token_endpoint_auth_method: 'none' });
const tvc = { client_id: tv.client_id };
const secretc = await registerClient({ client_name: 'cli',
    grant_types: [DEVICE, 'refresh_token'], scope: 'read write' });

const as = await oauth.processDiscoveryResponse(new URL(issuer),
    await oauth.discoveryRequest(new URL(issuer),
    { algorithm: 'oidc', ...insecure }));
const person = await signIn();

// A device flow to its tokens, for client `c` with authentication `auth`.
async function deviceTokens(c, auth, params = { scope: 'read write' },
    options = {}) {
	const da = await oauth.processDeviceAuthorizationResponse(as, c,
	    await oauth.deviceAuthorizationRequest(as, c, auth, params,
	    { ...insecure, ...options }));
	await decide(person, da.user_code, 'approve');
	const r = await oauth.deviceCodeGrantRequest(as, c, auth,
	    da.device_code, { ...insecure, ...options });
	return oauth.processDeviceCodeResponse(as, c, r);
}

// ---- the checks -------------------------------------------------------------------

check('discovery names the grants and their endpoints', async () => {
	assert.equal(as.device_authorization_endpoint,
	    `${issuer}/device_authorization`);
	assert.equal(as.pushed_authorization_request_endpoint, `${issuer}/par`);
	assert.ok(as.grant_types_supported.includes('refresh_token'));
	assert.ok(as.grant_types_supported.includes(DEVICE));
	assert.equal(as.registration_endpoint, undefined);
});

check('device flow: pending, slow_down, approve, tokens', async () => {
	const da = await oauth.processDeviceAuthorizationResponse(as, tvc,
	    await oauth.deviceAuthorizationRequest(as, tvc, oauth.None(),
	    { scope: 'read' }, insecure));
	assert.match(da.user_code, /^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);
	assert.equal(da.verification_uri, `${issuer}/device`);
	assert.equal(da.verification_uri_complete,
	    `${issuer}/device?user_code=${da.user_code}`);
	assert.equal(da.interval, 5);
	const poll = () => post('token', { grant_type: DEVICE,
	    device_code: da.device_code, client_id: tv.client_id });
	let r = await poll();
	assert.equal(r.status, 400);
	assert.equal(r.body.error, 'authorization_pending');
	r = await poll();
	assert.equal(r.body.error, 'slow_down');
	await decide(person, da.user_code, 'approve');
	const t = await oauth.processDeviceCodeResponse(as, tvc,
	    await oauth.deviceCodeGrantRequest(as, tvc, oauth.None(),
	    da.device_code, insecure));
	assert.equal(t.scope, 'read');
	assert.match(t.refresh_token, /^ztrt_/);
	const claims = JSON.parse(Buffer.from(t.access_token.split('.')[1],
	    'base64url'));
	assert.equal(claims.sub, person.identity);
	assert.equal(claims.client_id, tv.client_id);
	// Used once.
	r = await poll();
	assert.equal(r.body.error, 'invalid_grant');
});

check('device flow: verification_uri_complete and deny', async () => {
	const da = await oauth.processDeviceAuthorizationResponse(as, tvc,
	    await oauth.deviceAuthorizationRequest(as, tvc, oauth.None(),
	    {}, insecure));
	const shown = await page(person, 'GET', null,
	    `?user_code=${da.user_code}`);
	assert.equal(shown.status, 200);
	assert.match(shown.html, /Living room TV/);
	const done = await page(person, 'POST', { csrf: hidden(shown.html,
	    'csrf'), user_code: hidden(shown.html, 'user_code'),
	    action: 'deny' });
	assert.equal(done.status, 200);
	const r = await post('token', { grant_type: DEVICE,
	    device_code: da.device_code, client_id: tv.client_id });
	assert.equal(r.body.error, 'access_denied');
});

check('device page: sign-in first, bad codes, CSRF', async () => {
	const anon = await fetch(`${issuer}/device?user_code=BCDF-GHJK`,
	    { redirect: 'manual' });
	assert.ok([303, 401].includes(anon.status), `${anon.status}`);
	const first = await page(person);
	const csrf = hidden(first.html, 'csrf');
	let r = await page(person, 'POST', { csrf, user_code: 'AEIO-UAEI' });
	assert.equal(r.status, 400);
	assert.match(r.html, /not right/);
	r = await page(person, 'POST', { csrf: (csrf[0] === 'A' ? 'B' : 'A') +
	    csrf.slice(1),
	    user_code: 'BCDF-GHJK' });
	assert.equal(r.status, 403);
});

check('openid-client: device flow then refresh', async () => {
	const config = new client.Configuration(as, secretc.client_id,
	    { client_secret: secretc.client_secret },
	    client.ClientSecretBasic(secretc.client_secret));
	client.allowInsecureRequests(config);
	const da = await client.initiateDeviceAuthorization(config,
	    { scope: 'read write' });
	await decide(person, da.user_code, 'approve');
	const t = await client.pollDeviceAuthorizationGrant(config, da);
	assert.ok(t.refresh_token);
	const t2 = await client.refreshTokenGrant(config, t.refresh_token,
	    { scope: 'read' });
	assert.equal(t2.scope, 'read');
	assert.notEqual(t2.refresh_token, t.refresh_token);
});

check('refresh: rotation, narrowing, never widening', async () => {
	const t = await deviceTokens(secretc,
	    oauth.ClientSecretBasic(secretc.client_secret),
	    { scope: 'read' });
	const auth = oauth.ClientSecretBasic(secretc.client_secret);
	const t2 = await oauth.processRefreshTokenResponse(as, secretc,
	    await oauth.refreshTokenGrantRequest(as, secretc, auth,
	    t.refresh_token, insecure));
	assert.notEqual(t2.refresh_token, t.refresh_token);
	assert.equal(t2.scope, 'read');
	const wide = await post('token', { grant_type: 'refresh_token',
	    refresh_token: t2.refresh_token, scope: 'read write',
	    client_id: secretc.client_id,
	    client_secret: secretc.client_secret }, {});
	assert.equal(wide.status, 401);  // secretc authenticates with Basic
	const r = await fetch(`${issuer}/token`, { method: 'POST', headers: {
	    'content-type': 'application/x-www-form-urlencoded',
	    authorization: 'Basic ' + Buffer.from(`${secretc.client_id}:` +
	    `${secretc.client_secret}`).toString('base64') },
	    body: new URLSearchParams({ grant_type: 'refresh_token',
	    refresh_token: t2.refresh_token, scope: 'read write' }) });
	assert.equal(r.status, 400);
	assert.equal((await r.json()).error, 'invalid_scope');
	// Another client's refresh token is no good.
	const other = await post('token', { grant_type: 'refresh_token',
	    refresh_token: t2.refresh_token, client_id: tv.client_id });
	assert.equal(other.body.error, 'invalid_grant');
});

check('refresh: reuse revokes the family and its access tokens',
    async () => {
	const t = await deviceTokens(tvc, oauth.None());
	const t2 = await oauth.processRefreshTokenResponse(as, tvc,
	    await oauth.refreshTokenGrantRequest(as, tvc, oauth.None(),
	    t.refresh_token, insecure));
	const intro = async (token) => oauth.processIntrospectionResponse(as,
	    secretc, await oauth.introspectionRequest(as, secretc,
	    oauth.ClientSecretBasic(secretc.client_secret), token, insecure));
	assert.equal((await intro(t2.access_token)).active, true);
	const rt = await intro(t2.refresh_token);
	assert.equal(rt.active, true);
	assert.equal(rt.token_type, 'refresh_token');
	assert.equal(rt.client_id, tv.client_id);
	// The spent token again: reuse.
	const again = await post('token', { grant_type: 'refresh_token',
	    refresh_token: t.refresh_token, client_id: tv.client_id });
	assert.equal(again.status, 400);
	assert.equal(again.body.error, 'invalid_grant');
	assert.equal((await intro(t2.access_token)).active, false);
	assert.equal((await intro(t.access_token)).active, false);
	assert.equal((await intro(t2.refresh_token)).active, false);
	const next = await post('token', { grant_type: 'refresh_token',
	    refresh_token: t2.refresh_token, client_id: tv.client_id });
	assert.equal(next.body.error, 'invalid_grant');
});

check('refresh: revocation takes the family', async () => {
	const t = await deviceTokens(tvc, oauth.None());
	await oauth.processRevocationResponse(await oauth.revocationRequest(
	    as, tvc, oauth.None(), t.refresh_token,
	    { ...insecure, additionalParameters: { token_type_hint:
	    'refresh_token' } }));
	const r = await post('token', { grant_type: 'refresh_token',
	    refresh_token: t.refresh_token, client_id: tv.client_id });
	assert.equal(r.body.error, 'invalid_grant');
	const intro = await oauth.processIntrospectionResponse(as, secretc,
	    await oauth.introspectionRequest(as, secretc,
	    oauth.ClientSecretBasic(secretc.client_secret), t.access_token,
	    insecure));
	assert.equal(intro.active, false);
});

check('refresh: DPoP-bound family needs the same key', async () => {
	const key = await oauth.generateKeyPair('ES256');
	const dpop = oauth.DPoP(tvc, key);
	const da = await oauth.processDeviceAuthorizationResponse(as, tvc,
	    await oauth.deviceAuthorizationRequest(as, tvc, oauth.None(),
	    {}, insecure));
	await decide(person, da.user_code, 'approve');
	const t = await oauth.processDeviceCodeResponse(as, tvc,
	    await oauth.deviceCodeGrantRequest(as, tvc, oauth.None(),
	    da.device_code, { ...insecure, DPoP: dpop }));
	assert.equal(t.token_type.toLowerCase(), 'dpop');
	const bare = await post('token', { grant_type: 'refresh_token',
	    refresh_token: t.refresh_token, client_id: tv.client_id });
	assert.equal(bare.body.error, 'invalid_grant');
	const t2 = await oauth.processRefreshTokenResponse(as, tvc,
	    await oauth.refreshTokenGrantRequest(as, tvc, oauth.None(),
	    t.refresh_token, { ...insecure, DPoP: dpop }));
	assert.equal(t2.token_type.toLowerCase(), 'dpop');
});

check('refresh: ends with the sign-in session', async () => {
	const t = await deviceTokens(tvc, oauth.None());
	const r = await adminCall('DELETE',
	    `/v1/tenants/${tenant}/sessions/${person.id}`);
	assert.equal(r.status, 204, JSON.stringify(r.body));
	const x = await post('token', { grant_type: 'refresh_token',
	    refresh_token: t.refresh_token, client_id: tv.client_id });
	assert.equal(x.body.error, 'invalid_grant');
	Object.assign(person, await signIn());
});

const web = await registerClient({ client_name: 'web',
    grant_types: ['authorization_code'],
    redirect_uris: ['https://app.example/cb'], scope: 'openid read' });
const webc = { client_id: web.client_id };

check('PAR: request_uri for a good request, errors for bad ones',
    async () => {
	const auth = oauth.ClientSecretBasic(web.client_secret);
	const r = await oauth.pushedAuthorizationRequest(as, webc, auth, {
	    response_type: 'code', redirect_uri: 'https://app.example/cb',
	    scope: 'openid', code_challenge: 'x'.repeat(43),
	    code_challenge_method: 'S256' }, insecure);
	assert.equal(r.status, 201);
	const p = await oauth.processPushedAuthorizationResponse(as, webc, r);
	assert.match(p.request_uri,
	    /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]+$/);
	assert.equal(p.expires_in, 60);
	const bad = await oauth.pushedAuthorizationRequest(as, webc, auth, {
	    response_type: 'code', redirect_uri: 'https://evil.example/cb' },
	    insecure);
	assert.equal(bad.status, 400);
	assert.equal((await bad.json()).error, 'invalid_request');
	const noauth = await post('par', { client_id: web.client_id,
	    response_type: 'code' });
	assert.equal(noauth.status, 401);
});

check('PAR: openid-client builds the authorization URL', async () => {
	// Building the URL needs the authorization endpoint, which the
	// sign-in side adds; its usual path stands in until then.
	const config = new client.Configuration({ ...as,
	    authorization_endpoint: as.authorization_endpoint ??
	    `${issuer}/authorize` }, web.client_id,
	    { client_secret: web.client_secret },
	    client.ClientSecretBasic(web.client_secret));
	client.allowInsecureRequests(config);
	const url = await client.buildAuthorizationUrlWithPAR(config, {
	    redirect_uri: 'https://app.example/cb', scope: 'openid',
	    code_challenge: 'y'.repeat(43), code_challenge_method: 'S256' });
	assert.match(url.searchParams.get('request_uri'),
	    /^urn:ietf:params:oauth:request_uri:/);
	assert.equal(url.searchParams.get('client_id'), web.client_id);
});

check('DCR: off by default, then on with an initial access token',
    async () => {
	const meta = { client_name: 'dyn', redirect_uris:
	    ['https://dyn.example/cb'], grant_types: ['authorization_code'] };
	let r = await fetch(`${issuer}/register`, { method: 'POST',
	    headers: { 'content-type': 'application/json' },
	    body: JSON.stringify(meta) });
	assert.equal(r.status, 404);
	const path = `/v1/tenants/${tenant}/account-systems/${systemId}/` +
	    'registration';
	const s = await adminCall('PUT', path, { enabled: true,
	    initial_access_token_required: true });
	assert.equal(s.status, 200, JSON.stringify(s.body));
	const iat = s.body.initial_access_token;
	assert.match(iat, /^ztia_/);
	const got = await adminCall('GET', path);
	assert.equal(got.body.enabled, true);
	assert.equal(got.body.initial_access_token, undefined);
	// Discovery names the endpoint now (the issuer cache lives 1 s).
	const meta2 = await (await fetch(
	    `${issuer}/.well-known/openid-configuration`)).json();
	assert.equal(meta2.registration_endpoint, `${issuer}/register`);
	r = await oauth.dynamicClientRegistrationRequest(meta2, meta, insecure);
	assert.equal(r.status, 401);
	const c = await oauth.processDynamicClientRegistrationResponse(
	    await oauth.dynamicClientRegistrationRequest(meta2, meta,
	    { ...insecure, initialAccessToken: iat }));
	assert.ok(c.client_id);
	assert.match(c.client_secret, /^ztcs_/);
	assert.equal(c.client_secret_expires_at, 0);
	assert.ok(c.client_id_issued_at > 0);
	assert.deepEqual(c.redirect_uris, meta.redirect_uris);
	// The registry has it.
	const reg = await adminCall('GET',
	    `/v1/tenants/${tenant}/clients/${c.client_id}`);
	assert.equal(reg.status, 200);
	// Bad metadata.
	for (const [bad, error] of [
	    [{ redirect_uris: ['http://evil.example/cb'] },
	     'invalid_redirect_uri'],
	    [{ grant_types: ['implicit'] }, 'invalid_client_metadata'],
	    [{ unknown_field: 1 }, 'invalid_client_metadata']]) {
		const x = await fetch(`${issuer}/register`, { method: 'POST',
		    headers: { 'content-type': 'application/json',
		    authorization: `Bearer ${iat}` },
		    body: JSON.stringify({ ...meta, ...bad }) });
		assert.equal(x.status, 400);
		assert.equal((await x.json()).error, error);
	}
	// Open registration (no token wanted) with openid-client.
	await adminCall('PUT', path, { enabled: true });
	const config = await client.dynamicClientRegistration(new URL(issuer),
	    { redirect_uris: ['https://dyn2.example/cb'],
	    token_endpoint_auth_method: 'none' }, undefined,
	    { execute: [client.allowInsecureRequests] });
	assert.ok(config.clientMetadata().client_id);
	// A tenant's other account system stays closed.
	r = await fetch(`${base}/t/${tenant}/${closed}/register`,
	    { method: 'POST', headers: { 'content-type': 'application/json' },
	    body: JSON.stringify(meta) });
	assert.equal(r.status, 404);
	await adminCall('PUT', path, { enabled: false });
});

let failed = 0;
for (const [name, fn] of checks) {
	try {
		await fn();
		console.log(`ok   ${name}`);
	} catch (err) {
		failed++;
		console.log(`FAIL ${name}\n     ${err.stack}`);
	}
}
process.exit(failed ? 1 : 0);
