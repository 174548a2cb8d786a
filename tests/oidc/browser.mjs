// A real browser through the sign-in pages: Debian's chromium, driven
// headless by playwright-core, opens the authorization URL that
// openid-client builds, types the login name and password into the form,
// and lands on the client's redirect URI (a small server of this script
// on 127.0.0.1; the browser may resolve no other name, so nothing leaves
// the machine); openid-client then redeems the code.  It
// also checks what only a browser shows: the style sheet loads under the
// pages' Content-Security-Policy, no CSP violation is reported, and the
// session cookie is HttpOnly and SameSite=Lax.
// tests/integration/test_oidc_front.py starts the server and gives
// ZTIAM_URL, ZTIAM_ADMIN_TOKEN, ZTIAM_TENANT, ZTIAM_SYSTEM, ZTIAM_LOGIN,
// ZTIAM_PASSWORD and CHROMIUM (the browser's path).
// Exits 0 when every check passes, 1 (naming the first failure) if not.
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import http from 'node:http';

const base = process.env.ZTIAM_URL;
const tenant = process.env.ZTIAM_TENANT;
const system = process.env.ZTIAM_SYSTEM;
const issuer = `${base}/t/${tenant}/${system}`;

// The client's side: its redirect URI answers, and remembers the URL.
let landed = null;
const rpServer = http.createServer((req, res) => {
	// (Not the browser's own /favicon.ico that follows.)
	if (req.url.startsWith('/cb'))
		landed = `http://127.0.0.1:${rpServer.address().port}${req.url}`;
	res.writeHead(200, { 'content-type': 'text/plain' });
	res.end('back at the client');
});
await new Promise((ok) => rpServer.listen(0, '127.0.0.1', ok));
const REDIRECT = `http://127.0.0.1:${rpServer.address().port}/cb`;

async function registerClient(meta) {
	const r = await fetch(`${base}/v1/tenants/${tenant}/clients`, {
		method: 'POST',
		headers: { authorization: `Bearer ${process.env.ZTIAM_ADMIN_TOKEN}`,
		    'content-type': 'application/json' },
		body: JSON.stringify({ account_system: system, ...meta }),
	});
	const text = await r.text();
	assert.equal(r.status, 201, text);
	return JSON.parse(text);
}

const rp = await registerClient({ client_name: 'Browser test app',
    grant_types: ['authorization_code'], redirect_uris: [REDIRECT],
    scope: 'openid profile' });
const config = await client.discovery(new URL(issuer), rp.client_id,
    { client_secret: rp.client_secret, id_token_signed_response_alg: 'ES256' },
    client.ClientSecretBasic(rp.client_secret),
    { execute: [client.allowInsecureRequests] });

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM,
    headless: true, args: ['--no-sandbox',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'] });
let failed = 0;
try {
	const context = await browser.newContext();
	const page = await context.newPage();
	const violations = [];
	page.on('console', (m) => {
		if (/Content Security Policy/i.test(m.text()))
			violations.push(m.text());
	});

	const verifier = client.randomPKCECodeVerifier();
	const state = client.randomState(), nonce = client.randomNonce();
	const url = client.buildAuthorizationUrl(config, {
		redirect_uri: REDIRECT, scope: 'openid profile', state, nonce,
		code_challenge: await client.calculatePKCECodeChallenge(verifier),
		code_challenge_method: 'S256' });
	await page.goto(url.href);
	assert.match(await page.title(), /Sign in/);
	// The style sheet applies: the card has its rounded border.
	const radius = await page.$eval('main', (el) =>
	    getComputedStyle(el).borderTopLeftRadius);
	assert.equal(radius, '12px');
	await page.fill('#login_name', process.env.ZTIAM_LOGIN);
	await page.fill('#password', process.env.ZTIAM_PASSWORD);
	await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/login')),
	    page.click('button[type=submit]')]);
	// The client is not first-party: the consent page comes first.
	assert.equal(landed, null);
	{
		assert.match(await page.content(), /Browser test app/);
		await Promise.all([page.waitForURL(`${REDIRECT}**`),
		    page.click('button[value=allow]')]);
	}
	assert.ok(landed, 'the browser reached the redirect URI');
	const cookies = await context.cookies(base);
	const sess = cookies.find((c) => c.name.endsWith('ztiam_session'));
	assert.ok(sess, 'a session cookie');
	assert.equal(sess.httpOnly, true);
	assert.equal(sess.sameSite, 'Lax');
	const tokens = await client.authorizationCodeGrant(config,
	    new URL(landed), { pkceCodeVerifier: verifier,
	    expectedState: state, expectedNonce: nonce });
	assert.equal(tokens.claims().preferred_username,
	    process.env.ZTIAM_LOGIN);
	assert.deepEqual(violations, []);
	console.log('ok   a browser signs in through the pages');
} catch (err) {
	failed++;
	console.log(`FAIL a browser signs in through the pages\n     ${err.stack}`);
} finally {
	await browser.close();
	rpServer.close();
}
process.exit(failed ? 1 : 0);
