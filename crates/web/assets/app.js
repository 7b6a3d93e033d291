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
    const update = () => {
      // Read each time: a form may lower it (the new-conversation form's names count).
      const max = Number(area.dataset.max) || 140;
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

  function start() {
    for (const form of document.querySelectorAll('form[data-composer]')) enhanceComposer(form);
    refreshTimes(document);
    setInterval(() => refreshTimes(document), 30000);
    const stream = document.body.dataset.live;
    if (stream) startLive(stream);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

// ===================================================================================
// Groups and direct messages (web-groups): an open conversation receives its new
// messages live, at the bottom where a conversation grows, announced to screen readers.
// The group page needs nothing here: its timeline uses the live bar above
// (`data-live="group:<id>"`).
// ===================================================================================
(() => {
  function startConversation(thread) {
    if (!('EventSource' in window)) return;
    // Only the newest page of a conversation grows.
    if (new URLSearchParams(location.search).has('max_id')) return;
    const list = thread.querySelector('[data-messages]');
    const notice = thread.querySelector('[data-new-message]');
    if (!list) return;
    const shown = list.querySelectorAll('article[data-entry-id]');
    const newest = shown.length ? shown[shown.length - 1].dataset.entryId : null;
    const since = newest ? `&since=${encodeURIComponent(newest)}` : '';
    const stream = encodeURIComponent(`conversation:${thread.dataset.conversation}`);
    const source = new EventSource(`/live?stream=${stream}${since}`);
    source.addEventListener('post', (e) => {
      const post = JSON.parse(e.data);
      if (document.getElementById(`post-${post.id}`)) return;
      const t = document.createElement('template');
      t.innerHTML = post.html; // server-rendered with the page's own template; text escaped
      const node = t.content.firstElementChild;
      if (!node) return;
      node.classList.add('fresh');
      list.append(node);
      thread.querySelector('[data-empty]')?.remove();
      if (notice) {
        const who = node.querySelector('.author .name')?.textContent || 'someone';
        notice.textContent = `New message from ${who}`;
      }
    });
    source.addEventListener('unread', (e) => {
      const n = Number(e.data) || 0;
      const badge = document.querySelector('[data-unread]');
      const label = document.querySelector('[data-unread-count]');
      if (!badge || !label) return;
      label.textContent = n >= 40 ? `${n}+` : String(n);
      badge.hidden = n === 0;
    });
  }

  // The new-conversation form sends "@ana @ben " before the message, and the server
  // counts it: the counter's limit drops by what the names take.
  function countRecipients(form) {
    const to = form.querySelector('[data-recipients]');
    const area = form.querySelector('textarea');
    if (!to || !area || !window.starlingPostLength) return;
    const limit = Number(area.dataset.max) || 140;
    const update = () => {
      const names = [];
      for (const token of to.value.split(/[\s,]+/)) {
        const name = token.replace(/^@+/, '');
        if (name && !names.some((n) => n.toLowerCase() === name.toLowerCase())) names.push(name);
      }
      const prefix = names.length ? `${names.map((n) => `@${n}`).join(' ')} ` : '';
      area.dataset.max = String(limit - window.starlingPostLength(prefix));
      area.dispatchEvent(new Event('input'));
    };
    to.addEventListener('input', update);
    update();
  }

  function start() {
    const thread = document.querySelector('[data-conversation]');
    if (thread) startConversation(thread);
    for (const form of document.querySelectorAll('form[data-new-conversation]')) countRecipients(form);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
