// Tests of the extension's pure logic under Node's test runner: `node --test extension/`.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {createHash, webcrypto} = require('node:crypto');
const core = require('../core.js');

const hex = (seed) => createHash('sha256').update(String(seed)).digest('hex');

test('toHex gives lowercase hex of buffers and views', () => {
  assert.equal(core.toHex(new Uint8Array([0, 1, 0xab, 0xff])), '0001abff');
  assert.equal(core.toHex(new Uint8Array([0xde, 0xad]).buffer), 'dead');
  const view = new DataView(new Uint8Array([9, 0x10, 0x20, 9]).buffer, 1, 2);
  assert.equal(core.toHex(view), '1020');
  assert.equal(core.toHex(new ArrayBuffer(0)), '');
});

test('sha256Hex agrees with node:crypto (SubtleCrypto, FIPS 180-4 vectors)', async () => {
  const enc = new TextEncoder();
  assert.equal(await core.sha256Hex(enc.encode('abc'), webcrypto.subtle),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(await core.sha256Hex(new Uint8Array(0)),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (let n = 0; n < 300; n += 37) {
    const data = new Uint8Array(n * 101).map((_, i) => (i * 7 + n) & 0xff);
    assert.equal(await core.sha256Hex(data),
      createHash('sha256').update(data).digest('hex'));
  }
});

test('batches split in order, each at most the limit', () => {
  const items = Array.from({length: 250}, (_, i) => hex(i));
  const out = core.batches(items, core.LOOKUP_MAX);
  assert.deepEqual(out.map((b) => b.length), [100, 100, 50]);
  assert.deepEqual(out.flat(), items);
  assert.deepEqual(core.batches([], 100), []);
  assert.deepEqual(core.batches([1, 2, 3], 1), [[1], [2], [3]]);
  assert.throws(() => core.batches([1], 0), RangeError);
  assert.throws(() => core.batches([1], 1.5), RangeError);
});

test('mapLimit keeps order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const out = await core.mapLimit([50, 10, 30, 0, 20, 5, 40], 3, async (ms, i) => {
    running += 1;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, ms));
    running -= 1;
    return `${i}:${ms}`;
  });
  assert.deepEqual(out, ['0:50', '1:10', '2:30', '3:0', '4:20', '5:5', '6:40']);
  assert.equal(peak, 3);
  assert.deepEqual(await core.mapLimit([], 4, async () => 1), []);
  await assert.rejects(core.mapLimit([1], 0, async () => 1), RangeError);
  await assert.rejects(core.mapLimit([1, 2], 2, async (x) => {
    if (x === 2) throw new Error('boom');
    return x;
  }), /boom/);
});

test('normaliseBackend accepts http(s) service addresses only', () => {
  assert.equal(core.normaliseBackend('http://127.0.0.1:8000/'), 'http://127.0.0.1:8000');
  assert.equal(core.normaliseBackend(' https://Verify.Example.org/sceau// '),
    'https://verify.example.org/sceau');
  assert.equal(core.DEFAULT_BACKEND, core.normaliseBackend(core.DEFAULT_BACKEND));
  for (const bad of ['', '   ', 'verify.example.org', 'ftp://x.example', 'javascript:alert(1)',
    'https://user:pw@x.example', 'https://x.example/?q=1', 'https://x.example/#f', null, 42]) {
    assert.equal(core.normaliseBackend(bad), null, String(bad));
  }
});

test('permissionPattern and lookupUrl', () => {
  assert.equal(core.permissionPattern('https://verify.example.org:8443/x'),
    'https://verify.example.org/*');
  assert.equal(core.lookupUrl('http://127.0.0.1:8000', 'fr-CA'),
    'http://127.0.0.1:8000/v1/lookup?lang=fr');
  assert.equal(core.lookupUrl('https://v.example/sceau', 'de'),
    'https://v.example/sceau/v1/lookup?lang=en');
});

test('imageSources keeps distinct, large enough, fetchable pictures in page order', () => {
  const page = 'https://news.example/a/story.html';
  const out = core.imageSources([
    {src: 'photo.jpg', width: 640, height: 480},
    {src: 'https://news.example/a/photo.jpg', width: 320, height: 240}, // same picture
    {src: 'https://cdn.example/b.png', width: 200, height: 200},
    {src: 'icon.png', width: 16, height: 16}, // too small
    {src: 'javascript:void(0)', width: 100, height: 100},
    {src: '', width: 100, height: 100},
    {src: 'data:image/png;base64,iVBORw0KGgo=', width: 60, height: 60},
    null,
  ], page);
  assert.deepEqual(out, ['https://news.example/a/photo.jpg', 'https://cdn.example/b.png',
    'data:image/png;base64,iVBORw0KGgo=']);
});

test('sameOrigin decides who fetches a picture', () => {
  const page = 'http://127.0.0.1:8080/page.html';
  assert.equal(core.sameOrigin('/img/a.png', page), true);
  assert.equal(core.sameOrigin('data:image/png;base64,AA==', page), true);
  assert.equal(core.sameOrigin('http://127.0.0.1:9090/a.png', page), false);
  assert.equal(core.sameOrigin('http://localhost:8080/a.png', page), false);
});

test('parseLookup checks count, order and shape of the answer', () => {
  const asked = [hex(1), hex(2)];
  const answer = {results: [{sha256: asked[0], found: false},
    {sha256: asked[1], found: true, ok: true, label: 'captured'}]};
  const map = core.parseLookup(asked, answer);
  assert.equal(map.size, 2);
  assert.equal(map.get(asked[1]).label, 'captured');
  assert.throws(() => core.parseLookup(asked, {results: [answer.results[0]]}));
  assert.throws(() => core.parseLookup(asked, {results: [...answer.results].reverse()}));
  assert.throws(() => core.parseLookup(asked, {}));
  assert.throws(() => core.parseLookup(asked, null));
  assert.throws(() => core.parseLookup([hex(1)], {results: [{sha256: hex(1)}]}));
});

test('badgeModel: nothing at all when no seal is found (never "fake")', () => {
  assert.equal(core.badgeModel({sha256: hex(1), found: false}, 'en'), null);
  assert.equal(core.badgeModel(undefined, 'fr'), null);
});

test('badgeModel: the label, the signer and the summary of a sealed picture', () => {
  const found = {sha256: hex(1), found: true, ok: true, label: 'ai_generated',
    label_text: 'AI-generated', summary: 'verified: the content matches its seal',
    signer: {tenant: 'example-ai', keyid: 'k', trusted: true}};
  const model = core.badgeModel(found, 'en-GB');
  assert.deepEqual(model, {kind: 'ai_generated', icon: '✦', text: 'AI-generated',
    signer: 'example-ai', summary: 'Verified: the content matches its seal',
    label: 'Sceau: AI-generated, signed by example-ai'});
  // Without the service's localized text, the extension's own words.
  const fr = core.badgeModel({...found, label: 'captured', label_text: undefined}, 'fr-FR');
  assert.equal(fr.text, 'Capturé');
  assert.equal(fr.label, 'Sceau: Capturé, signé par example-ai');
  const odd = core.badgeModel({...found, label: 'no_such_label', label_text: null}, 'en');
  assert.equal(odd.kind, 'unknown_origin');
  for (const label of ['captured', 'ai_generated', 'partly_ai_generated', 'edited',
    'created_digitally', 'unknown_origin']) {
    const m = core.badgeModel({...found, label, label_text: null}, 'en');
    assert.equal(m.kind, label);
    assert.ok(m.icon && m.text, label);
  }
});

test('badgeModel: a seal that does not verify says so and names no signer', () => {
  const model = core.badgeModel({sha256: hex(1), found: true, ok: false, label: null,
    label_text: null, summary: 'not verified: the signing key was revoked',
    signer: {tenant: 'example-news'}}, 'en');
  assert.equal(model.kind, 'invalid');
  assert.equal(model.text, 'Seal not valid');
  assert.equal(model.signer, null);
  assert.equal(model.label, 'Sceau: Seal not valid');
  assert.doesNotMatch(JSON.stringify(model).toLowerCase(), /fake/);
});

test('pickLanguage', () => {
  assert.equal(core.pickLanguage('fr'), 'fr');
  assert.equal(core.pickLanguage('FR-be'), 'fr');
  assert.equal(core.pickLanguage('en-US'), 'en');
  assert.equal(core.pickLanguage('de'), 'en');
  assert.equal(core.pickLanguage(undefined), 'en');
});
