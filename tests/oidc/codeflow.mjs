// The browser side of a running `ztiam serve`, driven by certified client
// libraries: openid-client v6 builds the authorization URL and redeems the
// code, while this script plays the browser (it follows the redirects,
// reads the sign-in form's CSRF field and posts the password with the
// cookies it was given).  The ID token is verified again with jose
// against the JWKS; userinfo, refresh and logout follow; oauth4webapi
// drives a public client with PKCE.  Attacks: a replayed code, a
// redirect URI one character off, a wrong PKCE verifier, a form without
// its CSRF token, password guessing.
// tests/integration/test_oidc_front.py starts the server and gives:
//   ZTIAM_URL, ZTIAM_ADMIN_TOKEN, ZTIAM_TENANT, ZTIAM_SYSTEM,
//   ZTIAM_LOGIN and ZTIAM_PASSWORD (a person with an account in it).
// Exits 0 when every check passes, 1 (naming the first failure) if not.
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import * as jose from 'jose';
import assert from 'node:assert/strict';

const base = process.env.ZTIAM_URL;
const admin = process.env.ZTIAM_ADMIN_TOKEN;
const tenant = process.env.ZTIAM_TENANT;
const system = process.env.ZTIAM_SYSTEM;
const login = process.env.ZTIAM_LOGIN;
const password = process.env.ZTIAM_PASSWORD;
const issuer = `${base}/t/${tenant}/${system}`;
const REDIRECT = 'https://rp.example/cb';
const insecure = { execute: [client.allowInsecureRequests] };

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

// A browser: a cookie jar, and redirects followed until they leave the
// server for the client's redirect URI.
class Browser {
	constructor() { this.jar = new Map(); }

	async send(method, url, form) {
		const headers = {};
		if (this.jar.size)
			headers.cookie = [...this.jar].map(([k, v]) =>
			    `${k}=${v}`).join('; ');
		if (form)
			headers['content-type'] =
			    'application/x-www-form-urlencoded';
		const r = await fetch(url, { method, headers, redirect: 'manual',
		    body: form ? new URLSearchParams(form).toString() :
		    undefined });
		for (const c of r.headers.getSetCookie()) {
			const [pair] = c.split(';');
			const i = pair.indexOf('=');
			const name = pair.slice(0, i), value = pair.slice(i + 1);
			if (value)
				this.jar.set(name, value);
			else
				this.jar.delete(name);
		}
		return { status: r.status, location: r.headers.get('location'),
		    html: await r.text() };
	}

	async go(method, url, form) {
		let r = await this.send(method, url, form);
		while (r.status === 302 || r.status === 303) {
			const next = new URL(r.location, url);
			if (next.origin !== new URL(base).origin)
				return r;
			url = next.href;
			r = await this.send('GET', url);
		}
		return r;
	}
}

function hidden(html, name) {
	const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
	assert.ok(m, `the page has a hidden ${name}`);
	return m[1].replaceAll('&amp;', '&').replaceAll('&quot;', '"')
	    .replaceAll('&#39;', "'").replaceAll('&lt;', '<')
	    .replaceAll('&gt;', '>');
}

async function signIn(browser, page, pw = password, name = login) {
	return browser.go('POST', `${issuer}/login`, {
		csrf: hidden(page.html, 'csrf'),
		return_to: hidden(page.html, 'return_to'),
		login_name: name, password: pw,
	});
}

// Runs the front channel of `url` as a person would; the callback URL.
async function frontChannel(browser, url) {
	let r = await browser.go('GET', url.href);
	if (r.status === 200 && /name="password"/.test(r.html))
		r = await signIn(browser, r);
	assert.equal(r.status, 303, r.html);
	assert.ok(r.location.startsWith(REDIRECT), r.location);
	return new URL(r.location);
}

const checks = [];
function check(name, fn) { checks.push([name, fn]); }

// ---- set-up -------------------------------------------------------------------

const rp = await registerClient({ client_name: 'rp',
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: ['https://rp.example/bye'],
    scope: 'openid profile email groups', first_party: true });
const config = await client.discovery(new URL(issuer), rp.client_id,
    { client_secret: rp.client_secret, id_token_signed_response_alg: 'ES256' },
    client.ClientSecretBasic(rp.client_secret), insecure);
const JWKS = jose.createLocalJWKSet(await (await fetch(
    config.serverMetadata().jwks_uri)).json());

async function codeFlow(browser, extra = {}) {
	const verifier = client.randomPKCECodeVerifier();
	const state = client.randomState(), nonce = client.randomNonce();
	const url = client.buildAuthorizationUrl(config, {
		redirect_uri: REDIRECT, scope: 'openid profile email groups',
		code_challenge: await client.calculatePKCECodeChallenge(verifier),
		code_challenge_method: 'S256', state, nonce, ...extra });
	const cb = await frontChannel(browser, url);
	return { cb, verifier, state, nonce };
}

// ---- the checks -------------------------------------------------------------------

check('discovery names the browser endpoints', async () => {
	const m = config.serverMetadata();
	assert.equal(m.authorization_endpoint, `${issuer}/authorize`);
	assert.equal(m.userinfo_endpoint, `${issuer}/userinfo`);
	assert.equal(m.end_session_endpoint, `${issuer}/logout`);
	assert.deepEqual(m.response_types_supported, ['code']);
	assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
	assert.equal(m.authorization_response_iss_parameter_supported, true);
	assert.ok(m.id_token_signing_alg_values_supported.includes('ES256'));
});

let session = new Browser();
let tokens;

check('code flow with PKCE: ID token, userinfo, refresh (openid-client)',
    async () => {
	const { cb, verifier, state, nonce } = await codeFlow(session);
	tokens = await client.authorizationCodeGrant(config, cb, {
	    pkceCodeVerifier: verifier, expectedState: state,
	    expectedNonce: nonce, idTokenExpected: true });
	const c = tokens.claims();
	assert.equal(c.iss, issuer);
	assert.equal(c.aud, rp.client_id);
	assert.equal(c.nonce, nonce);
	assert.ok(c.sid && c.auth_time && c.at_hash);
	assert.deepEqual(c.amr, ['pwd']);
	const { payload, protectedHeader } = await jose.jwtVerify(
	    tokens.id_token, JWKS, { issuer, audience: rp.client_id,
	    algorithms: ['ES256'] });
	assert.equal(protectedHeader.alg, 'ES256');
	assert.equal(payload.preferred_username, login);
	const info = await client.fetchUserInfo(config, tokens.access_token,
	    c.sub);
	assert.equal(info.sub, c.sub);
	assert.equal(info.tenant, tenant);
	assert.ok(Array.isArray(info.groups));
	const next = await client.refreshTokenGrant(config,
	    tokens.refresh_token);
	assert.notEqual(next.refresh_token, tokens.refresh_token);
});

check('a signed-in browser comes straight back; logout ends it', async () => {
	const again = await codeFlow(session);
	assert.ok(again.cb.searchParams.get('code'));
	const url = client.buildEndSessionUrl(config, {
	    id_token_hint: tokens.id_token, state: 'bye',
	    post_logout_redirect_uri: 'https://rp.example/bye' });
	const r = await session.go('GET', url.href);
	assert.equal(r.status, 303);
	assert.equal(r.location, 'https://rp.example/bye?state=bye');
	const none = await session.go('GET', client.buildAuthorizationUrl(
	    config, { redirect_uri: REDIRECT, scope: 'openid', prompt: 'none',
	    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
	    code_challenge_method: 'S256' }).href);
	assert.match(none.location, /error=login_required/);
});

check('a public client with PKCE (oauth4webapi)', async () => {
	const pub = await registerClient({ client_name: 'spa',
	    grant_types: ['authorization_code'], redirect_uris: [REDIRECT],
	    token_endpoint_auth_method: 'none', scope: 'openid',
	    first_party: true, id_token_signed_response_alg: 'EdDSA' });
	const as = await oauth.processDiscoveryResponse(new URL(issuer),
	    await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oidc',
	    [oauth.allowInsecureRequests]: true }));
	const c = { client_id: pub.client_id,
	    id_token_signed_response_alg: 'EdDSA' };
	const verifier = oauth.generateRandomCodeVerifier();
	const url = new URL(as.authorization_endpoint);
	url.search = new URLSearchParams({ client_id: pub.client_id,
	    redirect_uri: REDIRECT, response_type: 'code', scope: 'openid',
	    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
	    code_challenge_method: 'S256' }).toString();
	const cb = await frontChannel(new Browser(), url);
	const params = oauth.validateAuthResponse(as, c, cb);
	const r = await oauth.authorizationCodeGrantRequest(as, c,
	    oauth.None(), params, REDIRECT, verifier,
	    { [oauth.allowInsecureRequests]: true });
	const t = await oauth.processAuthorizationCodeResponse(as, c, r);
	assert.ok(t.id_token);
	assert.equal(jose.decodeProtectedHeader(t.id_token).alg, 'EdDSA');
	assert.equal(t.refresh_token, undefined);
});

check('a replayed code is refused and its tokens revoked', async () => {
	const { cb, verifier, state, nonce } = await codeFlow(new Browser());
	const t = await client.authorizationCodeGrant(config, cb, {
	    pkceCodeVerifier: verifier, expectedState: state,
	    expectedNonce: nonce });
	await assert.rejects(client.authorizationCodeGrant(config, cb, {
	    pkceCodeVerifier: verifier, expectedState: state,
	    expectedNonce: nonce }), (e) => e.error === 'invalid_grant');
	await assert.rejects(client.fetchUserInfo(config, t.access_token,
	    t.claims().sub), (e) => e.status === 401 ||
	    e.cause?.status === 401);
	await assert.rejects(client.refreshTokenGrant(config, t.refresh_token),
	    (e) => e.error === 'invalid_grant');
});

check('a wrong or missing PKCE verifier is refused', async () => {
	for (const v of [client.randomPKCECodeVerifier(), undefined]) {
		const { cb, state, nonce } = await codeFlow(new Browser());
		const form = { grant_type: 'authorization_code',
		    code: cb.searchParams.get('code'), redirect_uri: REDIRECT };
		if (v)
			form.code_verifier = v;
		const r = await fetch(`${issuer}/token`, { method: 'POST',
		    headers: { 'content-type':
		    'application/x-www-form-urlencoded', authorization:
		    'Basic ' + Buffer.from(`${rp.client_id}:` +
		    `${rp.client_secret}`).toString('base64') },
		    body: new URLSearchParams(form).toString() });
		assert.equal(r.status, 400);
		assert.equal((await r.json()).error, 'invalid_grant');
		void state; void nonce;
	}
});

check('a redirect_uri one character off gets a page, not a redirect',
    async () => {
	const url = client.buildAuthorizationUrl(config, {
	    redirect_uri: REDIRECT + '/', scope: 'openid',
	    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
	    code_challenge_method: 'S256' });
	const r = await new Browser().send('GET', url.href);
	assert.equal(r.status, 400);
	assert.equal(r.location, null);
	assert.match(r.html, /not valid/);
});

check('the sign-in form without its CSRF token is refused', async () => {
	const b = new Browser();
	const url = client.buildAuthorizationUrl(config, {
	    redirect_uri: REDIRECT, scope: 'openid',
	    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
	    code_challenge_method: 'S256' });
	const page = await b.go('GET', url.href);
	const r = await b.go('POST', `${issuer}/login`, {
	    return_to: hidden(page.html, 'return_to'), login_name: login,
	    password });
	assert.equal(r.status, 403);
});

// Last: it locks the name for a while.
check('password guessing is throttled, unknown names alike', async () => {
	const seen = {};
	for (const name of [login, 'nobody@example.com']) {
		const b = new Browser();
		let page = await b.go('GET', client.buildAuthorizationUrl(
		    config, { redirect_uri: REDIRECT, scope: 'openid',
		    code_challenge:
		    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
		    code_challenge_method: 'S256' }).href);
		const first = await signIn(b, page, 'wrong-password-1', name);
		let r = first;
		for (let i = 0; i < 8 && r.status !== 429; i++)
			r = await signIn(b, r, 'wrong-password-1', name);
		assert.equal(r.status, 429);
		const msg = (p) => p.html.match(/class="error"[^>]*>([^<]*)</)[1];
		seen[name] = [msg(first), msg(r).replace(/\d+/g, 'N')];
		page = null;
	}
	assert.deepEqual(seen[login], seen['nobody@example.com']);
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
