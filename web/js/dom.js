// Tiny DOM helpers. Everything is built with createElement and textContent:
// no innerHTML with data, no inline styles or handlers (the CSP forbids them).

/**
 * h('a', {href: '/x', class: 'y', onclick: fn}, 'text', child, [more])
 * Attributes: `class`, `text`, `on<event>` (listener), boolean true/false
 * (present/absent), `dataset` (object), anything else via setAttribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** Appends strings, nodes and (nested) arrays of them; skips null/false. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A labelled form field: returns {wrap, input}. `kind` is input/textarea/select. */
export function field(label, attrs = {}, kind = 'input', options = []) {
  const id = attrs.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  const input = h(kind, { ...attrs, id });
  for (const [value, text] of options) input.append(h('option', { value, text }));
  if (attrs.value !== undefined) input.value = attrs.value;
  const wrap = h('div', { class: 'field' }, h('label', { for: id, text: label }), input);
  return { wrap, input };
}

/** A status line for messages; role=status (or alert for errors) so screen readers hear it. */
export function message(text, kind = 'info') {
  return h('p', { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status', text });
}

/** "3 minutes ago"-style relative time, with the exact time in a <time> element. */
export function timeAgo(iso) {
  const t = new Date(iso);
  const s = Math.round((Date.now() - t.getTime()) / 1000);
  let text;
  if (s < 60) text = 'just now';
  else if (s < 3600) text = `${Math.floor(s / 60)} min ago`;
  else if (s < 86400) text = `${Math.floor(s / 3600)} h ago`;
  else text = t.toLocaleDateString();
  return h('time', { datetime: iso, title: t.toLocaleString(), text });
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** Whether a key event happened while typing in a form control. */
export function typing(e) {
  const t = e.target;
  return t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
}
