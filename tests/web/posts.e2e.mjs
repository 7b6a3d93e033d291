// Browser scenario of what one does with posts: like, repost and bookmark (optimistic with
// JavaScript, plain forms without), errors rolling back, reposts in a follower's home,
// the bookmarks page, lists, following a hashtag, infinite scroll, and screenshots plus
// accessibility checks of the new pages. Run by tests/web/run.sh (see lib.mjs).
//
// Three people (po_ana, po_ben, po_cy): Ben follows Ana, Cy follows Ben.
import assert from 'node:assert/strict';
import {
  BASE, DESKTOP, PHONE, step, run, watchedPage, signUp, post, noHorizontalScroll, axe, screenshot,
} from './lib.mjs';


await run('posts', async (browser, problems) => {
  const anaCtx = await browser.newContext({ viewport: DESKTOP });
  const benCtx = await browser.newContext({ viewport: DESKTOP });
  const cyCtx = await browser.newContext({ viewport: DESKTOP });
  const ana = await watchedPage(anaCtx, problems);
  const ben = await watchedPage(benCtx, problems);
  const cy = await watchedPage(cyCtx, problems);
  let postId = null;
  let minorAxe = 0;
  let listUrl = null;

  const action = (page, kind) => page.locator(`article#post-${postId} form[data-act="${kind}"] button`).first();
  const count = async (page, kind) => Number(await action(page, kind).locator('[data-n]').textContent());

  await step('setup: Ana posts; Ben follows Ana; Cy follows Ben', async () => {
    await signUp(ana, 'po_ana');
    await post(ana, 'po: a post worth liking #poflag');
    const article = ana.locator('[data-feed] article', { hasText: 'a post worth liking' });
    await article.waitFor();
    postId = await article.getAttribute('data-post-id');
    for (const [page, name, follows] of [[ben, 'po_ben', 'po_ana'], [cy, 'po_cy', 'po_ben']]) {
      await signUp(page, name);
      await page.goto(`${BASE}/@${follows}`);
      await page.getByRole('button', { name: /^Follow/ }).click();
      await page.getByRole('button', { name: /^Unfollow/ }).waitFor();
    }
  });

  await step('with JS: like, repost and bookmark flip at once, before the server answers', async () => {
    await ben.goto(`${BASE}/home`);
    for (const kind of ['favourite', 'reblog', 'bookmark']) {
      let release;
      const held = new Promise((r) => { release = r; });
      const pattern = `**/statuses/${postId}/${kind}`;
      await ben.route(pattern, async (route) => { await held; await route.continue(); });
      const button = action(ben, kind);
      assert.equal(await button.getAttribute('aria-pressed'), 'false', kind);
      const answered = ben.waitForResponse((r) => r.url().endsWith(`/statuses/${postId}/${kind}`));
      await button.click();
      // The request is still held: the page already shows the new state.
      assert.equal(await button.getAttribute('aria-pressed'), 'true', `${kind} flipped before the answer`);
      if (kind !== 'bookmark') assert.equal(await count(ben, kind), 1, `${kind} count moved at once`);
      release();
      assert.equal((await answered).status(), 200);
      await ben.unroute(pattern);
      assert.equal(await button.getAttribute('aria-pressed'), 'true');
      assert.ok(ben.url().endsWith('/home'), 'no navigation');
    }
    await ben.reload();
    for (const kind of ['favourite', 'reblog', 'bookmark']) {
      assert.equal(await action(ben, kind).getAttribute('aria-pressed'), 'true', `${kind} after reload`);
    }
    assert.equal(await count(ben, 'favourite'), 1);
    assert.equal(await count(ben, 'reblog'), 1);
  });

  await step('a failed request rolls back and says so in a live region', async () => {
    await ben.route(`**/statuses/${postId}/unfavourite`, (route) => route.abort());
    const button = action(ben, 'favourite');
    await button.click();
    await ben.locator('[data-flash]').filter({ hasText: /Could not undo the like/ }).waitFor();
    assert.equal(await button.getAttribute('aria-pressed'), 'true', 'back to liked');
    assert.equal(await count(ben, 'favourite'), 1, 'count back');
    assert.equal(await ben.locator('[data-flash]').getAttribute('aria-live'), 'assertive');
    await ben.unroute(`**/statuses/${postId}/unfavourite`);
    await ben.reload();
    assert.equal(await action(ben, 'favourite').getAttribute('aria-pressed'), 'true', 'still liked on the server');
  });

  await step('the repost shows in the follower\'s home as "po_ben reposted"', async () => {
    await cy.goto(`${BASE}/home`);
    const article = cy.locator('[data-feed] article', { hasText: 'a post worth liking' });
    await article.waitFor();
    assert.match(await article.locator('.reposted').innerText(), /po_ben reposted/);
  });

  await step('without JS: the forms like and unlike, back at the post', async () => {
    const state = await anaCtx.storageState();
    const ctx = await browser.newContext({ viewport: DESKTOP, storageState: state, javaScriptEnabled: false });
    const page = await watchedPage(ctx, problems);
    await page.goto(`${BASE}/public`);
    assert.equal(await count(page, 'favourite'), 1);
    await action(page, 'favourite').click();
    await page.waitForURL(`${BASE}/public#post-${postId}`);
    assert.equal(await action(page, 'favourite').getAttribute('aria-pressed'), 'true');
    assert.equal(await count(page, 'favourite'), 2);
    await action(page, 'bookmark').click();
    await page.waitForURL(`${BASE}/public#post-${postId}`);
    assert.equal(await action(page, 'bookmark').getAttribute('aria-pressed'), 'true');
    await action(page, 'favourite').click();
    await page.waitForLoadState('domcontentloaded');
    assert.equal(await action(page, 'favourite').getAttribute('aria-pressed'), 'false');
    assert.equal(await count(page, 'favourite'), 1);
    await ctx.close();
  });

  await step('bookmarks page lists the bookmark (and only the owner\'s)', async () => {
    await ben.getByRole('link', { name: 'Bookmarks' }).click();
    await ben.waitForURL(`${BASE}/bookmarks`);
    await ben.locator('article', { hasText: 'a post worth liking' }).waitFor();
    assert.equal(await ben.getByRole('link', { name: 'Bookmarks' }).getAttribute('aria-current'), 'page');
    await cy.goto(`${BASE}/bookmarks`);
    await cy.getByText('No bookmarks yet').waitFor();
  });

  await step('lists: create, add a member, see their post, remove, rename, delete', async () => {
    await ben.getByRole('link', { name: 'Lists' }).click();
    await ben.waitForURL(`${BASE}/lists`);
    await ben.getByLabel('New list').fill('po team');
    await ben.getByRole('button', { name: 'Create list' }).click();
    await ben.waitForURL(/\/lists\/\d+$/);
    listUrl = ben.url();
    await ben.getByRole('heading', { name: 'po team', level: 1 }).waitFor();
    // Someone not followed is refused with the reason.
    await ben.getByLabel('Add someone you follow').fill('@po_cy');
    await ben.getByRole('button', { name: 'Add', exact: true }).click();
    await ben.getByRole('alert').filter({ hasText: 'you can only add accounts you follow' }).waitFor();
    await ben.getByLabel('Add someone you follow').fill('@po_ana');
    await ben.getByRole('button', { name: 'Add', exact: true }).click();
    await ben.waitForURL(`${listUrl}#members`);
    await ben.locator('.members').getByText('@po_ana').waitFor();
    await ben.locator('[data-feed] article', { hasText: 'a post worth liking' }).waitFor();
    await ben.getByRole('button', { name: 'Remove po_ana from the list' }).click();
    await ben.getByText('Nobody in this list yet.').waitFor();
    await ben.goto(`${BASE}/lists`);
    await ben.getByText('Rename or delete').click();
    await ben.getByLabel('New title for po team').fill('po crew');
    await ben.getByRole('button', { name: 'Rename' }).click();
    await ben.getByRole('link', { name: 'po crew' }).waitFor();
    // Back in, for the screenshots of a list with a member.
    await ben.goto(listUrl);
    await ben.getByLabel('Add someone you follow').fill('po_ana');
    await ben.getByRole('button', { name: 'Add', exact: true }).click();
    await ben.locator('.members').getByText('@po_ana').waitFor();
  });

  await step('hashtag page: follow and unfollow the tag', async () => {
    await ben.goto(`${BASE}/tags/poflag`);
    await ben.getByRole('button', { name: 'Follow #poflag' }).click();
    await ben.getByRole('button', { name: 'Unfollow #poflag' }).waitFor();
    await ben.getByText('You follow this hashtag').waitFor();
  });

  await step('infinite scroll: the next page is appended, in order, without repeats', async () => {
    await ana.goto(`${BASE}/home`);
    await ana.evaluate(async () => {
      const csrf = document.querySelector('input[name="csrf"]').value;
      for (let i = 1; i <= 24; i++) {
        const body = new URLSearchParams({ csrf, status: `po scroll ${i}`, visibility: 'public' });
        const r = await fetch('/statuses', { method: 'POST', body, credentials: 'same-origin' });
        if (!r.ok) throw new Error(`post ${i}: ${r.status}`);
      }
    });
    await ana.goto(`${BASE}/@po_ana`);
    const articles = ana.locator('[data-feed] > article');
    assert.equal(await articles.count(), 20);
    await ana.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await ana.waitForFunction(() => document.querySelectorAll('[data-feed] > article').length > 20);
    await ana.locator('a[data-older]').waitFor({ state: 'detached' });
    const ids = await articles.evaluateAll((els) => els.map((e) => e.dataset.entryId));
    assert.equal(ids.length, 25, 'all of Ana\'s 25 posts');
    assert.equal(new Set(ids).size, ids.length, 'no repeats');
    const sorted = [...ids].sort((a, b) => (BigInt(b) > BigInt(a) ? 1 : -1));
    assert.deepEqual(ids, sorted, 'newest first');
    assert.equal(await ana.locator('[data-feed] > article').last().locator('.content').innerText(), 'po: a post worth liking #poflag');
    // The appended posts have working actions.
    const last = ana.locator('[data-feed] > article').nth(22).locator('form[data-act="favourite"] button');
    await last.click();
    await ana.waitForFunction((el) => el.getAttribute('aria-pressed') === 'true', await last.elementHandle());
  });

  await step('mention autocomplete, keyboard only: arrows, Enter and Tab pick, Escape closes', async () => {
    await ben.goto(`${BASE}/home`);
    const area = ben.getByLabel('What’s new?');
    let found = false;
    for (let i = 0; i < 20 && !found; i++) {
      await ben.keyboard.press('Tab');
      found = await ben.evaluate(() => document.activeElement?.id === 'composer-text');
    }
    assert.ok(found, 'the composer is reachable with Tab');
    await ben.keyboard.type('Hi @po_a');
    const listbox = ben.getByRole('listbox', { name: 'People to mention' });
    await listbox.getByRole('option', { name: /po_ana/ }).waitFor();
    assert.equal(await area.getAttribute('aria-activedescendant'), null, 'nothing chosen yet');
    await ben.keyboard.press('ArrowDown');
    const activeId = await area.getAttribute('aria-activedescendant');
    assert.ok(activeId);
    assert.equal(await ben.locator(`[id="${activeId}"]`).getAttribute('aria-selected'), 'true');
    minorAxe += await axe(ben, 'composer with the mention list open');
    await ben.keyboard.press('Enter');
    assert.equal(await area.inputValue(), 'Hi @po_ana ');
    assert.equal(await listbox.isHidden(), true);
    await ben.keyboard.type('and @po_c');
    await listbox.getByRole('option', { name: /po_cy/ }).waitFor();
    await ben.keyboard.press('ArrowDown');
    await ben.keyboard.press('Tab');
    assert.equal(await area.inputValue(), 'Hi @po_ana and @po_cy ');
    assert.equal(await ben.evaluate(() => document.activeElement?.id), 'composer-text', 'Tab picked, focus stayed');
    await ben.keyboard.type('@po_');
    await listbox.getByRole('option').first().waitFor();
    await ben.keyboard.press('Escape');
    assert.equal(await listbox.isHidden(), true);
    await ben.keyboard.press('Backspace');
    await ben.keyboard.press('Backspace');
    await ben.keyboard.press('Backspace');
    await ben.keyboard.press('Backspace');
    await ben.keyboard.type('hello!');
    await ben.keyboard.press('Control+Enter');
    await ben.waitForURL(`${BASE}/home`);
    const mine = ben.locator('[data-feed] article', { hasText: 'and @po_cy hello!' }).first();
    await mine.waitFor();
    assert.equal(await mine.locator('.content a', { hasText: 'po_ana' }).count(), 1, 'the mention is a link');
  });

  await step('screenshots, no horizontal scroll at 360 px, axe clean: bookmarks, lists, list, hashtag', async () => {
    const state = await benCtx.storageState();
    const pages = [
      ['bookmarks', '/bookmarks'],
      ['lists', '/lists'],
      ['list', new URL(listUrl).pathname],
      ['hashtag', '/tags/poflag'],
    ];
    let minor = minorAxe;
    for (const [label, options] of [
      ['desktop', { viewport: DESKTOP }],
      ['phone', { viewport: PHONE, isMobile: true, hasTouch: true }],
      ['desktop-dark', { viewport: DESKTOP, colorScheme: 'dark' }],
    ]) {
      const ctx = await browser.newContext({ ...options, storageState: state });
      const page = await watchedPage(ctx, problems);
      for (const [name, p] of pages) {
        await page.goto(`${BASE}${p}`);
        if (label === 'phone') await noHorizontalScroll(page, `${name} (${label})`);
        if (label !== 'desktop-dark') await screenshot(page, `posts-${name}`, label);
        minor += await axe(page, `${name} (${label})`);
      }
      await ctx.close();
    }
    console.log(`     (axe: ${minor} moderate/minor findings in all)`);
  });

  await step('lists: delete', async () => {
    await ben.goto(`${BASE}/lists`);
    await ben.getByText('Rename or delete').click();
    await ben.getByRole('button', { name: 'Delete the list po crew' }).click();
    await ben.getByText('No lists yet.').waitFor();
  });

  await anaCtx.close();
  await benCtx.close();
  await cyCtx.close();
});
