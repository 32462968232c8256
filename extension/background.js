// Sceau extension service worker: the only part that talks to the network on the
// content script's behalf.  It fetches cross-origin images (the page's own CORS rules
// would keep them from the content script) and calls the Sceau backend's POST /v1/lookup.
// Its origin is chrome-extension://<id>: the backend either holds a host permission
// (the default backend and those granted in the options) or allows it by CORS.
'use strict';

importScripts('core.js');

const {DEFAULT_BACKEND, MAX_IMAGE_BYTES, HEX256, LOOKUP_MAX, lookupUrl, normaliseBackend,
  parseLookup, sha256Hex} = self.SceauCore;

async function backend() {
  const stored = await chrome.storage.local.get({backend: DEFAULT_BACKEND});
  return normaliseBackend(stored.backend) || DEFAULT_BACKEND;
}

/** Fetch an image and hash it; null when it cannot be read or is too large. */
async function hashUrl(url) {
  const response = await fetch(url, {credentials: 'omit', cache: 'force-cache'});
  if (!response.ok) return null;
  const declared = Number(response.headers.get('content-length') || '0');
  if (declared > MAX_IMAGE_BYTES) return null;
  const bytes = await response.arrayBuffer();
  if (bytes.byteLength > MAX_IMAGE_BYTES) return null;
  return sha256Hex(bytes);
}

/** One POST /v1/lookup of at most LOOKUP_MAX hashes: [[hash, result], ...]. */
async function lookup(hashes, lang) {
  if (!Array.isArray(hashes) || hashes.length < 1 || hashes.length > LOOKUP_MAX ||
      !hashes.every((h) => typeof h === 'string' && HEX256.test(h))) {
    throw new Error('lookup: 1 to 100 lowercase hex SHA-256 hashes');
  }
  const response = await fetch(lookupUrl(await backend(), lang), {
    method: 'POST', credentials: 'omit',
    headers: {'content-type': 'application/json', 'accept-language': lang},
    body: JSON.stringify({hashes}),
  });
  if (!response.ok) throw new Error(`lookup: HTTP ${response.status}`);
  return [...parseLookup(hashes, await response.json())];
}

chrome.runtime.onMessage.addListener((message, sender, reply) => {
  // Only our own content scripts and pages talk to the worker.
  if (sender.id !== chrome.runtime.id || !message || typeof message.type !== 'string') {
    return false;
  }
  let work;
  if (message.type === 'hash-url' && typeof message.url === 'string') {
    work = hashUrl(message.url).then((hash) => ({hash}));
  } else if (message.type === 'lookup') {
    work = lookup(message.hashes, message.lang).then((results) => ({results}));
  } else {
    return false;
  }
  work.then(reply, (err) => reply({error: String(err && err.message || err)}));
  return true; // the reply comes asynchronously
});
