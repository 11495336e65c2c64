'use strict';
// The page: its state lives in the URL (pprof's parameters: si, f, i, h, s,
// sf, tf, ti, g, sort; and the view's own: view, q, root, below, w, fn), so a
// view can be shared and reloaded. Each view asks the server for JSON.
(() => {
  const $ = (id) => document.getElementById(id);
  const VIEW_KEYS = ['view', 'q', 'root', 'below', 'w', 'fn', 'fold', 'unfold'];
  const S = { view: 'flame', params: {}, q: '', root: 0, below: '', w: 'new', fn: '', fold: true, unfold: '' };
  let meta = null;
  let flameData = null;
  let flameBoxes = [];
  let seq = 0;

  function readURL() {
    const u = new URLSearchParams(location.search);
    S.params = {};
    for (const [k, v] of u) if (!VIEW_KEYS.includes(k)) S.params[k] = v;
    S.view = u.get('view') || 'flame';
    S.q = u.get('q') || '';
    S.root = Number(u.get('root') || 0);
    S.below = u.get('below') || '';
    S.w = u.get('w') || 'new';
    S.fn = u.get('fn') || '';
    S.fold = u.get('fold') !== '0';
    S.unfold = u.get('unfold') || '';
  }

  function stateQuery(extra) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(S.params)) if (v !== '') u.set(k, v);
    if (S.view !== 'flame') u.set('view', S.view);
    if (S.q) u.set('q', S.q);
    if (S.root) u.set('root', S.root);
    if (S.below) u.set('below', S.below);
    if (S.w !== 'new') u.set('w', S.w);
    if (S.fn) u.set('fn', S.fn);
    if (!S.fold) u.set('fold', '0');
    if (S.unfold) u.set('unfold', S.unfold);
    for (const [k, v] of Object.entries(extra || {})) u.set(k, v);
    return u;
  }

  function writeURL(push) {
    const q = stateQuery().toString();
    const url = location.pathname + (q ? '?' + q : '');
    if (url !== location.pathname + location.search) history[push ? 'pushState' : 'replaceState'](null, '', url);
  }

  function apiParams(extra) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(S.params)) if (v !== '') u.set(k, v);
    for (const [k, v] of Object.entries(extra || {})) if (v !== '' && v != null) u.set(k, v);
    return u;
  }

  async function api(path, extra, init) {
    const r = await fetch('/api/' + path + '?' + apiParams(extra), init);
    let j;
    try { j = await r.json(); } catch (e) { throw new Error(`the server answered ${r.status} without JSON`); }
    if (!r.ok || j.error) throw new Error(j.error || `the server answered ${r.status}`);
    return j;
  }

  function showError(msg) {
    const e = $('error');
    e.textContent = msg;
    e.hidden = !msg;
  }

  function status(msg) { $('status').textContent = msg; }

  function warn(j) { if (j.warnings && j.warnings.length) status(j.warnings.join('; ')); }

  // --- controls -----------------------------------------------------------
  function fillControls() {
    const si = $('si');
    si.replaceChildren(...meta.sample_types.map((t) => new Option(`${t.type} (${t.unit})`, t.type)));
    si.value = S.params.si || meta.default_sample || '';
    si.disabled = meta.sample_types.length < 2;
    const g = $('g');
    const gran = meta.settings.find((s) => s.param === 'g');
    g.replaceChildren(...(gran ? gran.choices : []).map((c) => new Option(c, c)));
    g.value = S.params.g || meta.config.g || 'functions';
    $('widths-box').hidden = !meta.has_base;
    $('w').value = S.w;
    $('search').value = S.q;
    $('fold').checked = S.fold;
    for (const input of $('refine').querySelectorAll('input')) input.value = S.params[input.name] || '';
    for (const b of document.querySelectorAll('#views button')) b.setAttribute('aria-pressed', String(b.dataset.view === S.view));
    $('title').textContent = meta.title + (meta.description ? ' · ' + meta.description : '');
    document.title = 'sonde web · ' + (meta.title || '');
  }

  function changed(push) {
    S.root = 0;
    S.below = '';
    S.unfold = '';
    writeURL(push);
    show();
  }

  function bind() {
    $('views').addEventListener('click', (e) => {
      const v = e.target.closest('button') && e.target.closest('button').dataset.view;
      if (!v) return;
      S.view = v;
      writeURL(true);
      show();
    });
    $('si').addEventListener('change', (e) => { S.params.si = e.target.value; changed(true); });
    $('g').addEventListener('change', (e) => { S.params.g = e.target.value; changed(true); });
    $('w').addEventListener('change', (e) => { S.w = e.target.value; changed(true); });
    $('fold').addEventListener('change', (e) => { S.fold = e.target.checked; S.unfold = ''; writeURL(true); loadFlame(); });
    let timer = null;
    $('search').addEventListener('input', (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => { S.q = e.target.value; writeURL(false); if (isFlame()) loadFlame(); }, 200);
    });
    $('refine-toggle').addEventListener('click', () => {
      const f = $('refine');
      f.hidden = !f.hidden;
      $('refine-toggle').setAttribute('aria-expanded', String(!f.hidden));
    });
    $('refine').addEventListener('submit', (e) => {
      e.preventDefault();
      for (const input of $('refine').querySelectorAll('input')) S.params[input.name] = input.value.trim();
      changed(true);
    });
    $('reset').addEventListener('click', () => {
      S.params = {}; S.q = ''; S.fn = ''; S.w = 'new';
      fillControls();
      changed(true);
    });
    $('refresh').addEventListener('click', refresh);
    $('export-html').addEventListener('click', exportHTML);
    $('export-svg').addEventListener('click', () => download('sonde-flame.svg', 'image/svg+xml', svgOfView()));
    $('export-png').addEventListener('click', exportPNG);
    window.addEventListener('popstate', () => { readURL(); fillControls(); show(); });
    let resize = null;
    window.addEventListener('resize', () => { clearTimeout(resize); resize = setTimeout(() => { if (isFlame() && flameData) drawFlame(); }, 150); });
  }

  function isFlame() { return S.view === 'flame' || S.view === 'icicle'; }

  // The filters in force, each with a button that removes it.
  const FILTER_PARAMS = ['f', 'i', 'h', 's', 'sf', 'prunefrom', 'tf', 'ti', 'ts', 'th', 'group'];
  function showFilters() {
    const box = $('filters');
    const on = FILTER_PARAMS.filter((k) => S.params[k]);
    box.hidden = on.length === 0;
    if (!on.length) { box.replaceChildren(); return; }
    const name = (k) => { if (k === 'group') return 'group_by'; const st = meta.settings.find((x) => x.param === k); return st ? st.name : k; };
    const parts = ['Filters: '];
    for (const k of on) {
      parts.push(Views.el('code', {}, `${name(k)}=${S.params[k]}`),
        Views.el('button', { title: 'Remove this filter', 'aria-label': 'Remove ' + name(k), onclick: () => { delete S.params[k]; fillControls(); changed(true); } }, '✕'), ' ');
    }
    box.replaceChildren(...parts);
  }

  // --- flame graph ----------------------------------------------------------
  async function loadFlame() {
    const my = ++seq;
    const main = $('main');
    const px = Math.max(200, main.clientWidth - 20);
    status('loading the flame graph…');
    try {
      const j = await api('flame', { root: S.root || '', below: S.below, w: meta.has_base ? S.w : '', q: S.q, px, fold: S.fold ? '' : '0', unfold: S.unfold });
      if (my !== seq) return;
      showError('');
      flameData = j;
      drawFlame();
      status(`Total: ${j.total_label} ${j.sample_type}` + (j.shown_label !== j.total_label ? ` · shown: ${j.shown_label}` : '') +
        (j.base_total_label ? ` · base ${j.base_total_label}` : '') + ` · ${j.frames} frames`);
      warn(j);
    } catch (e) {
      if (my !== seq) return;
      showError(e.message);
      status('');
      // What was shown no longer answers the request: no stale highlights.
      $('match').textContent = '';
      for (const f of document.querySelectorAll('#flame .frame.match')) f.classList.remove('match');
    }
  }

  function drawFlame() {
    const main = $('main');
    const holder = document.createElement('div');
    holder.id = 'flame';
    main.replaceChildren(holder);
    const diff = meta.has_base;
    const r = Flame.render(holder, flameData, { icicle: S.view === 'icicle', diff });
    flameBoxes = r.boxes;
    crumbs();
    legend();
    const m = flameData.matched;
    $('match').textContent = m ? `matched ${m.share} (${m.label}) in ${m.frames} frames` + (m.base_share ? `, base ${m.base_share}` : '') : '';
    // A table of what is drawn, for screen readers.
    const rows = flameBoxes.slice(0, 300).map((b) => Views.el('tr', {}, Views.el('td', {}, '  '.repeat(b.d) + Flame.nameOf(flameData, b.r)), Views.el('td', {}, b.r[7].split('\n').slice(1).join('; '))));
    main.append(Views.el('div', { class: 'sr-only' }, Views.el('table', { 'aria-label': 'Frames drawn in the flame graph' }, Views.el('tbody', {}, ...rows))));
    // For tests and bench/web: how many times, and when, a flame was drawn.
    window.sondeDrawn = (window.sondeDrawn || 0) + 1;
    window.sondeDrawnAt = performance.now();
    holder.addEventListener('mousemove', hover);
    holder.addEventListener('mouseleave', () => { $('tip').hidden = true; });
    holder.addEventListener('click', (e) => { const f = e.target.closest('.frame'); if (f) activate(Number(f.dataset.i)); });
    holder.addEventListener('keydown', keys);
    holder.addEventListener('focusin', (e) => { const f = e.target.closest('.frame'); if (f) tipFor(f, f.getBoundingClientRect().left, f.getBoundingClientRect().bottom); });
  }

  function tipFor(f, x, y) {
    const tip = $('tip');
    const r = flameData.nodes[Number(f.dataset.i)];
    tip.textContent = r[7];
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(x + 12, innerWidth - w - 4) + 'px';
    tip.style.top = (y + 14 + h > innerHeight ? y - h - 8 : y + 14) + 'px';
  }

  function hover(e) {
    const f = e.target.closest('.frame');
    if (!f) { $('tip').hidden = true; return; }
    tipFor(f, e.clientX, e.clientY);
  }

  function activate(i) {
    $('tip').hidden = true;
    const r = flameData.nodes[i];
    if (r[4] & Flame.F.STUB) { zoom(r[0], r[8]); return; }
    if (r[4] & Flame.F.GROUP) {
      S.unfold = S.unfold ? S.unfold + ',' + r[0] : String(r[0]);
      writeURL(true);
      loadFlame();
      return;
    }
    if (i === 0) { if (flameData.path.length) zoom(flameData.path[flameData.path.length - 1][0], ''); return; }
    // Drawn at once from what the page has; the server's view (with the
    // frames that were too narrow before) replaces it when it comes.
    flameData = Flame.subtree(flameData, i);
    drawFlame();
    zoom(r[0], '');
  }

  function zoom(id, below) {
    crumbsOpen = false;
    S.root = id;
    S.below = below ? String(below) : '';
    writeURL(true);
    loadFlame();
  }

  let crumbsOpen = false;
  function crumbs() {
    const c = $('crumbs');
    const items = flameData.path.map(([id, name]) => Views.el('button', { onclick: () => zoom(id, '') }, name));
    const root = flameData.nodes[0];
    if (root) items.push(Views.el('button', { 'aria-current': 'true', onclick: () => {} }, flameData.names[root[1]] + (S.below ? ' (narrow frames)' : '')));
    // A deep zoom keeps the first two and the last five; the rest behind "…".
    let shown = items;
    if (items.length > 8 && !crumbsOpen) {
      const more = Views.el('button', { title: `${items.length - 7} more`, onclick: () => { crumbsOpen = true; crumbs(); } }, '…');
      shown = items.slice(0, 2).concat([more], items.slice(-5));
    }
    const parts = [];
    shown.forEach((b, i) => { if (i) parts.push(' › '); parts.push(b); });
    c.replaceChildren(...(items.length > 1 ? parts : []));
  }

  function legend() {
    const l = $('legend');
    const sw = (color, pattern) => { const s = Views.el('span', { class: 'sw' }); s.style.background = color; if (pattern) s.classList.add(pattern); return s; };
    if (meta.has_base) {
      l.replaceChildren('Widths: ' + { new: 'the new profile', base: 'the base', max: 'the larger of both' }[S.w] + '. Colour: the change against the base',
        sw(Flame.diffColor(1)), 'grew', sw(Flame.diffColor(0.3)), 'grew a little', sw(Flame.diffColor(-1)), 'shrank', sw('#e0e0e0'),
        flameData.noise_test ? 'within sampling noise (binomial test on sample counts, 95%)' : 'no noise test: these values are not sample counts',
        sw('#d8d8d8'), 'narrow frames, hatched: click to draw');
    } else {
      l.replaceChildren('Colour: package (crate). Hatched boxes stand for frames too narrow to draw, dashed ones for runs of runtime frames (Fold runtime): click either to draw what they hold. Click a frame to zoom; search highlights matches.');
    }
  }

  // Arrow keys walk the drawn frames; Enter zooms, Escape zooms out.
  function keys(e) {
    const f = e.target.closest('.frame');
    if (!f) return;
    const k = flameBoxes.findIndex((b) => b.i === Number(f.dataset.i));
    const b = flameBoxes[k];
    const icicle = S.view === 'icicle';
    let next = -1;
    const parent = () => { for (let j = k - 1; j >= 0; j--) if (flameBoxes[j].d === b.d - 1) return j; return -1; };
    const child = () => (k + 1 < flameBoxes.length && flameBoxes[k + 1].d === b.d + 1 ? k + 1 : -1);
    const sibling = (dir) => {
      let best = -1;
      flameBoxes.forEach((o, j) => { if (o.d === b.d && (dir > 0 ? o.x > b.x : o.x < b.x) && (best < 0 || Math.abs(o.x - b.x) < Math.abs(flameBoxes[best].x - b.x))) best = j; });
      return best;
    };
    switch (e.key) {
      case 'ArrowUp': next = icicle ? parent() : child(); break;
      case 'ArrowDown': next = icicle ? child() : parent(); break;
      case 'ArrowLeft': next = sibling(-1); break;
      case 'ArrowRight': next = sibling(1); break;
      case 'Enter': case ' ': activate(b.i); e.preventDefault(); return;
      case 'Escape': if (flameData.path.length) zoom(flameData.path[flameData.path.length - 1][0], ''); return;
      default: return;
    }
    e.preventDefault();
    if (next >= 0) {
      const el = document.querySelector(`#flame .frame[data-i="${flameBoxes[next].i}"]`);
      if (el) el.focus();
    }
  }

  // --- the other views ------------------------------------------------------
  const handlers = {
    source: (name) => { S.fn = '^' + name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$'; S.view = 'source'; writeURL(true); show(); },
    focus: (name) => { S.params.f = '^' + name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$'; S.view = 'flame'; fillControls(); changed(true); },
    sortBy: (key) => { S.params.sort = key; writeURL(true); show(); },
    setFn: (fn) => { S.fn = fn; writeURL(true); show(); },
    groupBy: (key) => { S.params.group = key; S.view = 'flame'; fillControls(); changed(true); },
    tagFocus: (key, value) => { S.params.tf = key + '=' + value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); fillControls(); changed(true); },
  };

  async function showTable(path, draw, extra, needsFn) {
    const my = ++seq;
    const main = $('main');
    $('crumbs').replaceChildren();
    $('legend').replaceChildren();
    $('match').textContent = '';
    if (needsFn && !S.fn) { showError(''); status(''); draw(main, null, Object.assign({ fn: S.fn, sort: S.params.sort || 'flat' }, handlers)); return; }
    status('loading…');
    try {
      const j = await api(path, extra);
      if (my !== seq) return;
      showError('');
      status(j.total_label ? `Total: ${j.total_label}` : '');
      warn(j);
      draw(main, j, Object.assign({ fn: S.fn, sort: S.params.sort || 'flat' }, handlers));
    } catch (e) {
      if (my !== seq) return;
      showError(e.message);
      status('');
      if (needsFn) draw(main, null, Object.assign({ fn: S.fn }, handlers));
      else main.replaceChildren();
    }
  }

  function show() {
    for (const b of document.querySelectorAll('#views button')) b.setAttribute('aria-pressed', String(b.dataset.view === S.view));
    // Search and export belong to the flame graph.
    for (const id of ['search', 'match', 'fold-box']) $(id).hidden = !isFlame();
    document.querySelector('.export').hidden = !isFlame();
    $('tip').hidden = true;
    if (!meta || meta.error) return;
    showFilters();
    switch (S.view) {
      case 'top': return showTable('top', Views.top);
      case 'peek': return showTable('peek', Views.peek, { fn: S.fn }, true);
      case 'source': return showTable('source', Views.source, { fn: S.fn }, true);
      case 'graph': return showTable('graph', Views.graph);
      case 'labels': return showTable('labels', Views.labels);
      default: return loadFlame();
    }
  }

  // --- refresh, export --------------------------------------------------------
  async function refresh() {
    const btn = $('refresh');
    btn.disabled = true;
    const start = Date.now();
    const of = meta.refresh_seconds ? ` of about ${meta.refresh_seconds} s` : '';
    const what = meta.fetches ? 'fetching the profile again' : 'reading the profile again';
    const tick = () => status(`${what}… ${Math.round((Date.now() - start) / 1000)} s${of}`);
    tick();
    const timer = setInterval(tick, 500);
    try {
      const r = await fetch('/api/refresh', { method: 'POST' });
      const j = await r.json();
      if (!r.ok || j.error) throw new Error(j.error || `the server answered ${r.status}`);
      meta = j;
      showError('');
      fillControls();
      show();
    } catch (e) {
      showError('refresh failed: ' + e.message);
      status('');
    } finally {
      clearInterval(timer);
      btn.disabled = false;
    }
  }

  function download(name, type, text) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type }));
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
  }

  function svgOfView() {
    if (!flameData) return '';
    return Flame.toSVG(flameData, { width: 1200, icicle: S.view === 'icicle', diff: meta.has_base, title: $('title').textContent });
  }

  function exportPNG() {
    const svg = svgOfView();
    if (!svg) return;
    const img = new Image();
    img.onload = () => {
      const c = document.createElement('canvas');
      c.width = img.width; c.height = img.height;
      const ctx = c.getContext('2d');
      ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, c.width, c.height);
      ctx.drawImage(img, 0, 0);
      c.toBlob((b) => { const a = document.createElement('a'); a.href = URL.createObjectURL(b); a.download = 'sonde-flame.png'; a.click(); });
    };
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
  }

  // One self-contained HTML file: this view's data, the renderer and the
  // styles, with hover and zoom working offline.
  async function exportHTML() {
    if (!flameData) { showError('export works on the flame graph and icicle views'); return; }
    const [css, js] = await Promise.all([fetch('/app.css').then((r) => r.text()), fetch('/flame.js').then((r) => r.text())]);
    const state = { icicle: S.view === 'icicle', diff: !!meta.has_base, title: $('title').textContent, url: location.href };
    const data = JSON.stringify(flameData).replace(/</g, '\\u003c');
    const boot = `
const DATA=${data}, STATE=${JSON.stringify(state).replace(/</g, '\\u003c')};
let view=DATA; const el=document.getElementById('flame'), tip=document.getElementById('tip');
function draw(){ Flame.render(el, view, STATE); document.getElementById('back').hidden = view===DATA; }
el.addEventListener('click',e=>{const f=e.target.closest('.frame'); if(!f)return; const i=Number(f.dataset.i); if(i>0 && !(view.nodes[i][4]&1)){view=Flame.subtree(view,i); draw();}});
el.addEventListener('mousemove',e=>{const f=e.target.closest('.frame'); if(!f){tip.hidden=true;return;} tip.textContent=view.nodes[Number(f.dataset.i)][7]; tip.hidden=false; tip.style.left=(e.clientX+12)+'px'; tip.style.top=(e.clientY+14)+'px';});
el.addEventListener('mouseleave',()=>{tip.hidden=true;});
document.getElementById('back').addEventListener('click',()=>{view=DATA; draw();});
draw();`;
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHTML(state.title)}</title><style>${css}</style></head><body>
<header><span class="brand">sonde</span> <span>${escapeHTML(state.title)}</span> <span>saved from ${escapeHTML(state.url)}</span> <button id="back" hidden>Unzoom</button></header>
<div id="status">Total: ${escapeHTML(flameData.total_label)} ${escapeHTML(flameData.sample_type)}</div>
<main><div id="flame"></div></main><div id="tip" role="tooltip" hidden></div>
<script>${js.replace(/<\/script/gi, '<\\/script')}</script><script>${boot}</script></body></html>`;
    download('sonde-view.html', 'text/html', html);
  }

  function escapeHTML(s) { return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c])); }

  // --- the store's timeline -------------------------------------------------
  // Each stored profile is a bar at its time (height: its total). Drag to
  // choose the window (merged as --from/--to merge it); Shift+drag, or drag
  // with "base" chosen, for a base window: the view becomes a comparison.
  let timelineData = null;
  async function loadTimeline() {
    const box = $('timeline');
    if (!meta.store) { box.hidden = true; return; }
    try {
      const r = await fetch('/api/timeline');
      timelineData = await r.json();
      if (timelineData.error) throw new Error(timelineData.error);
    } catch (e) { showError('timeline: ' + e.message); return; }
    box.hidden = false;
    drawTimeline();
  }

  function drawTimeline() {
    const box = $('timeline');
    const es = timelineData.entries;
    if (!es.length) { box.replaceChildren('The store holds no profiles of this kind yet.'); return; }
    const NS = 'http://www.w3.org/2000/svg';
    const mk = (tag, attrs) => { const e = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); return e; };
    const W = Math.max(300, box.clientWidth - 20), H = 64;
    const t0 = Math.min(...es.map((e) => e.start)), t1 = Math.max(...es.map((e) => e.end));
    const span = Math.max(1, t1 - t0);
    const x = (t) => 4 + ((t - t0) / span) * (W - 8);
    const tAt = (px) => t0 + ((px - 4) / (W - 8)) * span;
    const max = Math.max(1, ...es.map((e) => Math.abs(e.total)));
    const svg = mk('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${es.length} stored profiles` });
    const band = (from, to, cls) => {
      if (from == null && to == null) return;
      const a = x(from == null ? t0 : from), b = x(to == null ? t1 : to);
      svg.append(mk('rect', { class: cls, x: Math.min(a, b), y: 1, width: Math.max(2, Math.abs(b - a)), height: H - 2 }));
    };
    const ns = (iso) => (iso ? Date.parse(iso) * 1e6 : null);
    const win = S.params.from || S.params.to ? [ns(S.params.from), ns(S.params.to)] : timelineData.window;
    const base = S.params.bfrom || S.params.bto ? [ns(S.params.bfrom), ns(S.params.bto)] : timelineData.base;
    band(win[0], win[1], 'sel');
    if (base[0] != null || base[1] != null || meta.has_base) band(base[0], base[1], 'base');
    for (const e of es) {
      const h = Math.max(3, (Math.abs(e.total) / max) * (H - 10));
      const r = mk('rect', { class: 'bar', x: x(e.start), y: H - 2 - h, width: Math.max(2, x(e.end) - x(e.start)), height: h });
      const title = mk('title', {});
      title.textContent = `${e.file}\n${new Date(e.end / 1e6).toISOString()}\n${e.type}: ${e.total_label}`;
      r.append(title);
      svg.append(r);
    }
    let start = null, temp = null;
    const px = (ev) => ((ev.clientX - svg.getBoundingClientRect().left) / svg.getBoundingClientRect().width) * W;
    svg.addEventListener('mousedown', (ev) => { start = px(ev); temp = mk('rect', { class: ev.shiftKey || $('tl-base').checked ? 'base' : 'sel', x: start, y: 1, width: 1, height: H - 2 }); svg.append(temp); });
    svg.addEventListener('mousemove', (ev) => { if (start == null) return; const p = px(ev); temp.setAttribute('x', Math.min(p, start)); temp.setAttribute('width', Math.abs(p - start)); });
    svg.addEventListener('mouseup', (ev) => {
      if (start == null) return;
      const p = px(ev);
      const [a, b] = [Math.min(p, start), Math.max(p, start)];
      start = null;
      if (b - a < 3) { temp.remove(); return; }
      const iso = (t) => new Date(Math.round(t / 1e6)).toISOString();
      if (ev.shiftKey || $('tl-base').checked) { S.params.bfrom = iso(tAt(a)); S.params.bto = iso(tAt(b)); } else { S.params.from = iso(tAt(a)); S.params.to = iso(tAt(b)); }
      windowChanged();
    });
    const clear = Views.el('button', { onclick: () => { for (const k of ['from', 'to', 'bfrom', 'bto']) delete S.params[k]; windowChanged(); } }, 'Whole store');
    const baseToggle = Views.el('label', {}, Views.el('input', { type: 'checkbox', id: 'tl-base' }), ' drag chooses the base');
    box.replaceChildren(svg, Views.el('div', { class: 'hint' }, `${es.length} profiles, ${new Date(t0 / 1e6).toISOString()} to ${new Date(t1 / 1e6).toISOString()}. Drag to choose the window (merged); Shift+drag for a base window to compare with. `, baseToggle, ' ', clear));
  }

  async function windowChanged() {
    S.root = 0; S.below = ''; S.unfold = '';
    writeURL(true);
    try {
      const r = await fetch('/api/meta?' + apiParams());
      const m = await r.json();
      if (m.error) throw new Error(m.error);
      meta = m;
      showError('');
    } catch (e) { showError(e.message); return; }
    fillControls();
    drawTimeline();
    show();
  }

  // --- start ----------------------------------------------------------------
  async function start() {
    readURL();
    bind();
    try {
      const r = await fetch('/api/meta?' + apiParams());
      meta = await r.json();
    } catch (e) {
      showError('cannot reach the sonde web server: ' + e.message + '. Is it still running?');
      return;
    }
    if (meta.error) {
      showError('The profile could not be loaded:\n' + meta.error);
      $('main').replaceChildren(Views.el('p', {}, 'Fix the profile (or the server it comes from), then press Refresh.'));
      return;
    }
    fillControls();
    loadTimeline();
    show();
  }

  start();
})();
