// Sceau extension: the pure logic (no DOM, no chrome.* API), shared by the content
// script, the service worker and the options page, and tested under Node
// (`node --test extension/`).  Loaded as a classic script in the browser (it defines
// `SceauCore`) and as a CommonJS module under Node.
'use strict';

(function (root, factory) {
  const api = factory();
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.SceauCore = api;
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
  /** The backend used until the reader sets another one in the options. */
  const DEFAULT_BACKEND = 'http://127.0.0.1:8000';
  /** At most this many hashes per POST /v1/lookup (the service's LOOKUP_MAX_HASHES). */
  const LOOKUP_MAX = 100;
  /** Images larger than this are not fetched for hashing (memory stays bounded). */
  const MAX_IMAGE_BYTES = 32 * 1024 * 1024;
  /** Pictures smaller than this on screen (icons, spacers, trackers) are skipped. */
  const MIN_SIDE = 48;
  /** Pictures fetched and hashed at once. */
  const FETCH_CONCURRENCY = 6;

  const HEX256 = /^[0-9a-f]{64}$/;

  const TEXT = {
    en: {
      badge: {
        captured: 'Captured', ai_generated: 'AI-generated',
        partly_ai_generated: 'Partly AI-generated', edited: 'Edited',
        created_digitally: 'Made with digital tools', unknown_origin: 'Sealed',
        invalid: 'Seal not valid',
      },
      signedBy: 'signed by',
      prefix: 'Sceau',
    },
    fr: {
      badge: {
        captured: 'Capturé', ai_generated: 'Généré par IA',
        partly_ai_generated: 'Partiellement généré par IA', edited: 'Retouché',
        created_digitally: 'Créé avec des outils numériques', unknown_origin: 'Scellé',
        invalid: 'Sceau non valide',
      },
      signedBy: 'signé par',
      prefix: 'Sceau',
    },
  };
  // A glyph with every badge, so that colour is never the only signal.
  const ICONS = {
    captured: '✔', ai_generated: '✦', partly_ai_generated: '◐', edited: '✎',
    created_digitally: '✎', unknown_origin: '•', invalid: '✖',
  };

  /** 'en' or 'fr' for a BCP 47 tag such as navigator.language. */
  function pickLanguage(tag) {
    return typeof tag === 'string' && tag.toLowerCase().startsWith('fr') ? 'fr' : 'en';
  }

  /** Lowercase hex of an ArrayBuffer or a typed array. */
  function toHex(buffer) {
    const bytes = buffer instanceof Uint8Array ? buffer :
      ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset,
        buffer.byteLength) : new Uint8Array(buffer);
    let out = '';
    for (const b of bytes) out += b.toString(16).padStart(2, '0');
    return out;
  }

  /** SHA-256 of bytes with SubtleCrypto (browser and Node), as lowercase hex. */
  async function sha256Hex(bytes, subtle) {
    const engine = subtle || globalThis.crypto.subtle;
    return toHex(await engine.digest('SHA-256', bytes));
  }

  /** ``items`` in lists of at most ``size``, in order. */
  function batches(items, size) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('batch size must be >= 1');
    const out = [];
    for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
    return out;
  }

  /**
   * ``fn`` over ``items`` with at most ``limit`` calls pending at once; the results in
   * input order.  A page with hundreds of pictures must not start hundreds of fetches.
   */
  async function mapLimit(items, limit, fn) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be >= 1');
    const out = new Array(items.length);
    let next = 0;
    async function worker() {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }
    await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker));
    return out;
  }

  /**
   * The backend origin a reader typed, normalised ("https://verify.example"), or null when
   * it is not an http(s) URL without credentials, query or fragment.
   */
  function normaliseBackend(text) {
    if (typeof text !== 'string' || !text.trim()) return null;
    let url;
    try {
      url = new URL(text.trim());
    } catch (err) {
      return null;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.username || url.password || url.search || url.hash) return null;
    const path = url.pathname.replace(/\/+$/, '');
    return url.origin + path;
  }

  /** The match pattern a host permission for ``backend`` needs ("https://x.example/*"). */
  function permissionPattern(backend) {
    const url = new URL(backend);
    return `${url.protocol}//${url.hostname}/*`;
  }

  /** The URL of POST /v1/lookup on ``backend`` in language ``lang``. */
  function lookupUrl(backend, lang) {
    return `${backend}/v1/lookup?lang=${encodeURIComponent(pickLanguage(lang))}`;
  }

  /**
   * The distinct image URLs worth hashing, in page order, from
   * [{src, width, height}] (currentSrc and rendered size of each <img>).
   */
  function imageSources(images, pageUrl) {
    const seen = new Set();
    const out = [];
    for (const img of images) {
      if (!img || typeof img.src !== 'string' || !img.src) continue;
      if (img.width < MIN_SIDE || img.height < MIN_SIDE) continue;
      let url;
      try {
        url = new URL(img.src, pageUrl);
      } catch (err) {
        continue;
      }
      if (!['http:', 'https:', 'data:', 'blob:'].includes(url.protocol)) continue;
      const key = url.href;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(key);
      }
    }
    return out;
  }

  /** True when ``src`` can be read by the page itself (same origin, data:, blob:). */
  function sameOrigin(src, pageUrl) {
    const url = new URL(src, pageUrl);
    if (url.protocol === 'data:' || url.protocol === 'blob:') return true;
    return url.origin === new URL(pageUrl).origin;
  }

  /**
   * Check a POST /v1/lookup answer against the hashes asked: a Map hash -> result.
   * Throws when the answer is not what the API promises (wrong count, order or shape).
   */
  function parseLookup(hashes, body) {
    if (!body || !Array.isArray(body.results) || body.results.length !== hashes.length) {
      throw new Error('lookup answer: expected one result per hash');
    }
    const out = new Map();
    body.results.forEach((result, i) => {
      if (!result || result.sha256 !== hashes[i] || typeof result.found !== 'boolean') {
        throw new Error(`lookup answer: result ${i} does not answer ${hashes[i]}`);
      }
      out.set(hashes[i], result);
    });
    return out;
  }

  /**
   * What to show on an image for its lookup result: null when no seal was found (the
   * extension then shows nothing: no seal is not a verdict), otherwise
   * {kind, icon, text, signer, summary, label}.
   */
  function badgeModel(result, lang) {
    if (!result || result.found !== true) return null;
    const t = TEXT[pickLanguage(lang)];
    const signer = result.signer && typeof result.signer.tenant === 'string' ?
      result.signer.tenant : null;
    let kind;
    if (result.ok !== true) kind = 'invalid';
    else kind = Object.hasOwn(t.badge, result.label || '') ? result.label : 'unknown_origin';
    const text = kind !== 'invalid' && typeof result.label_text === 'string' &&
      result.label_text ? capitalise(result.label_text) : t.badge[kind];
    const summary = typeof result.summary === 'string' ? capitalise(result.summary) : '';
    const who = kind !== 'invalid' && signer ? `, ${t.signedBy} ${signer}` : '';
    return {
      kind, icon: ICONS[kind], text, signer: kind === 'invalid' ? null : signer, summary,
      label: `${t.prefix}: ${text}${who}`,
    };
  }

  function capitalise(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  return {
    DEFAULT_BACKEND, LOOKUP_MAX, MAX_IMAGE_BYTES, MIN_SIDE, HEX256,
    FETCH_CONCURRENCY, badgeModel, batches, imageSources, lookupUrl, mapLimit,
    normaliseBackend, parseLookup,
    permissionPattern, pickLanguage, sameOrigin, sha256Hex, toHex,
  };
});
