// Starling web UI: progressive enhancement only. Every page and form works without this
// file; it adds the live character counter, keyboard sending, live updates over
// Server-Sent Events and self-updating relative times. No dependencies, no build step.
'use strict';

(() => {
  // ---------------------------------------------------------------------------------
  // Post length, counted exactly as the server counts it (crates/domain/src/text):
  // extended grapheme clusters, and every http(s) URL weighs URL_WEIGHT. URLs are found
  // with the rules of the linkify crate the server uses (URLs with a scheme only: a ":"
  // followed by "//"), ported below function by function over code points, so that both
  // sides agree on where a URL starts and ends.
  // ---------------------------------------------------------------------------------
  const URL_WEIGHT = 23;
  const QUOTES = ['\'', '"'];
  const isAsciiAlpha = (c) => /^[A-Za-z]$/.test(c);
  const isDigit = (c) => c >= '0' && c <= '9';
  const cp = (c) => c.codePointAt(0);

  // linkify url.rs find_scheme_start: [start, quote] of the scheme ending at s's end.
  function findSchemeStart(s) {
    let first = null;
    let special = null;
    let quote = null;
    for (let i = s.length - 1; i >= 0; i--) {
      const c = s[i];
      if (isAsciiAlpha(c)) first = i;
      else if (isDigit(c)) special = i;
      else if (c === '+' || c === '-' || c === '.') { /* allowed inside a scheme */ }
      else if (c === '@') return [null, null];
      else if (QUOTES.includes(c)) { quote = c; break; }
      else break;
    }
    // "1abc://x" is not a URL starting at "abc".
    if (first !== null && special !== null && first > 0 && first - 1 === special) {
      return [null, quote];
    }
    return [first, quote];
  }

  // linkify domains.rs find_authority_end (IRI parsing on): index just past the
  // authority, or null when it is not a valid host.
  function findAuthorityEnd(s, userinfoAllowed, requireHost, portAllowed) {
    let end = 0;
    let maybeLastDot = null;
    let lastDot = null;
    let numberDots = 0;
    let dotAllowed = false;
    let hyphenAllowed = false;
    let allNumeric = true;
    let maybeHost = true;
    let hostEnded = false;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      let canBeLast;
      if (isAsciiAlpha(c) || cp(c) >= 0x80) {
        dotAllowed = true;
        hyphenAllowed = true;
        lastDot = maybeLastDot;
        allNumeric = false;
        if (hostEnded) maybeHost = false;
        canBeLast = !requireHost || !hostEnded;
      } else if (isDigit(c)) {
        dotAllowed = true;
        hyphenAllowed = true;
        if (lastDot !== maybeLastDot) {
          lastDot = maybeLastDot;
          numberDots += 1;
        }
        if (hostEnded) maybeHost = false;
        canBeLast = !requireHost || !hostEnded;
      } else if (c === '-') {
        if (!hyphenAllowed) maybeHost = false;
        dotAllowed = false;
        allNumeric = false;
        canBeLast = !requireHost;
      } else if (c === '.') {
        if (!dotAllowed) hostEnded = true;
        dotAllowed = false;
        hyphenAllowed = false;
        maybeLastDot = i;
        canBeLast = false;
      } else if (c === '_' || c === '~') {
        maybeHost = false;
        canBeLast = false;
      } else if ('!$&\'()*+,;='.includes(c)) {
        hostEnded = true;
        if (!userinfoAllowed && requireHost) break;
        canBeLast = false;
      } else if (c === ':') {
        if (!userinfoAllowed && !portAllowed) break;
        maybeLastDot = lastDot;
        canBeLast = false;
      } else if (c === '@') {
        if (!userinfoAllowed) return null;
        userinfoAllowed = false;
        maybeLastDot = null;
        lastDot = null;
        dotAllowed = false;
        hyphenAllowed = false;
        allNumeric = true;
        maybeHost = true;
        hostEnded = false;
        canBeLast = false;
      } else if (c === '/') {
        if (!requireHost) end = i;
        break;
      } else {
        break;
      }
      if (canBeLast) end = i + 1;
    }
    if (!requireHost) return end;
    if (!maybeHost) return null;
    if (allNumeric) {
      if (numberDots !== 3) return null;
    } else if (lastDot !== null) {
      // A top-level domain starts with two ASCII letters.
      const tld = s.slice(lastDot + 1);
      let letters = 0;
      for (const c of tld) {
        if (!isAsciiAlpha(c) || letters === 2) break;
        letters += 1;
      }
      if (letters < 2) return null;
    }
    return end;
  }

  // linkify url.rs find_url_end (IRI parsing on): how much of s (path, query, fragment)
  // belongs to the URL; trailing punctuation and unbalanced brackets do not.
  function findUrlEnd(s, quote) {
    let round = 0;
    let square = 0;
    let curly = 0;
    let singleQuote = false;
    let previousCanBeLast = true;
    let end = 0;
    if (s[0] !== '/' && s[0] !== '?') return 0;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      const n = cp(c);
      let canBeLast;
      if (n <= 0x1f || c === ' ' || c === '|' || c === '"' || c === '<' || c === '>' ||
          c === '`' || (n >= 0x7f && n <= 0x9f)) {
        break;
      } else if ('?!.,:;*'.includes(c)) {
        canBeLast = false;
      } else if (c === '/') {
        canBeLast = previousCanBeLast;
      } else if (c === '(') { round += 1; canBeLast = false; }
      else if (c === ')') { round -= 1; if (round < 0) break; canBeLast = true; }
      else if (c === '[') { square += 1; canBeLast = false; }
      else if (c === ']') { square -= 1; if (square < 0) break; canBeLast = true; }
      else if (c === '{') { curly += 1; canBeLast = false; }
      else if (c === '}') { curly -= 1; if (curly < 0) break; canBeLast = true; }
      else if (c === quote) { break; }
      else if (c === '\'') { singleQuote = !singleQuote; canBeLast = !singleQuote; }
      else { canBeLast = true; }
      if (canBeLast) end = i + 1;
      previousCanBeLast = canBeLast;
    }
    return end;
  }

  // linkify url.rs UrlScanner::scan at the ":" with index sep: [start, end] or null.
  function scanUrl(s, sep) {
    if (sep === 0) return null;
    if (s[sep + 1] !== '/' || s[sep + 2] !== '/') return null;
    const after = sep + 3;
    if (after >= s.length) return null;
    const [start, quote] = findSchemeStart(s.slice(0, sep));
    if (start === null) return null;
    const scheme = s.slice(start, sep).join('');
    const rest = s.slice(after);
    // Case-sensitive, as in linkify: "HTTP://…" is scanned as an unknown scheme.
    const requireHost = ['https', 'http', 'ftp', 'ssh'].includes(scheme);
    const afterAuthority = findAuthorityEnd(rest, true, requireHost, true);
    if (afterAuthority === null) return null;
    const end = findUrlEnd(rest.slice(afterAuthority), quote);
    if (afterAuthority === 0 && end === 0) return null;
    return [start, after + afterAuthority + end];
  }

  // The http(s) URLs of a text, as [start, end] code-point ranges (domain scan.rs url_ranges).
  function urlRanges(chars) {
    const ranges = [];
    let rewind = 0;
    for (;;) {
      const slice = chars.slice(rewind);
      let found = null;
      for (let i = slice.indexOf(':'); i !== -1; i = slice.indexOf(':', i + 1)) {
        found = scanUrl(slice, i);
        if (found) break;
      }
      if (!found) return ranges;
      const start = rewind + found[0];
      const end = rewind + found[1];
      rewind = end;
      const scheme = chars.slice(start, start + 8).join('').toLowerCase();
      if (scheme.startsWith('http://') || scheme.startsWith('https://')) ranges.push([start, end]);
    }
  }

  const segmenter = (typeof Intl !== 'undefined' && Intl.Segmenter)
    ? new Intl.Segmenter(undefined, { granularity: 'grapheme' })
    : null;
  function graphemes(text) {
    if (!segmenter) return Array.from(text).length;
    let n = 0;
    for (const _ of segmenter.segment(text)) n += 1;
    return n;
  }

  // domain length.rs post_length.
  function postLength(text) {
    const chars = Array.from(text);
    let count = 0;
    let pos = 0;
    for (const [start, end] of urlRanges(chars)) {
      count += graphemes(chars.slice(pos, start).join('')) + URL_WEIGHT;
      pos = end;
    }
    return count + graphemes(chars.slice(pos).join(''));
  }
  window.starlingPostLength = postLength;

  // ---------------------------------------------------------------------------------
  // The composer: live counter, send disabled past the limit, Ctrl/Cmd+Enter sends.
  // ---------------------------------------------------------------------------------
  function enhanceComposer(form) {
    const area = form.querySelector('textarea');
    const count = form.querySelector('[data-count]');
    const send = form.querySelector('[data-send]');
    if (!area || !count || !send) return;
    const max = Number(area.dataset.max) || 140;
    const update = () => {
      const used = postLength(area.value);
      const left = max - used;
      count.textContent = left >= 0
        ? `${left} ${left === 1 ? 'character' : 'characters'} left`
        : `${-left} ${left === -1 ? 'character' : 'characters'} over the limit`;
      count.classList.toggle('over', left < 0);
      count.dataset.left = String(left);
      send.disabled = left < 0 || area.value.trim() === '';
    };
    area.addEventListener('input', update);
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        if (!send.disabled) form.requestSubmit(send);
      }
    });
    form.addEventListener('submit', () => {
      // One click, one post: the button stays off until the next page.
      setTimeout(() => { send.disabled = true; }, 0);
    });
    update();
  }

  // ---------------------------------------------------------------------------------
  // Times: "5m" etc., kept fresh; the exact time in the reader's own time zone on hover.
  // ---------------------------------------------------------------------------------
  function relative(date) {
    const secs = Math.max(0, (Date.now() - date.getTime()) / 1000);
    if (secs < 60) return 'now';
    if (secs < 3600) return `${Math.floor(secs / 60)}m`;
    if (secs < 86400) return `${Math.floor(secs / 3600)}h`;
    if (secs < 604800) return `${Math.floor(secs / 86400)}d`;
    return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  }
  function refreshTimes(root) {
    for (const t of root.querySelectorAll('time[datetime]')) {
      const d = new Date(t.getAttribute('datetime'));
      if (Number.isNaN(d.getTime())) continue;
      t.textContent = relative(d);
      t.title = d.toLocaleString();
    }
  }

  // ---------------------------------------------------------------------------------
  // Live updates: new posts wait behind a "N new posts" button so reading is not
  // disturbed; the unread notification count updates in the header.
  // ---------------------------------------------------------------------------------
  function fragment(html) {
    const t = document.createElement('template');
    t.innerHTML = html; // server-rendered with the page's own template; post text escaped
    return t.content.firstElementChild;
  }

  function setUnread(n) {
    const badge = document.querySelector('[data-unread]');
    const label = document.querySelector('[data-unread-count]');
    if (!badge || !label) return;
    label.textContent = n >= 40 ? `${n}+` : String(n);
    badge.hidden = n === 0;
    const notice = document.querySelector('[data-new-notes]');
    if (notice && n > 0) notice.hidden = false;
  }

  function startLive(stream) {
    if (!('EventSource' in window)) return;
    const feed = document.querySelector('[data-feed]');
    const reveal = document.querySelector('[data-reveal]');
    // New posts only belong on the newest page of a timeline.
    const showsNewest = !new URLSearchParams(location.search).has('max_id');
    const pending = [];
    const known = (id) => document.getElementById(`post-${id}`) || pending.some((p) => p.id === id);
    const updateBar = () => {
      if (!reveal) return;
      reveal.hidden = pending.length === 0;
      reveal.textContent = pending.length === 1 ? 'Show 1 new post' : `Show ${pending.length} new posts`;
    };
    if (reveal && feed) {
      reveal.addEventListener('click', () => {
        let first = null;
        // pending is oldest first; each goes on top, so the newest ends up first.
        for (const p of pending) {
          const node = fragment(p.html);
          if (!node) continue;
          node.classList.add('fresh');
          feed.prepend(node);
          first = node;
        }
        pending.length = 0;
        document.querySelector('[data-empty]')?.remove();
        updateBar();
        refreshTimes(feed);
        if (first) {
          first.tabIndex = -1;
          first.focus();
        }
      });
    }
    // `since`: the newest post shown, so posts written while the stream opened still come.
    const newest = showsNewest ? feed?.querySelector('article[data-entry-id]')?.dataset.entryId : null;
    const since = newest ? `&since=${encodeURIComponent(newest)}` : '';
    const source = new EventSource(`/live?stream=${encodeURIComponent(stream)}${since}`);
    source.addEventListener('post', (e) => {
      if (!feed || !showsNewest) return;
      const post = JSON.parse(e.data);
      if (known(post.id)) return;
      pending.push(post);
      updateBar();
    });
    source.addEventListener('edit', (e) => {
      const post = JSON.parse(e.data);
      const old = document.getElementById(`post-${post.id}`);
      const node = fragment(post.html);
      if (old && node) {
        old.replaceWith(node);
        refreshTimes(node);
      }
    });
    source.addEventListener('delete', (e) => {
      document.getElementById(`post-${e.data}`)?.remove();
      const i = pending.findIndex((p) => p.id === e.data);
      if (i >= 0) { pending.splice(i, 1); updateBar(); }
    });
    source.addEventListener('unread', (e) => setUnread(Number(e.data) || 0));
  }

  // ---------------------------------------------------------------------------------
  // @mention autocomplete in the composer: typing "@ab" lists matching accounts (from
  // the session-authenticated /mentions) in a listbox under the text. The text area
  // keeps the focus; arrow keys move the active option (aria-activedescendant), Enter or
  // Tab picks it, Escape closes the list. Without this, one types the whole @name.
  // ---------------------------------------------------------------------------------
  let mentionSeq = 0;
  function enhanceMentions(area) {
    const n = ++mentionSeq;
    const list = document.createElement('ul');
    list.id = `mention-list-${n}`;
    list.className = 'mentions';
    list.setAttribute('role', 'listbox');
    list.setAttribute('aria-label', 'People to mention');
    list.hidden = true;
    const status = document.createElement('p');
    status.className = 'visually-hidden';
    status.setAttribute('role', 'status');
    area.after(list, status);
    area.setAttribute('aria-autocomplete', 'list');
    area.setAttribute('aria-controls', list.id);
    let items = [];
    let active = -1;
    let word = null; // [start, end] of the "@ab" being completed
    let timer = null;
    let pending = null;

    const close = () => {
      list.hidden = true;
      list.replaceChildren();
      items = [];
      active = -1;
      area.removeAttribute('aria-activedescendant');
    };
    const highlight = (i) => {
      active = i;
      for (const [j, li] of [...list.children].entries()) li.setAttribute('aria-selected', String(j === i));
      if (i >= 0) {
        area.setAttribute('aria-activedescendant', `${list.id}-${i}`);
        list.children[i].scrollIntoView({ block: 'nearest' });
      } else {
        area.removeAttribute('aria-activedescendant');
      }
    };
    const pick = (i) => {
      const who = items[i];
      if (!who || !word) return;
      const [start, end] = word;
      const insert = `@${who.username} `;
      area.value = area.value.slice(0, start) + insert + area.value.slice(end);
      const caret = start + insert.length;
      area.setSelectionRange(caret, caret);
      close();
      status.textContent = `@${who.username} added`;
      area.dispatchEvent(new Event('input', { bubbles: true }));
    };
    const show = (found) => {
      list.replaceChildren();
      items = found;
      for (const [i, who] of found.entries()) {
        const li = document.createElement('li');
        li.id = `${list.id}-${i}`;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', 'false');
        const name = document.createElement('span');
        name.className = 'mention-name';
        name.textContent = who.name;
        const handle = document.createElement('span');
        handle.className = 'handle';
        handle.textContent = ` @${who.username}`;
        li.append(name, handle);
        // mousedown, not click: picking must not take the focus from the text.
        li.addEventListener('mousedown', (e) => { e.preventDefault(); pick(i); });
        list.append(li);
      }
      list.hidden = found.length === 0;
      active = -1;
      area.removeAttribute('aria-activedescendant');
      status.textContent = found.length === 0 ? ''
        : `${found.length} ${found.length === 1 ? 'person matches' : 'people match'}; arrow keys to choose, Enter to pick`;
    };
    const lookup = () => {
      const caret = area.selectionStart;
      if (caret !== area.selectionEnd) { close(); return; }
      const m = /(^|[^\w@])@(\w{1,30})$/.exec(area.value.slice(0, caret));
      if (!m) { word = null; close(); return; }
      word = [caret - m[2].length - 1, caret];
      const q = m[2];
      clearTimeout(timer);
      timer = setTimeout(async () => {
        pending?.abort();
        pending = new AbortController();
        try {
          const res = await fetch(`/mentions?q=${encodeURIComponent(q)}`, {
            credentials: 'same-origin', headers: { Accept: 'application/json' }, signal: pending.signal,
          });
          if (!res.ok) { close(); return; }
          const found = await res.json();
          // Still the same word under the caret?
          if (word && area.value.slice(word[0] + 1, word[1]) === q) show(found);
        } catch (e) {
          if (e.name !== 'AbortError') close();
        }
      }, 150);
    };
    area.addEventListener('input', lookup);
    area.addEventListener('keydown', (e) => {
      if (list.hidden || items.length === 0) return;
      if (e.key === 'ArrowDown') {
        e.preventDefault();
        highlight((active + 1) % items.length);
      } else if (e.key === 'ArrowUp') {
        e.preventDefault();
        highlight(active <= 0 ? items.length - 1 : active - 1);
      } else if ((e.key === 'Enter' || e.key === 'Tab') && active >= 0 && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        e.stopImmediatePropagation();
        pick(active);
      } else if (e.key === 'Escape') {
        e.preventDefault();
        close();
      }
    });
    area.addEventListener('blur', () => setTimeout(close, 0));
  }
  // --- end of mention autocomplete ---

  // ---------------------------------------------------------------------------------
  // Post actions (like, repost, bookmark): optimistic. The button flips and the count
  // moves at once; the form goes with fetch, and the server's answer sets the real state.
  // On failure the button flips back and the message is read out. Without this, the
  // same forms post and redirect back.
  // ---------------------------------------------------------------------------------
  const VERBS = { favourite: 'like', reblog: 'repost', bookmark: 'bookmark' };
  let flashRegion = null;
  function flash(message) {
    if (!flashRegion) return;
    flashRegion.textContent = '';
    flashRegion.hidden = false;
    // A fresh text node after clearing, so screen readers announce a repeated message.
    setTimeout(() => { flashRegion.textContent = message; }, 30);
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => { flashRegion.hidden = true; flashRegion.textContent = ''; }, 8000);
  }

  function setMark(form, pressed, count) {
    const kind = form.dataset.act;
    const button = form.querySelector('button[aria-pressed]');
    const n = form.querySelector('[data-n]');
    if (button) button.setAttribute('aria-pressed', String(pressed));
    if (n && count !== undefined) n.textContent = String(Math.max(0, count));
    form.action = `/statuses/${form.dataset.post}/${pressed ? 'un' : ''}${kind}`;
  }

  // Every copy of the post on the page (say, the post and a repost of it) shows the same.
  const copies = (id, kind) => document.querySelectorAll(`form[data-act="${kind}"][data-post="${id}"]`);

  async function act(form) {
    const kind = form.dataset.act;
    const id = form.dataset.post;
    const button = form.querySelector('button[aria-pressed]');
    if (!button || form.dataset.busy) return;
    const was = button.getAttribute('aria-pressed') === 'true';
    const n = form.querySelector('[data-n]');
    const before = n ? Number(n.textContent) || 0 : undefined;
    const after = before === undefined ? undefined : before + (was ? -1 : 1);
    for (const f of copies(id, kind)) setMark(f, !was, after);
    form.dataset.busy = '1';
    try {
      const res = await fetch(`/statuses/${id}/${was ? 'un' : ''}${kind}`, {
        method: 'POST',
        headers: { Accept: 'application/json' },
        body: new URLSearchParams(new FormData(form)),
        credentials: 'same-origin',
      });
      if (!res.ok) throw new Error(String(res.status));
      const state = await res.json();
      const pressed = { favourite: state.favourited, reblog: state.reblogged, bookmark: state.bookmarked }[kind];
      const count = { favourite: state.favourites_count, reblog: state.reblogs_count }[kind];
      for (const f of copies(id, kind)) setMark(f, pressed, count);
    } catch (e) {
      for (const f of copies(id, kind)) setMark(f, was, before);
      const why = {
        404: 'the post is no longer available to you',
        403: 'this page has expired; reload it and try again',
        401: 'you are signed out',
      }[e.message] || 'the server could not be reached';
      const undo = was ? `undo the ${VERBS[kind]}` : VERBS[kind];
      flash(`Could not ${undo}: ${why}. Nothing was changed.`);
    } finally {
      delete form.dataset.busy;
    }
  }

  function startActions() {
    flashRegion = document.createElement('div');
    flashRegion.className = 'flash';
    flashRegion.setAttribute('role', 'alert');
    flashRegion.setAttribute('aria-live', 'assertive');
    flashRegion.hidden = true;
    flashRegion.dataset.flash = '';
    document.body.append(flashRegion);
    document.addEventListener('submit', (e) => {
      const form = e.target.closest && e.target.closest('form[data-act]');
      if (!form) return;
      e.preventDefault();
      act(form);
    });
  }

  // ---------------------------------------------------------------------------------
  // Infinite scroll: when the "Older posts" link comes into view, the next page's posts
  // (`?fragment=1`: the same post markup, and the next link) are appended to the feed
  // before the link, so the focus order stays the reading order. The link stays the way
  // without JavaScript, and after a failure.
  // ---------------------------------------------------------------------------------
  function startInfiniteScroll() {
    const feed = document.querySelector('[data-feed]');
    const link = document.querySelector('a[data-older]');
    if (!feed || !link || !('IntersectionObserver' in window)) return;
    let loading = false;
    const observer = new IntersectionObserver(async (entries) => {
      if (loading || !entries.some((e) => e.isIntersecting)) return;
      loading = true;
      feed.setAttribute('aria-busy', 'true');
      link.textContent = 'Loading older posts…';
      try {
        const url = new URL(link.href, location.href);
        url.searchParams.set('fragment', '1');
        const res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
        if (!res.ok) throw new Error(String(res.status));
        const t = document.createElement('template');
        t.innerHTML = await res.text(); // the server's own post template; text escaped
        for (const post of t.content.querySelectorAll('[data-feed-page] > article')) {
          if (feed.querySelector(`article[data-entry-id="${post.dataset.entryId}"]`)) continue;
          feed.append(post);
        }
        refreshTimes(feed);
        const next = t.content.querySelector('a[data-older]');
        if (next) {
          link.href = next.getAttribute('href');
          link.textContent = 'Older posts';
          // Still in view (a tall screen): observing again reports it at once.
          observer.unobserve(link);
          observer.observe(link);
        } else {
          observer.disconnect();
          link.closest('.older')?.remove();
        }
      } catch (e) {
        observer.disconnect();
        link.textContent = 'Older posts';
        flash('Could not load older posts. Use the “Older posts” link to try again.');
      } finally {
        loading = false;
        feed.removeAttribute('aria-busy');
      }
    }, { rootMargin: '0px 0px 300px 0px' });
    observer.observe(link);
  }
  // --- end of post actions and infinite scroll ---

  function start() {
    for (const form of document.querySelectorAll('form[data-composer]')) enhanceComposer(form);
    for (const area of document.querySelectorAll('form[data-composer] textarea')) enhanceMentions(area);
    refreshTimes(document);
    setInterval(() => refreshTimes(document), 30000);
    const stream = document.body.dataset.live;
    if (stream) startLive(stream);
    startActions();
    startInfiniteScroll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
