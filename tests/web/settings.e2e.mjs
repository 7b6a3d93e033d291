// Browser scenario of the settings pages, the OAuth consent page and the people pages:
// editing the profile (and a refused value shown beside its field), changing the
// password, listing and revoking sessions (two browser contexts), authorising a
// Mastodon-style app through the consent page and revoking it, denying one, followers
// and following lists, blocking and muting from a profile; screenshots, axe and the
// 360 px check of each page. Run by tests/web/run.sh (see lib.mjs).
import assert from 'node:assert/strict';
import {
  BASE, DESKTOP, PHONE, PASSWORD, step, run, watchedPage, signUp, post, noHorizontalScroll, axe,
  screenshot,
} from './lib.mjs';

const NEW_PASSWORD = 'a much longer new passphrase';
const OOB = 'urn:ietf:wg:oauth:2.0:oob';
// Nothing listens here: the browser test intercepts the app's redirect before it leaves.
const CALLBACK = 'http://127.0.0.1:9/callback';
const APP_NAME = 'Settings Test Reader';

async function signIn(page, name, password) {
  await page.goto(`${BASE}/sign-in`);
  await page.getByLabel('Username or e-mail').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState('domcontentloaded');
}

async function api(method, path, { token, form } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (form) init.body = new URLSearchParams(form);
  return fetch(`${BASE}${path}`, init);
}

function authorizeUrl(clientId, redirect, state) {
  const q = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirect, scope: 'read write follow',
  });
  if (state) q.set('state', state);
  return `${BASE}/oauth/authorize?${q}`;
}

await run('settings', async (browser, problems) => {
  const anaCtx = await browser.newContext({ viewport: DESKTOP });
  const benCtx = await browser.newContext({ viewport: DESKTOP });
  const catCtx = await browser.newContext({ viewport: DESKTOP });
  const ana = await watchedPage(anaCtx, problems);
  const ben = await watchedPage(benCtx, problems);
  const cat = await watchedPage(catCtx, problems);
  let clientId = null;
  let clientSecret = null;

  await step('three people sign up (st_ana, st_ben, st_cat)', async () => {
    await signUp(ana, 'st_ana');
    await signUp(ben, 'st_ben');
    await signUp(cat, 'st_cat');
  });

  await step('Ana edits her profile from Settings and sees it on her profile page', async () => {
    await ana.getByRole('link', { name: 'Settings' }).click();
    await ana.waitForURL(`${BASE}/settings/profile`);
    await ana.getByLabel('Display name').fill('Ana of Settings');
    await ana.getByLabel('Bio').fill('Keeps the <garden> tidy.');
    await ana.getByLabel('Default audience of new posts').selectOption('unlisted');
    await ana.getByRole('button', { name: 'Save profile' }).click();
    await ana.waitForURL(`${BASE}/settings/profile?done=saved`);
    await ana.getByText('Your profile was saved.').waitFor();
    assert.equal(await ana.getByLabel('Default audience of new posts').inputValue(), 'unlisted');
    await ana.goto(`${BASE}/@st_ana`);
    await ana.getByRole('heading', { name: /Ana of Settings/ }).waitFor();
    await ana.getByText('Keeps the <garden> tidy.').waitFor();
  });

  await step('a display name that is too long is refused beside its field, the value kept', async () => {
    await ana.goto(`${BASE}/settings/profile`);
    const long = 'N'.repeat(31);
    await ana.getByLabel('Display name').fill(long);
    await ana.getByRole('button', { name: 'Save profile' }).click();
    await ana.locator('#display_name-error').filter({ hasText: 'display_name must be at most 30 characters' }).waitFor();
    const field = ana.getByLabel('Display name');
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    assert.equal(await field.inputValue(), long);
    await ana.goto(`${BASE}/@st_ana`);
    await ana.getByRole('heading', { name: /Ana of Settings/ }).waitFor();
  });

  const ana2Ctx = await browser.newContext({ viewport: DESKTOP });
  const ana2 = await watchedPage(ana2Ctx, problems);
  await step('two sessions are listed; revoking the other one signs that browser out', async () => {
    await signIn(ana2, 'st_ana', PASSWORD);
    await ana2.waitForURL(`${BASE}/home`);
    await ana.goto(`${BASE}/settings/sessions`);
    assert.equal(await ana.locator('[data-session-id]').count(), 2);
    assert.equal(await ana.getByText('(this session)').count(), 1);
    const revoke = ana.getByRole('button', { name: /^Revoke the session/ });
    assert.equal(await revoke.count(), 1, 'no revoke button on this session');
    await revoke.click();
    await ana.getByText('The session was signed out.').waitFor();
    assert.equal(await ana.locator('[data-session-id]').count(), 1);
    await ana2.goto(`${BASE}/home`);
    assert.ok(ana2.url().startsWith(`${BASE}/sign-in`), `the revoked browser is at ${ana2.url()}`);
  });

  await step('a wrong current password is refused; the right one changes it', async () => {
    await signIn(ana2, 'st_ana', PASSWORD);
    await ana.goto(`${BASE}/settings/password`);
    await ana.getByLabel('Current password').fill('not my password');
    await ana.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await ana.getByLabel('New password again').fill(NEW_PASSWORD);
    await ana.getByRole('button', { name: 'Change password' }).click();
    await ana.getByText('current_password is not the password of this account').waitFor();
    await ana.getByLabel('Current password').fill(PASSWORD);
    await ana.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await ana.getByLabel('New password again').fill(NEW_PASSWORD);
    await ana.getByRole('button', { name: 'Change password' }).click();
    await ana.getByText(/Your password was changed\. 1 other session or app token was signed out; this session stays signed in\./).waitFor();
    await ana2.goto(`${BASE}/home`);
    assert.ok(ana2.url().startsWith(`${BASE}/sign-in`), 'the other session ended with the change');
  });

  await step('after signing out, the old password is refused and the new one works', async () => {
    await ana.getByRole('button', { name: 'Sign out' }).click();
    await ana.waitForURL(`${BASE}/sign-in`);
    await signIn(ana, 'st_ana', PASSWORD);
    await ana.getByRole('alert').filter({ hasText: 'Invalid username/e-mail or password' }).waitFor();
    await signIn(ana, 'st_ana', NEW_PASSWORD);
    await ana.waitForURL(`${BASE}/home`);
  });

  await step('e-mail preferences are checkboxes that stay as saved', async () => {
    await ana.goto(`${BASE}/settings/email`);
    const digest = ana.getByLabel('Send me a daily digest of what I missed');
    const follow = ana.getByLabel('someone follows me');
    assert.equal(await digest.isChecked(), false);
    assert.equal(await follow.isChecked(), true);
    await digest.check();
    await follow.uncheck();
    await ana.getByRole('button', { name: 'Save e-mail preferences' }).click();
    await ana.getByText('Your e-mail preferences were saved.').waitFor();
    assert.equal(await ana.getByLabel('Send me a daily digest of what I missed').isChecked(), true);
    assert.equal(await ana.getByLabel('someone follows me').isChecked(), false);
  });

  await step('an app registered over HTTP is authorised on the consent page, then revoked', async () => {
    const r = await api('POST', '/api/v1/apps', {
      form: { client_name: APP_NAME, redirect_uris: `${OOB}\n${CALLBACK}`, scopes: 'read write follow push', website: 'https://reader.example' },
    });
    assert.equal(r.status, 200);
    const registered = await r.json();
    clientId = registered.client_id;
    clientSecret = registered.client_secret;
    await ana.goto(authorizeUrl(clientId, OOB));
    await ana.getByRole('heading', { name: `Authorize ${APP_NAME}` }).waitFor();
    await ana.getByText(`${APP_NAME} wants to:`).waitFor();
    await ana.getByText('follow and unfollow people, block and mute them').waitFor();
    await ana.getByRole('button', { name: 'Authorize' }).click();
    const code = (await ana.locator('#code').textContent()).trim();
    assert.ok(code.length > 20, `code ${code}`);
    const t = await api('POST', '/oauth/token', {
      form: { grant_type: 'authorization_code', client_id: clientId, client_secret: clientSecret, code, redirect_uri: OOB },
    });
    assert.equal(t.status, 200);
    const token = (await t.json()).access_token;
    const me = await api('GET', '/api/v1/accounts/verify_credentials', { token });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).username, 'st_ana');
    await ana.goto(`${BASE}/settings/sessions`);
    const item = ana.locator('[data-app-id]', { hasText: APP_NAME });
    await item.waitFor();
    await item.getByRole('button', { name: `Revoke ${APP_NAME}` }).click();
    await ana.getByText('The app\'s access was revoked.').waitFor();
    assert.equal(await ana.locator('[data-app-id]', { hasText: APP_NAME }).count(), 0);
    const after = await api('GET', '/api/v1/accounts/verify_credentials', { token });
    assert.equal(after.status, 401);
  });

  await step('Deny sends the browser back to the app with error=access_denied', async () => {
    let landed = null;
    await ana.route(`${CALLBACK}**`, async (route) => {
      landed = route.request().url();
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'app callback' });
    });
    await ana.goto(authorizeUrl(clientId, CALLBACK, 'xyz'));
    await ana.getByRole('button', { name: 'Deny' }).click();
    await ana.waitForURL((u) => u.toString().startsWith(CALLBACK));
    const q = new URL(landed).searchParams;
    assert.equal(q.get('error'), 'access_denied');
    assert.equal(q.get('state'), 'xyz');
    assert.equal(q.get('code'), null);
    await ana.unroute(`${CALLBACK}**`);
  });

  await step('signed out, the consent page asks to sign in first, then for consent', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    const page = await watchedPage(ctx, problems);
    await page.goto(authorizeUrl(clientId, OOB));
    await page.getByRole('heading', { name: 'Sign in first' }).waitFor();
    await page.getByLabel('Username or e-mail').fill('st_ben');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Authorize' }).waitFor();
    await page.getByText('You are signed in as @st_ben').waitFor();
    await ctx.close();
  });

  await step('followers and following lists', async () => {
    await ben.goto(`${BASE}/@st_ana`);
    await ben.getByRole('button', { name: /^Follow/ }).click();
    await ben.getByRole('button', { name: /^Unfollow/ }).waitFor();
    await ana.goto(`${BASE}/@st_ana`);
    await ana.getByRole('link', { name: '1 followers' }).click();
    await ana.waitForURL(`${BASE}/@st_ana/followers`);
    await ana.getByRole('heading', { name: 'People following Ana of Settings' }).waitFor();
    await ana.getByRole('link', { name: /st_ben/ }).waitFor();
    await ben.goto(`${BASE}/@st_ben/following`);
    await ben.getByRole('link', { name: /Ana of Settings/ }).waitFor();
  });

  await step('blocking hides that person\'s posts from home; muting too', async () => {
    for (const who of ['st_ben', 'st_cat']) {
      await ana.goto(`${BASE}/@${who}`);
      await ana.getByRole('button', { name: /^Follow/ }).click();
      await ana.getByRole('button', { name: /^Unfollow/ }).waitFor();
    }
    await ben.goto(`${BASE}/home`);
    await post(ben, 'Ben was here, settings scenario');
    await cat.goto(`${BASE}/home`);
    await post(cat, 'Cat was here, settings scenario');
    await ana.goto(`${BASE}/home`);
    await ana.getByText('Ben was here, settings scenario').waitFor();
    await ana.getByText('Cat was here, settings scenario').waitFor();

    await ana.goto(`${BASE}/@st_ben`);
    await ana.getByRole('button', { name: /^Block/ }).click();
    await ana.getByText('You block st_ben.').waitFor();
    await ana.getByRole('button', { name: /^Unblock/ }).waitFor();
    await ana.goto(`${BASE}/home`);
    assert.equal(await ana.getByText('Ben was here, settings scenario').count(), 0);
    await ana.getByText('Cat was here, settings scenario').waitFor();

    await ana.goto(`${BASE}/@st_cat`);
    await ana.getByRole('button', { name: /^Mute/ }).click();
    await ana.getByText('You mute st_cat.').waitFor();
    await ana.getByRole('button', { name: /^Unmute/ }).waitFor();
    await ana.goto(`${BASE}/home`);
    assert.equal(await ana.getByText('Cat was here, settings scenario').count(), 0);

    await ana.goto(`${BASE}/@st_cat`);
    await ana.getByRole('button', { name: /^Unmute/ }).click();
    await ana.getByRole('button', { name: /^Mute/ }).waitFor();
    await ana.goto(`${BASE}/home`);
    await ana.getByText('Cat was here, settings scenario').waitFor();
  });

  await step('settings, consent and people pages: screenshots, no horizontal scroll at 360 px, axe clean', async () => {
    const state = await anaCtx.storageState();
    const pages = [
      ['settings-profile', '/settings/profile'],
      ['settings-password', '/settings/password'],
      ['settings-sessions', '/settings/sessions'],
      ['settings-email', '/settings/email'],
      ['consent', authorizeUrl(clientId, OOB).slice(BASE.length)],
      ['followers', '/@st_ana/followers'],
      ['profile-blocked', '/@st_ben'],
    ];
    const contexts = [
      ['desktop', { viewport: DESKTOP, storageState: state }],
      ['phone', { viewport: PHONE, storageState: state, isMobile: true, hasTouch: true }],
      ['desktop-dark', { viewport: DESKTOP, storageState: state, colorScheme: 'dark' }],
    ];
    let minor = 0;
    for (const [label, options] of contexts) {
      const ctx = await browser.newContext(options);
      const page = await watchedPage(ctx, problems);
      for (const [name, p] of pages) {
        await page.goto(`${BASE}${p}`);
        if (label === 'phone') await noHorizontalScroll(page, `${name} (${label})`);
        if (label !== 'desktop-dark') await screenshot(page, name, label);
        minor += await axe(page, `${name} (${label})`);
      }
      await ctx.close();
    }
    const out = await browser.newContext({ viewport: PHONE, isMobile: true });
    const page = await watchedPage(out, problems);
    await page.goto(authorizeUrl(clientId, OOB));
    await noHorizontalScroll(page, 'consent sign-in (phone)');
    await screenshot(page, 'consent-sign-in', 'phone');
    minor += await axe(page, 'consent sign-in (phone)');
    await out.close();
    console.log(`     (axe: ${minor} moderate/minor findings in all)`);
  });

  await ana2Ctx.close();
  await anaCtx.close();
  await benCtx.close();
  await catCtx.close();
});
