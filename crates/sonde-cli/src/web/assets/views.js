'use strict';
// The table views (Top, Peek, Source, Labels) and the call graph. Each draws
// the JSON of one endpoint; the numbers and their labels are the server's.
const Views = (() => {
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }

  function table(headers, rows, cls) {
    return el('table', { class: 'report ' + (cls || '') },
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows));
  }

  function labelLines(labels) {
    return el('pre', { class: 'labels' }, (labels || []).join('\n'));
  }

  // Top: sortable by flat or cum (the server sorts, as `sonde top --cum`),
  // a filter box over names, a click on a name focuses the flame graph.
  let topFilter = '';
  function top(main, data, h) {
    const filter = el('input', { type: 'search', placeholder: 'Filter names (regexp)', 'aria-label': 'Filter rows', id: 'top-filter', value: topFilter });
    const headers = ['flat', 'flat%', 'sum%', 'cum', 'cum%', 'name', ''];
    if (data.has_base) headers.push('cum (new)', 'cum (base)');
    const rows = data.rows.map((r) => {
      const cells = [
        el('td', {}, r.flat_label), el('td', {}, r.flat_pct), el('td', {}, r.sum_pct),
        el('td', {}, r.cum_label), el('td', {}, r.cum_pct),
        el('td', { class: 'name' + (data.has_base ? (r.cum > 0 ? ' grew' : r.cum < 0 ? ' shrank' : '') : '') },
          el('a', { title: 'Focus the flame graph on ' + r.name, onclick: () => h.focus(r.name) }, r.name + (r.inline ? ' ' + r.inline : ''))),
        el('td', {}, el('a', { title: 'Source of ' + r.name, onclick: () => h.source(r.name) }, 'source')),
      ];
      if (data.has_base) cells.push(el('td', {}, r.new_cum_label), el('td', {}, r.base_cum_label));
      const tr = el('tr', {}, ...cells);
      tr.dataset.name = r.name;
      return tr;
    });
    const t = table(headers, rows, 'top');
    t.querySelectorAll('th').forEach((th) => {
      const key = th.textContent;
      if (key === 'flat' || key === 'cum') {
        th.title = 'Sort by ' + key;
        th.setAttribute('aria-sort', h.sort === key ? 'descending' : 'none');
        th.addEventListener('click', () => h.sortBy(key));
      }
    });
    const apply = () => {
      topFilter = filter.value;
      let re = null;
      try { re = new RegExp(filter.value, 'i'); filter.setCustomValidity(''); } catch (e) { filter.setCustomValidity(e.message); }
      for (const tr of rows) tr.hidden = re ? !re.test(tr.dataset.name) : false;
    };
    filter.addEventListener('input', apply);
    apply();
    const caption = data.has_base ? el('p', { class: 'note' }, 'The change from the base, as sonde top --base prints it (red: grew, blue: shrank), with each entry\'s cum in both profiles.') : null;
    main.replaceChildren(labelLines(data.labels), caption || '', filter, t);
  }

  function fnBox(main, value, onGo, what) {
    const input = el('input', { type: 'search', value: value || '', placeholder: 'Function regexp', 'aria-label': what + ' function', id: 'fn', spellcheck: 'false' });
    const go = el('button', { onclick: () => onGo(input.value) }, 'Show');
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') onGo(input.value); });
    return el('div', { class: 'fnbox' }, input, go);
  }

  // Peek: each matching entry with its callers above and callees below.
  function peek(main, data, h) {
    const box = fnBox(main, h.fn, h.setFn, 'Peek');
    if (!data) { main.replaceChildren(box, el('p', {}, 'Type a function name (a regular expression) to see its callers and callees.')); return; }
    const parts = [box, labelLines(data.labels)];
    const b = (x) => (data.has_base ? [el('td', {}, x)] : []);
    for (const e of data.entries) {
      const rows = [];
      for (const c of e.callers) rows.push(el('tr', {}, el('td', {}, c.label), el('td', {}, c.pct), ...b(c.base_label), el('td', {}), el('td', { class: 'name' }, '↑ ' + c.name)));
      rows.push(el('tr', { class: 'self' }, el('td', { class: 'self' }, e.flat_label + ' flat'), el('td', { class: 'self' }, e.cum_pct), ...b(e.base_cum_label), el('td', { class: 'self' }, e.cum_label + ' cum'), el('td', { class: 'name self' }, e.name)));
      for (const c of e.callees) rows.push(el('tr', {}, el('td', {}, c.label), el('td', {}, c.pct), ...b(c.base_label), el('td', {}), el('td', { class: 'name' }, '↓ ' + c.name)));
      parts.push(table(['value', 'calls%'].concat(data.has_base ? ['base'] : [], ['', 'callers ↑ / entry / callees ↓']), rows, 'peek'));
    }
    main.replaceChildren(...parts);
  }

  // Source: per-line flat and cum of each matching function.
  function source(main, data, h) {
    const box = fnBox(main, h.fn, h.setFn, 'Source');
    if (!data) { main.replaceChildren(box, el('p', {}, 'Type a function name (a regular expression), or click "source" next to one in Top, to see its source.')); return; }
    const parts = [box, el('p', {}, 'Total: ' + data.total_label)];
    for (const r of data.routines) {
      parts.push(el('h3', {}, `${r.function}  ${r.file || ''}  (flat ${r.flat_label}, cum ${r.cum_label} ${r.cum_pct})`));
      if (r.missing) parts.push(el('div', { class: 'missing', role: 'note' }, r.missing));
      const rows = r.lines.map(([no, flat, cum, text, hot, base]) =>
        el('tr', { class: hot ? 'hot' : '' }, el('td', {}, flat), el('td', {}, cum), ...(data.has_base ? [el('td', {}, base)] : []), el('td', {}, String(no)), el('td', { class: 'text' }, text == null ? '' : text)));
      parts.push(table(['flat', 'cum'].concat(data.has_base ? ['base cum'] : [], ['line', 'source']), rows, 'src'));
    }
    main.replaceChildren(...parts);
  }

  // Labels: each key's values with their totals; a click filters to one.
  function labels(main, data, h) {
    const parts = [el('p', {}, 'Total: ' + data.total_label + '. Click a value to keep only its samples (tag focus), or group the flame graph by a key.')];
    if (!data.keys.length) parts.push(el('p', {}, 'This profile has no labels.'));
    for (const k of data.keys) {
      parts.push(el('h3', {}, `${k.key} (total ${k.total_label} of the samples that carry it) `,
        el('button', { title: 'Start each stack in the flame graph with its ' + k.key + ' value', onclick: () => h.groupBy(k.key) }, 'Group the flame graph by ' + k.key)));
      if (k.numeric) parts.push(el('p', { class: 'note' }, `Numbers: filter a range with Refine → Tag focus, e.g. ${k.key}=1kb:64kb.`));
      parts.push(table(['amount', 'share', k.key], k.values.map(([v, amount, pct]) =>
        el('tr', {}, el('td', {}, amount), el('td', {}, pct), el('td', { class: 'name' }, k.numeric ? v : el('a', { title: 'Keep only these samples', onclick: () => h.tagFocus(k.key, v) }, v)))), 'labels'));
    }
    main.replaceChildren(...parts);
  }

  // The call graph: boxes in layers (callers above callees, by longest path
  // from the roots), arrows weighted by value; no Graphviz needed.
  function graph(main, data, h) {
    const n = data.nodes.length;
    if (!n) { main.replaceChildren(el('p', {}, 'No nodes to draw.')); return; }
    const out = Array.from({ length: n }, () => []);
    const indeg = new Array(n).fill(0);
    for (const [a, b] of data.edges) if (a !== b) { out[a].push(b); indeg[b]++; }
    // Layers by longest path, cycles broken in visiting order.
    const layer = new Array(n).fill(0);
    const order = [];
    const seen = new Array(n).fill(0);
    const visit = (v) => { seen[v] = 1; for (const w of out[v]) if (!seen[w]) visit(w); seen[v] = 2; order.push(v); };
    for (let v = 0; v < n; v++) if (!seen[v] && indeg[v] === 0) visit(v);
    for (let v = 0; v < n; v++) if (!seen[v]) visit(v);
    order.reverse();
    const pos = new Array(n);
    order.forEach((v, i) => { pos[v] = i; });
    for (const v of order) for (const w of out[v]) if (pos[w] > pos[v]) layer[w] = Math.max(layer[w], layer[v] + 1);
    const layers = [];
    for (const v of order) (layers[layer[v]] = layers[layer[v]] || []).push(v);
    // Order within a layer by the mean position of callers (one sweep).
    const x = new Array(n).fill(0);
    layers.forEach((L, li) => {
      if (li > 0) {
        const ins = Array.from({ length: n }, () => []);
        for (const [a, b] of data.edges) ins[b].push(x[a]);
        L.sort((a, b) => (avg(ins[a]) - avg(ins[b])));
      }
      L.forEach((v, i) => { x[v] = i; });
    });
    function avg(a) { return a.length ? a.reduce((s, v) => s + v, 0) / a.length : 0; }
    const BW = 190, BH = 46, GX = 20, GY = 50;
    const maxW = Math.max(...layers.map((L) => L.length));
    const W = maxW * (BW + GX) + GX, H = layers.length * (BH + GY) + GY;
    const cx = (v) => GX + x[v] * (BW + GX) + ((maxW - layers[layer[v]].length) * (BW + GX)) / 2;
    const cy = (v) => GY / 2 + layer[v] * (BH + GY);
    const svgNS = 'http://www.w3.org/2000/svg';
    const mk = (tag, attrs, text) => { const e = document.createElementNS(svgNS, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text != null) e.textContent = text; return e; };
    const svg = mk('svg', { class: 'graph', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Call graph' });
    const defs = mk('defs', {});
    const marker = mk('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' });
    marker.append(mk('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#555' }));
    defs.append(marker); svg.append(defs);
    const maxCum = Math.max(...data.nodes.map((d) => Math.abs(d.cum)), 1);
    for (const [a, b, weight, label, inline] of data.edges) {
      if (a === b) continue;
      const x1 = cx(a) + BW / 2, y1 = cy(a) + BH, x2 = cx(b) + BW / 2, y2 = cy(b);
      const up = y2 <= y1;
      const d = up ? `M ${x1} ${y1} C ${x1 + 80} ${y1 + 60}, ${x2 + 80} ${y2 - 60}, ${x2} ${y2}` : `M ${x1} ${y1} C ${x1} ${(y1 + y2) / 2}, ${x2} ${(y1 + y2) / 2}, ${x2} ${y2}`;
      const g = mk('g', {});
      g.append(mk('title', {}, `${data.nodes[a].name} → ${data.nodes[b].name}: ${label}`));
      g.append(mk('path', { d, fill: 'none', stroke: '#555', 'stroke-width': 1 + 5 * Math.abs(weight) / maxCum, 'stroke-dasharray': inline ? '4 2' : '', 'marker-end': 'url(#arrow)' }));
      g.append(mk('text', { x: (x1 + x2) / 2 + 4, y: (y1 + y2) / 2 }, label));
      svg.append(g);
    }
    data.nodes.forEach((d, v) => {
      const g = mk('g', { class: 'gnode', tabindex: 0 });
      g.addEventListener('click', () => h.focus(d.name));
      const share = Math.abs(d.cum) / maxCum;
      g.append(mk('title', {}, `${d.name}\nflat ${d.flat_label} (${d.flat_pct}), cum ${d.cum_label} (${d.cum_pct})`));
      g.append(mk('rect', { x: cx(v), y: cy(v), width: BW, height: BH, rx: 4, fill: `hsl(8, ${30 + 60 * share}%, ${92 - 30 * share}%)`, stroke: '#a33' }));
      g.append(mk('text', { x: cx(v) + 5, y: cy(v) + 15 }, d.name.length > 30 ? '…' + d.name.slice(-29) : d.name));
      g.append(mk('text', { x: cx(v) + 5, y: cy(v) + 30 }, `${d.flat_label} (${d.flat_pct})`));
      g.append(mk('text', { x: cx(v) + 5, y: cy(v) + 42 }, `of ${d.cum_label} (${d.cum_pct})`));
      svg.append(g);
    });
    main.replaceChildren(labelLines(data.labels), el('div', { class: 'graph-wrap' }, svg));
  }

  return { top, peek, source, labels, graph, el };
})();
