// Sceau extension options: the backend address, kept in chrome.storage.local.  A backend
// other than the loopback default needs a host permission, asked for on Save (a user
// gesture, as chrome.permissions.request requires).
'use strict';

(() => {
  const {DEFAULT_BACKEND, normaliseBackend, permissionPattern, pickLanguage} =
    globalThis.SceauCore;
  const fr = pickLanguage(navigator.language) === 'fr';
  const TEXT = fr ? {
    heading: 'Sceau — options', label: 'Adresse du service Sceau', save: 'Enregistrer',
    hint: 'Par exemple https://verify.example.org. Seules les empreintes SHA-256 des ' +
      'images affichées lui sont envoyées, jamais les images.',
    allSites: 'Vérifier aussi les images servies par d’autres sites',
    allSitesHint: 'La plupart des pages montrent des images d’autres sites (serveurs ' +
      'd’images, CDN). Les lire pour en calculer l’empreinte demande votre permission ' +
      'pour tous les sites ; sans elle, seules les images du site de la page sont vérifiées.',
    saved: 'Enregistré.', invalid: 'Adresse http:// ou https:// attendue.',
    denied: 'Permission refusée : l’extension ne peut pas joindre ce service.',
  } : {
    heading: 'Sceau — options', label: 'Sceau service address', save: 'Save',
    hint: 'For example https://verify.example.org. Only the SHA-256 hashes of the ' +
      'pictures you see are sent to it, never the pictures.',
    allSites: 'Also check pictures served by other sites',
    allSitesHint: 'Most pages show pictures from other sites (image servers, CDNs). ' +
      'Reading them to hash them needs your permission for all sites; without it, only ' +
      'pictures from the page’s own site are checked.',
    saved: 'Saved.', invalid: 'Expected an http:// or https:// address.',
    denied: 'Permission refused: the extension cannot reach this service.',
  };
  const $ = (id) => document.getElementById(id);

  document.documentElement.lang = fr ? 'fr' : 'en';
  $('heading').textContent = TEXT.heading;
  $('backend-label').textContent = TEXT.label;
  $('backend-hint').textContent = TEXT.hint;
  $('save').textContent = TEXT.save;
  $('all-sites-label').textContent = TEXT.allSites;
  $('all-sites-hint').textContent = TEXT.allSitesHint;
  const ALL_SITES = {origins: ['http://*/*', 'https://*/*']};

  chrome.storage.local.get({backend: DEFAULT_BACKEND}).then((stored) => {
    $('backend').value = stored.backend;
  });
  chrome.permissions.contains(ALL_SITES).then((granted) => {
    $('all-sites').checked = granted;
  });

  $('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const backend = normaliseBackend($('backend').value);
    if (!backend) {
      $('status').textContent = TEXT.invalid;
      return;
    }
    // One request, made while the click still counts as a user gesture.
    const wanted = [permissionPattern(backend)];
    if ($('all-sites').checked) wanted.push(...ALL_SITES.origins);
    const granted = await chrome.permissions.contains({origins: wanted}) ||
      await chrome.permissions.request({origins: wanted}).catch(() => false);
    if (!granted) {
      $('status').textContent = TEXT.denied;
      $('all-sites').checked = await chrome.permissions.contains(ALL_SITES);
      return;
    }
    if (!$('all-sites').checked && await chrome.permissions.contains(ALL_SITES)) {
      await chrome.permissions.remove(ALL_SITES).catch(() => false);
    }
    await chrome.storage.local.set({backend});
    $('backend').value = backend;
    $('status').textContent = TEXT.saved;
  });
})();
