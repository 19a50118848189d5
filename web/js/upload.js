// The upload page: files dropped or picked join a queue; each gets its own
// title, description, album, visibility, viewers and tags. The queue sends
// ONE file at a time (the API allows one upload in flight per user) with
// XMLHttpRequest, for progress events and abort(). The browser makes the
// 50 px wide thumbnail itself, just before each file is sent (so a drop of
// 200 photos is not 200 decodes at once); when it cannot decode the file the
// server does.

import { h, replace, field, message, formatBytes } from './dom.js';
import { authHeaders, errorOf, enc } from './api.js';

const THUMB_WIDTH = 50;

/** A 50 px wide upright JPEG of `file`, or null when the browser cannot decode it. */
export async function clientThumbnail(file) {
  if (localStorage.getItem('psNoClientThumb') === '1') return null; // test hook: force the server path
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    const height = Math.max(1, Math.round((bitmap.height * THUMB_WIDTH) / bitmap.width));
    const canvas = document.createElement('canvas');
    canvas.width = THUMB_WIDTH;
    canvas.height = height;
    const g = canvas.getContext('2d');
    g.fillStyle = '#fff'; // transparent images flatten onto white, never black
    g.fillRect(0, 0, THUMB_WIDTH, height);
    g.imageSmoothingQuality = 'high';
    g.drawImage(bitmap, 0, 0, THUMB_WIDTH, height);
    bitmap.close();
    return await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
  } catch {
    return null;
  }
}

/** Sends one upload; resolves with the photo, rejects with an ApiError (`abort` code when cancelled). */
function send(form, onProgress, onXhr) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    onXhr(xhr);
    xhr.open('POST', '/v1/photos');
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.addEventListener('load', async () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try { resolve(JSON.parse(xhr.responseText)); } catch { reject(await errorOf(xhr.status, '')); }
      } else {
        if (xhr.status === 401) window.dispatchEvent(new CustomEvent('ps:unauthorized'));
        reject(await errorOf(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After')));
      }
    });
    xhr.addEventListener('error', () => reject(Object.assign(new Error('The connection failed during the upload.'), { code: 'network' })));
    xhr.addEventListener('abort', () => reject(Object.assign(new Error('Cancelled.'), { code: 'abort' })));
    xhr.send(form);
  });
}

export function uploadPage(ctx) {
  ctx.title('Upload');
  const queue = [];
  let running = false;
  const list = h('ol', { class: 'upload-list', id: 'upload-list' });
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const objectUrls = new Set(); // previews not yet loaded; revoked on load or when the page is left
  ctx.onLeave(() => { for (const u of objectUrls) URL.revokeObjectURL(u); objectUrls.clear(); });

  const input = h('input', { type: 'file', id: 'file-input', multiple: true, accept: 'image/*,.heic,.heif,.avif,.tif,.tiff', class: 'visually-hidden' });
  const drop = h('div', { class: 'dropzone', id: 'dropzone' },
    h('p', { text: 'Drag photos here, or' }),
    h('label', { for: 'file-input', class: 'button-like', text: 'Choose files' }), input);
  input.addEventListener('change', () => { addFiles(input.files); input.value = ''; });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addFiles(e.dataTransfer.files); });

  const start = h('button', { type: 'button', id: 'start-upload', text: 'Upload all', disabled: true, onclick: () => run() });

  function setState(item, state, text, kind = 'info') {
    item.state = state;
    item.li.dataset.state = state;
    replace(item.status, text ? message(text, kind) : null);
    item.cancel.textContent = state === 'queued' || state === 'uploading' ? 'Cancel' : 'Remove';
    updateSummary();
  }

  function updateSummary() {
    const waiting = queue.filter((i) => i.state === 'queued').length;
    const done = queue.filter((i) => i.state === 'done').length;
    summary.textContent = queue.length ? `${done} uploaded, ${waiting} waiting, ${queue.length} in the list.` : '';
    start.disabled = running || waiting === 0;
  }

  function addFiles(files) {
    for (const file of files) {
      const n = queue.length + 1;
      const base = file.name.replace(/\.[^.]+$/, '');
      const title = field('Title', { value: base, maxlength: 200 });
      const desc = field('Description', { rows: 2 }, 'textarea');
      const album = field('Album', { value: 'default', maxlength: 100 });
      const vis = field('Visibility', {}, 'select', [['public', 'Public'], ['shared', 'Shared'], ['private', 'Private']]);
      const viewers = field('Viewers (usernames, comma separated)', {});
      viewers.wrap.hidden = true;
      vis.input.addEventListener('change', () => { viewers.wrap.hidden = vis.input.value !== 'shared'; });
      const tags = field('Tags (comma separated)', {});
      const progress = h('progress', { max: 1, value: 0, 'aria-label': `Upload progress of ${file.name}` });
      const status = h('div', { class: 'upload-status' });
      const preview = h('div', { class: 'upload-preview', 'aria-hidden': 'true' });
      const cancel = h('button', { type: 'button', text: 'Cancel', 'aria-label': `Cancel or remove ${file.name}` });
      const li = h('li', { class: 'card upload-item', dataset: { name: file.name } },
        h('div', { class: 'upload-head' }, preview,
          h('h2', { class: 'upload-name', text: `${n}. ${file.name}` }), h('span', { class: 'muted', text: formatBytes(file.size) }), cancel),
        // A group named by the file, so the many "Title" fields on the page are told apart.
        h('fieldset', { class: 'upload-fields' }, h('legend', { class: 'visually-hidden', text: file.name }),
          title.wrap, desc.wrap, album.wrap, vis.wrap, viewers.wrap, tags.wrap),
        progress, status);
      const item = { file, li, title, desc, album, vis, viewers, tags, progress, status, cancel, preview, state: 'queued', xhr: null, wake: null };
      cancel.addEventListener('click', () => {
        // A request in flight is aborted (its `abort` error marks the item); otherwise
        // (queued, making the thumbnail, waiting to retry after a 429) it is marked here.
        if (item.state === 'uploading' && item.xhr && item.xhr.readyState !== XMLHttpRequest.DONE) item.xhr.abort();
        else if (item.state === 'queued' || item.state === 'uploading') {
          setState(item, 'cancelled', 'Cancelled.');
          item.wake?.(); // cut a retry wait short
        } else { li.remove(); queue.splice(queue.indexOf(item), 1); updateSummary(); }
      });
      queue.push(item);
      list.append(li);
      setState(item, 'queued', 'Waiting to upload.');
    }
  }

  async function uploadOne(item) {
    // Made now, one file at a time, and once per file (a 429 retry reuses it).
    if (item.thumb === undefined) {
      item.thumb = await clientThumbnail(item.file);
      if (item.thumb) showPreview(item);
    }
    if (item.state !== 'uploading') throw Object.assign(new Error('Cancelled.'), { code: 'abort' });
    const tags = item.tags.input.value.split(',').map((t) => t.trim()).filter(Boolean);
    const form = new FormData();
    form.append('title', item.title.input.value);
    form.append('description', item.desc.input.value);
    form.append('album', item.album.input.value.trim() || 'default');
    form.append('visibility', item.vis.input.value);
    if (item.vis.input.value === 'shared') form.append('viewers', item.viewers.input.value.split(/[\s,]+/).filter(Boolean).join(','));
    form.append('metadata', JSON.stringify({ tags }));
    const thumb = item.thumb;
    item.li.dataset.thumb = thumb ? 'client' : 'server';
    if (thumb) form.append('thumbnail', thumb, 'thumbnail.jpg');
    form.append('file', item.file, item.file.name);
    try {
      return await send(form, (f) => { item.progress.value = f; }, (xhr) => { item.xhr = xhr; });
    } finally {
      item.xhr = null; // nothing in flight now: Cancel marks the item itself
    }
  }

  function showPreview(item) {
    const url = URL.createObjectURL(item.thumb);
    objectUrls.add(url);
    const done = () => { if (objectUrls.delete(url)) URL.revokeObjectURL(url); };
    // The decoded image stays on screen after its URL is revoked.
    item.preview.replaceChildren(h('img', { src: url, alt: '', onload: done, onerror: done }));
  }

  async function run() {
    if (running) return;
    running = true;
    updateSummary();
    for (;;) {
      const item = queue.find((i) => i.state === 'queued');
      if (!item) break;
      setState(item, 'uploading', 'Uploading…');
      for (let attempt = 0; ; attempt++) {
        try {
          const photo = await uploadOne(item);
          item.progress.value = 1;
          setState(item, 'done', null);
          replace(item.status, h('p', { class: 'msg msg-ok', role: 'status' }, 'Uploaded: ',
            h('a', { href: `/photos/${enc(photo.id)}`, text: photo.title || item.file.name }),
            photo.status === 'processing' ? ' (processing; it appears in your photostream when ready)' : ''));
          item.li.dataset.photo = photo.id;
          break;
        } catch (e) {
          // 429: another upload of ours is in flight (another tab?): wait and retry.
          if (e.status === 429 && attempt < 10 && item.state === 'uploading') {
            const wait = Math.min(30, Number(e.retryAfter) || 2);
            replace(item.status, message(`Another upload is in progress; retrying in ${wait} s.`));
            await new Promise((r) => {
              const timer = setTimeout(r, wait * 1000);
              item.wake = () => { clearTimeout(timer); r(); };
            });
            item.wake = null;
            if (item.state !== 'uploading') break;
            continue;
          }
          if (item.state === 'cancelled') break; // marked when Cancel was pressed
          if (e.code === 'abort') setState(item, 'cancelled', 'Cancelled.');
          else setState(item, 'failed', `Failed: ${e.message}`, 'error');
          break;
        }
      }
    }
    running = false;
    updateSummary();
  }

  replace(ctx.main, h('h1', { text: 'Upload photos' }), drop,
    h('p', {}, start), summary, list);
  ctx.ready();
}
