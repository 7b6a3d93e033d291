// Groups and direct messages in the browser: a public group created, joined and posted
// in (live on the group page); a private group whose posts and members stay hidden from
// non-members (in the directory and by URL) until an admin accepts a join request; a
// conversation started, read, updated live in the open thread and answered, and never
// visible to a third person. Screenshots, axe and the 360 px check of every new page.
// Run by tests/web/run.sh (see lib.mjs).
import assert from 'node:assert/strict';
import {
  BASE, DESKTOP, PHONE, step, run, watchedPage, signUp, post, noHorizontalScroll, axe, screenshot,
} from './lib.mjs';

await run('groups', async (browser, problems) => {
  const contexts = {};
  const pages = {};
  for (const name of ['ana', 'ben', 'eve']) {
    contexts[name] = await browser.newContext({ viewport: DESKTOP });
    pages[name] = await watchedPage(contexts[name], problems);
  }
  const { ana, ben, eve } = pages;
  let publicGroup = null;
  let privateGroup = null;
  let anasThread = null;
  let bensThread = null;

  await step('three people sign up', async () => {
    await signUp(ana, 'gr_ana');
    await signUp(ben, 'gr_ben');
    await signUp(eve, 'gr_eve');
  });

  await step('Ana creates a public group from the directory', async () => {
    await ana.getByRole('link', { name: 'Groups' }).click();
    await ana.waitForURL(`${BASE}/groups`);
    await ana.getByLabel('Name').fill('Gardeners');
    await ana.getByLabel('Description').fill('Seeds, soil and <b>sun</b>');
    await ana.getByLabel(/^Public/).check();
    await ana.getByRole('button', { name: 'Create group' }).click();
    await ana.waitForURL(/\/groups\/\d+$/);
    publicGroup = new URL(ana.url()).pathname;
    await ana.getByRole('heading', { level: 1, name: 'Gardeners' }).waitFor();
    // The description is text, not markup.
    await ana.getByText('Seeds, soil and <b>sun</b>').waitFor();
    await ana.getByText('1 member', { exact: true }).waitFor();
    await ana.getByText('Owner', { exact: true }).waitFor();
  });

  await step('Ben joins it and posts; the post shows on the group page, live for Ana', async () => {
    await ben.goto(`${BASE}/groups`);
    await ben.getByRole('link', { name: 'Gardeners' }).click();
    await ben.waitForURL(`${BASE}${publicGroup}`);
    assert.equal(await ben.locator('form[data-composer]').count(), 0, 'no composer before joining');
    await ben.getByRole('button', { name: 'Join group' }).click();
    await ben.getByRole('button', { name: 'Leave group' }).waitFor();
    await ben.getByText('2 members').waitFor();
    await ana.evaluate(() => { window.sameDocument = true; });
    await post(ben, 'Tomatoes are up in the garden');
    await ben.waitForURL(`${BASE}${publicGroup}`);
    const mine = ben.locator('[data-feed] article', { hasText: 'Tomatoes are up' });
    await mine.waitFor();
    assert.equal(await mine.locator('.audience').textContent(), 'Group');
    // Ana's group page was open all along: the post waits behind the new-posts bar.
    const bar = ana.getByRole('button', { name: 'Show 1 new post' });
    await bar.waitFor({ timeout: 10000 });
    await bar.click();
    await ana.locator('[data-feed] article', { hasText: 'Tomatoes are up' }).waitFor();
    assert.equal(await ana.evaluate(() => window.sameDocument), true, 'no reload happened');
  });

  await step('Ana creates a private group and posts in it', async () => {
    await ana.goto(`${BASE}/groups`);
    await ana.getByLabel('Name').fill('Board');
    await ana.getByLabel(/^Private/).check();
    await ana.getByRole('button', { name: 'Create group' }).click();
    await ana.waitForURL(/\/groups\/\d+$/);
    privateGroup = new URL(ana.url()).pathname;
    await ana.getByText('Private group', { exact: true }).waitFor();
    await post(ana, 'Board-only secret plans');
    await ana.locator('[data-feed] article', { hasText: 'secret plans' }).waitFor();
  });

  await step('non-members see neither its posts nor its members: directory, URL, members page', async () => {
    for (const page of [ben, eve]) {
      await page.goto(`${BASE}/groups`);
      await page.getByRole('link', { name: 'Gardeners' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Board' }).count(), 0, 'not in the directory');
      await page.goto(`${BASE}${privateGroup}`);
      await page.getByRole('heading', { level: 1, name: 'Board' }).waitFor();
      await page.getByRole('button', { name: 'Request to join' }).waitFor();
      const text = await page.locator('main').textContent();
      assert.ok(!text.includes('secret plans'), 'no posts');
      assert.ok(!text.includes('gr_ana'), 'no members');
      assert.equal(await page.getByRole('link', { name: /^Members/ }).count(), 0);
      const r = await page.goto(`${BASE}${privateGroup}/members`);
      assert.equal(r.status(), 403);
      assert.ok(!(await page.locator('main').textContent()).includes('gr_ana'));
    }
    // Signed out, the private group does not exist.
    const outsider = await browser.newContext({ viewport: DESKTOP });
    const page = await watchedPage(outsider, problems);
    const r = await page.goto(`${BASE}${privateGroup}`);
    assert.equal(r.status(), 404);
    await outsider.close();
  });

  await step('Ben asks to join, Ana accepts, Ben reads the posts; Eve still cannot', async () => {
    await ben.goto(`${BASE}${privateGroup}`);
    await ben.getByRole('button', { name: 'Request to join' }).click();
    await ben.getByText('Requested: waiting for an admin').waitFor();
    await ben.getByRole('button', { name: 'Withdraw request' }).waitFor();
    assert.ok(!(await ben.locator('main').textContent()).includes('secret plans'));
    await ana.goto(`${BASE}${privateGroup}`);
    await ana.getByRole('link', { name: 'Members and join requests' }).click();
    await ana.waitForURL(`${BASE}${privateGroup}/members`);
    const request = ana.locator('#requests li', { hasText: 'gr_ben' });
    await request.waitFor();
    await request.getByRole('button', { name: /^Accept/ }).click();
    await ana.getByText('No one is waiting to join.').waitFor();
    await ana.locator('li', { hasText: '@gr_ben' }).locator('.role', { hasText: /^Member$/ }).waitFor();
    await ben.goto(`${BASE}${privateGroup}`);
    await ben.locator('[data-feed] article', { hasText: 'Board-only secret plans' }).waitFor();
    await ben.goto(`${BASE}/groups`);
    await ben.getByRole('link', { name: 'Board' }).waitFor();
    await eve.goto(`${BASE}${privateGroup}`);
    assert.ok(!(await eve.locator('main').textContent()).includes('secret plans'));
  });

  await step('Ana starts a conversation with Ben', async () => {
    await ana.getByRole('link', { name: 'Messages' }).click();
    await ana.waitForURL(`${BASE}/messages`);
    await ana.getByLabel('To', { exact: true }).fill('@gr_ben');
    await ana.getByLabel('Message').fill('Lunch at noon?');
    // The counter counts the names the message starts with, as the server does.
    assert.equal(await ana.locator('[data-count]').getAttribute('data-left'), String(140 - 8 - 14));
    await ana.getByRole('button', { name: 'Send' }).click();
    await ana.waitForURL(/\/messages\/\d+$/);
    anasThread = new URL(ana.url()).pathname;
    await ana.getByRole('heading', { level: 1, name: 'Conversation with gr_ben' }).waitFor();
    await ana.locator('[data-messages] article', { hasText: 'Lunch at noon?' }).waitFor();
  });

  await step('Ben sees it unread in his list and opens it', async () => {
    await ben.goto(`${BASE}/messages`);
    const item = ben.locator('.conversation-item', { hasText: 'Lunch at noon?' });
    await item.getByText('Unread').waitFor();
    await item.getByRole('link', { name: 'gr_ana', exact: true }).click();
    await ben.waitForURL(/\/messages\/\d+$/);
    bensThread = new URL(ben.url()).pathname;
    await ben.locator('[data-messages] article', { hasText: 'Lunch at noon?' }).waitFor();
    assert.equal(await ben.getByLabel('Your reply').inputValue(), '@gr_ana ');
  });

  await step('Ana\'s next message arrives live in Ben\'s open thread; Ben replies', async () => {
    await ben.evaluate(() => { window.sameDocument = true; });
    await ana.getByLabel('Your reply').fill('@gr_ben Or at one?');
    await ana.getByRole('button', { name: 'Reply', exact: true }).click();
    await ana.waitForURL(`${BASE}${anasThread}`);
    const arrived = ben.locator('[data-messages] article', { hasText: 'Or at one?' });
    await arrived.waitFor({ timeout: 10000 });
    assert.equal(await ben.evaluate(() => window.sameDocument), true, 'no reload happened');
    // Oldest first: the new message is at the bottom, and announced.
    assert.equal(await ben.locator('[data-messages] article').last().textContent().then((t) => t.includes('Or at one?')), true);
    await ben.locator('[data-new-message]').filter({ hasText: 'New message from gr_ana' }).waitFor();
    await ben.getByLabel('Your reply').fill('@gr_ana Noon works');
    await ben.getByRole('button', { name: 'Reply', exact: true }).click();
    await ben.waitForURL(`${BASE}${bensThread}`);
    await ben.locator('[data-messages] article', { hasText: 'Noon works' }).waitFor();
    // Ana's thread is open too, and gets the answer live.
    await ana.locator('[data-messages] article', { hasText: 'Noon works' }).waitFor({ timeout: 10000 });
    // Both had the thread open: neither list calls it unread.
    for (const page of [ana, ben]) {
      await page.goto(`${BASE}/messages`);
      const item = page.locator('.conversation-item', { hasText: 'Noon works' });
      await item.waitFor();
      assert.equal(await item.getByText('Unread').count(), 0);
    }
  });

  await step('Eve never sees the conversation: not in her list, not found by URL', async () => {
    await eve.goto(`${BASE}/messages`);
    await eve.getByText('No conversations yet').waitFor();
    for (const thread of [anasThread, bensThread]) {
      const r = await eve.goto(`${BASE}${thread}`);
      assert.equal(r.status(), 404);
      const text = await eve.locator('body').textContent();
      assert.ok(!text.includes('Lunch') && !text.includes('Noon works'));
    }
  });

  await step('group and message pages: screenshots, no horizontal scroll at 360 px, axe clean', async () => {
    const state = await contexts.ana.storageState();
    const shots = [
      ['groups', '/groups'],
      ['group', privateGroup],
      ['group-public', publicGroup],
      ['group-members', `${privateGroup}/members`],
      ['messages', '/messages'],
      ['conversation', anasThread],
    ];
    let minor = 0;
    for (const [label, options] of [
      ['desktop', { viewport: DESKTOP }],
      ['phone', { viewport: PHONE, isMobile: true, hasTouch: true }],
      ['desktop-dark', { viewport: DESKTOP, colorScheme: 'dark' }],
      ['phone-dark', { viewport: PHONE, isMobile: true, colorScheme: 'dark' }],
    ]) {
      const ctx = await browser.newContext({ ...options, storageState: state });
      const page = await watchedPage(ctx, problems);
      for (const [name, p] of shots) {
        await page.goto(`${BASE}${p}`);
        if (label.startsWith('phone')) await noHorizontalScroll(page, `${name} (${label})`);
        await screenshot(page, name, label);
        if (label !== 'phone-dark') minor += await axe(page, `${name} (${label})`);
      }
      await ctx.close();
    }
    console.log(`     (axe: ${minor} moderate/minor findings in all)`);
  });

  for (const ctx of Object.values(contexts)) await ctx.close();
});
