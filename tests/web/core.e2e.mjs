// The core browser scenario: sign-up, posting, following, live delivery, replies,
// notifications, the composer's counter, safe rendering, keyboard use, and screenshots
// plus accessibility checks of the main pages. Run by tests/web/run.sh (see lib.mjs).
//
// Two people (Ana, Ben) in their own browser contexts; the steps build on each other as
// people would use the network, and each checks what it claims.
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  BASE, SHOTS, DESKTOP, PHONE, step, run, watchedPage, signUp, post, noHorizontalScroll, axe,
} from './lib.mjs';

await run('core', async (browser, problems) => {
  const anaCtx = await browser.newContext({ viewport: DESKTOP });
  const benCtx = await browser.newContext({ viewport: DESKTOP });
  const ana = await watchedPage(anaCtx, problems);
  const ben = await watchedPage(benCtx, problems);
  let liveId = null;

  await step('Ana signs up and posts', async () => {
    await signUp(ana, 'ana');
    await post(ana, 'Hello from Ana, first post on #starling');
    await ana.getByText('Hello from Ana, first post').waitFor();
    assert.equal(await ana.locator('[data-feed] article').count(), 1);
  });

  await step('Ben signs up and follows Ana; her post is in his home', async () => {
    await signUp(ben, 'ben');
    await ben.goto(`${BASE}/@ana`);
    await ben.getByRole('button', { name: /^Follow/ }).click();
    await ben.getByRole('button', { name: /^Unfollow/ }).waitFor();
    await ben.goto(`${BASE}/home`);
    await ben.getByText('Hello from Ana, first post').waitFor();
  });

  await step('Ana sees the follow notification arrive live', async () => {
    // Ana's home was open all along, with no reload since.
    await ana.locator('[data-unread-count]').filter({ hasText: /^1$/ }).waitFor({ timeout: 10000 });
    assert.equal(await ana.locator('[data-unread]').isVisible(), true);
  });

  await step('Ben sees Ana\'s next post appear live behind a "new posts" bar', async () => {
    await ben.evaluate(() => { window.sameDocument = true; });
    await post(ana, 'Second post: does this arrive live?');
    const bar = ben.getByRole('button', { name: 'Show 1 new post' });
    await bar.waitFor({ timeout: 10000 });
    // Reading is not disturbed: the post waits until asked for.
    assert.equal(await ben.getByText('Second post: does this arrive live?').count(), 0);
    await bar.click();
    const article = ben.locator('article', { hasText: 'Second post: does this arrive live?' });
    await article.waitFor();
    assert.equal(await ben.evaluate(() => window.sameDocument), true, 'no reload happened');
    assert.equal(await bar.isHidden(), true);
    liveId = await article.getAttribute('data-post-id');
    assert.ok(liveId);
    // The revealed post is the newest, on top.
    assert.equal(await ben.locator('[data-feed] article').first().getAttribute('data-post-id'), liveId);
  });

  await step('Ben replies; Ana\'s notification count updates live', async () => {
    await ben.locator(`#post-${liveId}`).getByRole('link', { name: /^Reply/ }).click();
    await ben.waitForURL(`${BASE}/@ana/${liveId}#reply`);
    const box = ben.getByLabel('Your reply');
    assert.equal(await box.inputValue(), '@ana ', 'the reply mentions the author');
    await box.fill('@ana It did, instantly!');
    await ben.getByRole('button', { name: 'Reply', exact: true }).click();
    await ben.waitForURL(`${BASE}/@ana/${liveId}`);
    await ben.locator('.thread-replies article', { hasText: 'It did, instantly!' }).waitFor();
    await ana.locator('[data-unread-count]').filter({ hasText: /^2$/ }).waitFor({ timeout: 10000 });
  });

  await step('Ana reads her notifications; the count clears', async () => {
    await ana.getByRole('link', { name: /^Notifications/ }).click();
    await ana.waitForURL(`${BASE}/notifications`);
    await ana.getByText('mentioned you').waitFor();
    await ana.getByText('followed you').waitFor();
    assert.equal(await ana.locator('[data-unread]').isHidden(), true);
    await ana.goto(`${BASE}/home`);
  });

  await step('the counter stops a 141-character post; the server agrees', async () => {
    const box = ana.getByLabel('What’s new?');
    const send = ana.getByRole('button', { name: 'Post', exact: true });
    const count = ana.locator('[data-count]');
    // Letters, a space and one URL of 60 characters, which counts 23 as the server counts.
    const url = `https://example.com/${'x'.repeat(40)}`;
    const exact = `${'a'.repeat(116)} ${url}`; // 116 + 1 + 23 = 140
    const over = `${'a'.repeat(117)} ${url}`; // 141
    await box.fill(exact);
    assert.equal(await count.getAttribute('data-left'), '0');
    assert.equal(await send.isEnabled(), true, '140 may be sent');
    await box.fill(over);
    assert.equal(await count.getAttribute('data-left'), '-1');
    assert.match(await count.textContent(), /1 character over the limit/);
    assert.equal(await count.evaluate((el) => el.classList.contains('over')), true);
    assert.equal(await send.isDisabled(), true);
    // Neither the button nor Ctrl+Enter sends it.
    await box.press('Control+Enter');
    await ana.waitForTimeout(300);
    assert.equal(ana.url(), `${BASE}/home`);
    // Forced past the script, the server refuses it with the same count.
    await send.evaluate((b) => { b.disabled = false; });
    await send.click();
    await ana.getByRole('alert').filter({ hasText: 'text is too long: 141 characters, the limit is 140' }).waitFor();
    assert.equal(await ana.getByLabel('What’s new?').inputValue(), over, 'the text is kept');
    await ana.goto(`${BASE}/home`);
  });

  await step('the counter agrees with the server on emoji, combining marks and URLs', async () => {
    const samples = [
      '👨‍👩‍👧‍👦 family, 🇫🇷 flag, 👍🏽 tone, #️⃣ keycap, ❤️ heart, 🏳️‍🌈',
      'Cafe\u0301 nai\u0308ve Z\u0351\u0352\u0353algo e\u0301\u0301\u0301 ก้ำ 각',
      `read https://example.com/${'long/'.repeat(30)}?q=1&r=2#frag now`,
      'two links https://a.example.org/x. and http://b.example.com/(y) end',
      '(https://example.com/a_(b)) and "https://example.com/q" and \'https://example.com/s\'',
      'HTTPS://EXAMPLE.COM/UP and ftp://example.com/file and javascript:alert(1)',
      'ports http://127.0.0.1:8080/x http://localhost:3000 https://a.b https://ex.com:443/p',
      'user@example.com https://user:pw@example.com/p?x=[1] https://ex.com/{a}}',
      'no scheme example.com www.example.org //example.net 1http://x.com',
      'mixed 日本語テキスト https://例え.テスト/パス 😀😀 \r\n line two\n\nthree',
      'trailing https://example.com/path/ https://example.com/end! https://example.com/q?',
      'a:// x:// http:// https://',
    ];
    const results = await ana.evaluate(async (texts) => {
      const csrf = document.querySelector('form[data-composer] input[name="csrf"]').value;
      const pad = `${'a'.repeat(141)} `; // 142: forces a refusal, whose message tells the count
      const out = [];
      for (const text of texts) {
        const body = new URLSearchParams({ csrf, status: pad + text, visibility: 'public', return_to: '/home' });
        const r = await fetch('/statuses', { method: 'POST', body, redirect: 'manual' });
        const html = await r.text();
        const m = html.match(/text is too long: (\d+) characters/);
        out.push({ text, browser: window.starlingPostLength(text), server: m ? Number(m[1]) - 142 : null, status: r.status });
      }
      return out;
    }, samples);
    for (const r of results) {
      assert.equal(r.status, 422, `server refused ${JSON.stringify(r.text)}`);
      assert.equal(r.browser, r.server, `count of ${JSON.stringify(r.text)}`);
    }
    // And in the composer itself, for one of them.
    const box = ana.getByLabel('What’s new?');
    await box.fill(samples[0]);
    assert.equal(Number(await ana.locator('[data-count]').getAttribute('data-left')), 140 - results[0].server);
  });

  await step('a post of exactly 140 with emoji, combining marks and a long URL is accepted', async () => {
    const text = `${'👍🏽'.repeat(20)} ${'e\u0301'.repeat(20)} https://example.com/${'z'.repeat(100)} ${'b'.repeat(74)}`;
    const box = ana.getByLabel('What’s new?');
    await box.fill(text);
    assert.equal(await ana.locator('[data-count]').getAttribute('data-left'), '0');
    await ana.getByRole('button', { name: 'Post', exact: true }).click();
    await ana.waitForURL(`${BASE}/home`);
    await ana.locator('[data-feed] article').first().filter({ hasText: 'zzzz' }).waitFor();
  });

  await step('markup and javascript: links in a post render as text, also when arriving live', async () => {
    const evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> <a href="javascript:window.pwned=3">x</a> javascript:window.pwned=4';
    await ben.goto(`${BASE}/home`);
    await post(ana, evil);
    const mine = ana.locator('[data-feed] article').first();
    await mine.waitFor();
    assert.ok((await mine.locator('.content').textContent()).includes('<script>window.pwned=1</script>'));
    const bar = ben.getByRole('button', { name: /^Show 1 new post/ });
    await bar.waitFor({ timeout: 10000 });
    await bar.click();
    for (const page of [ana, ben]) {
      const content = page.locator('[data-feed] article').first().locator('.content');
      assert.equal(await content.locator('script, img, [onerror]').count(), 0);
      assert.equal(await content.locator('a[href^="javascript:"]').count(), 0);
      await page.waitForTimeout(100);
      assert.equal(await page.evaluate(() => window.pwned), undefined);
    }
  });

  await step('keyboard only: Tab to the composer, type, Ctrl+Enter posts', async () => {
    await ana.goto(`${BASE}/home`);
    await ana.keyboard.press('Tab');
    assert.equal(await ana.evaluate(() => document.activeElement.textContent), 'Skip to content');
    let found = false;
    for (let i = 0; i < 20 && !found; i++) {
      await ana.keyboard.press('Tab');
      found = await ana.evaluate(() => document.activeElement?.id === 'composer-text');
    }
    assert.ok(found, 'the composer is reachable with Tab');
    // Focus is visible where it lands.
    const outline = await ana.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none');
    await ana.keyboard.type('Typed and sent without a mouse');
    await ana.keyboard.press('Control+Enter');
    await ana.waitForURL(`${BASE}/home`);
    await ana.locator('[data-feed] article').first().filter({ hasText: 'Typed and sent without a mouse' }).waitFor();
    // Tab and Enter on the button work too.
    await ana.getByLabel('What’s new?').fill('Sent with Tab and Enter');
    await ana.keyboard.press('Tab'); // audience
    await ana.keyboard.press('Tab'); // Post
    assert.equal(await ana.evaluate(() => document.activeElement.textContent), 'Post');
    await ana.keyboard.press('Enter');
    await ana.locator('[data-feed] article').first().filter({ hasText: 'Sent with Tab and Enter' }).waitFor();
  });

  // A long unbroken word and URL, to test wrapping on a phone.
  await post(ana, `Wrapping test https://example.com/${'w'.repeat(90)} ${'Z'.repeat(60)}`);
  const state = await anaCtx.storageState();
  const pages = [
    ['home', '/home'],
    ['network', '/public'],
    ['thread', `/@ana/${liveId}`],
    ['profile', '/@ana'],
    ['notifications', '/notifications'],
  ];

  await step('main pages: screenshots, no horizontal scroll at 360 px, axe clean (light and dark)', async () => {
    const out = browser.newContext.bind(browser);
    const contexts = [
      ['desktop', await out({ viewport: DESKTOP, storageState: state })],
      ['phone', await out({ viewport: PHONE, storageState: state, isMobile: true, hasTouch: true })],
      ['desktop-dark', await out({ viewport: DESKTOP, storageState: state, colorScheme: 'dark' })],
      ['phone-dark', await out({ viewport: PHONE, storageState: state, colorScheme: 'dark', isMobile: true })],
    ];
    const signedOut = [
      ['desktop', await out({ viewport: DESKTOP })],
      ['phone', await out({ viewport: PHONE, isMobile: true })],
    ];
    let minor = 0;
    for (const [label, ctx] of contexts) {
      const page = await watchedPage(ctx, problems);
      for (const [name, p] of pages) {
        await page.goto(`${BASE}${p}`);
        if (label.startsWith('phone')) await noHorizontalScroll(page, `${name} (${label})`);
        await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true });
        if (label === 'desktop' || label === 'desktop-dark' || (label === 'phone' && name === 'home')) {
          minor += await axe(page, `${name} (${label})`);
        }
      }
      await ctx.close();
    }
    for (const [label, ctx] of signedOut) {
      const page = await watchedPage(ctx, problems);
      for (const [name, p] of [['sign-in', '/sign-in'], ['sign-up', '/sign-up'], ['network-signed-out', '/public']]) {
        await page.goto(`${BASE}${p}`);
        if (label === 'phone') await noHorizontalScroll(page, `${name} (${label})`);
        await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true });
        if (label === 'desktop') minor += await axe(page, name);
      }
      await ctx.close();
    }
    console.log(`     (axe: ${minor} moderate/minor findings in all)`);
  });

  await anaCtx.close();
  await benCtx.close();
});
