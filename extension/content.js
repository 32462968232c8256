// Sceau extension content script: hash the page's pictures (SubtleCrypto SHA-256), ask the
// Sceau backend which of them carry a seal (through the service worker), and put a small
// badge on each sealed picture.  Pictures without a seal get nothing: no seal is not a
// verdict, and never "fake".
'use strict';

(() => {
  const core = globalThis.SceauCore;
  const lang = core.pickLanguage(navigator.language);
  const handled = new WeakSet(); // <img> elements already looked at
  const hashes = new Map(); // image URL -> Promise<hash | null>
  const placed = []; // [{img, anchor}] to move with the layout
  let scanning = false;
  let again = false;
  let counter = 0;

  function send(message) {
    return new Promise((resolve) => {
      chrome.runtime.sendMessage(message, (answer) => {
        resolve(chrome.runtime.lastError || !answer ? {error: 'no answer'} : answer);
      });
    });
  }

  async function hashOf(src) {
    // The page's own pictures are read here; others by the service worker, whose
    // requests the page's CORS rules do not govern.  SubtleCrypto exists only in
    // secure contexts: elsewhere the worker hashes.
    if (core.sameOrigin(src, location.href) && globalThis.crypto && crypto.subtle) {
      try {
        const response = await fetch(src, {cache: 'force-cache'});
        if (!response.ok) return null;
        const bytes = await response.arrayBuffer();
        if (bytes.byteLength > core.MAX_IMAGE_BYTES) return null;
        return await core.sha256Hex(bytes);
      } catch (err) {
        // fall through to the worker
      }
    }
    const answer = await send({type: 'hash-url', url: src});
    return typeof answer.hash === 'string' ? answer.hash : null;
  }

  function hashFor(src) {
    if (!hashes.has(src)) hashes.set(src, hashOf(src).catch(() => null));
    return hashes.get(src);
  }

  async function scan() {
    if (scanning) {
      again = true;
      return;
    }
    scanning = true;
    try {
      const images = [...document.images].filter((img) => !handled.has(img) && img.complete &&
        img.naturalWidth > 0);
      const bySrc = new Map();
      for (const img of images) {
        const [src] = core.imageSources([{src: img.currentSrc || img.src,
          width: img.width, height: img.height}], location.href);
        if (!src) continue;
        handled.add(img);
        if (!bySrc.has(src)) bySrc.set(src, []);
        bySrc.get(src).push(img);
      }
      const found = await core.mapLimit([...bySrc.keys()], core.FETCH_CONCURRENCY,
        async (src) => [src, await hashFor(src)]);
      const wanted = [...new Set(found.map(([, h]) => h).filter((h) => h))];
      const results = new Map();
      for (const batch of core.batches(wanted, core.LOOKUP_MAX)) {
        const answer = await send({type: 'lookup', hashes: batch, lang});
        if (Array.isArray(answer.results)) {
          for (const [hash, result] of answer.results) results.set(hash, result);
        }
      }
      for (const [src, hash] of found) {
        const model = hash ? core.badgeModel(results.get(hash), lang) : null;
        if (model) for (const img of bySrc.get(src)) place(img, model);
      }
      document.documentElement.dataset.sceauScanned = String(
        Number(document.documentElement.dataset.sceauScanned || 0) + 1);
    } finally {
      scanning = false;
      if (again) {
        again = false;
        scan();
      }
    }
  }

  function place(img, model) {
    const anchor = document.createElement('div');
    anchor.className = 'sceau-ext-anchor';
    const badge = document.createElement('button');
    badge.type = 'button';
    badge.className = `sceau-ext-badge sceau-ext-${model.kind}`;
    badge.dataset.sceauBadge = model.kind;
    badge.setAttribute('aria-label', model.label);
    badge.setAttribute('aria-expanded', 'false');
    const icon = document.createElement('span');
    icon.setAttribute('aria-hidden', 'true');
    icon.textContent = model.icon;
    const text = document.createElement('span');
    text.className = 'sceau-ext-text';
    text.textContent = model.text;
    badge.append(icon, text);
    const tip = document.createElement('div');
    tip.className = 'sceau-ext-tip';
    tip.id = `sceau-ext-tip-${++counter}`;
    tip.setAttribute('role', 'tooltip');
    const lines = [model.text];
    if (model.signer) lines.push(`${lang === 'fr' ? 'Signé par' : 'Signed by'} ${model.signer}`);
    if (model.summary) lines.push(model.summary);
    for (const line of lines) {
      const p = document.createElement('p');
      p.textContent = line;
      tip.append(p);
    }
    badge.setAttribute('aria-describedby', tip.id);
    badge.addEventListener('click', (event) => {
      event.preventDefault();
      event.stopPropagation();
      const open = badge.getAttribute('aria-expanded') !== 'true';
      badge.setAttribute('aria-expanded', String(open));
      anchor.classList.toggle('sceau-ext-open', open);
    });
    anchor.append(badge, tip);
    document.body.append(anchor);
    placed.push({img, anchor});
    position(img, anchor);
  }

  function position(img, anchor) {
    const rect = img.getBoundingClientRect();
    anchor.style.top = `${rect.top + window.scrollY + 4}px`;
    anchor.style.left = `${rect.left + window.scrollX + 4}px`;
    anchor.hidden = rect.width === 0 && rect.height === 0;
  }

  let timer = null;
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(scan, 150);
  }

  window.addEventListener('resize', () => {
    for (const {img, anchor} of placed) position(img, anchor);
  });
  document.addEventListener('load', (event) => {
    if (event.target instanceof HTMLImageElement) soon();
  }, true);
  new MutationObserver(soon).observe(document.documentElement,
    {childList: true, subtree: true, attributes: true, attributeFilter: ['src', 'srcset']});
  scan();
})();
