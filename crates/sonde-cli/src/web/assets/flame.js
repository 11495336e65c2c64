'use strict';
// The flame graph: lays out the rows /api/flame sends, depth-first, each
// [id, name, depth, width, flags, frames, change, tip, limit], as boxes.
// Every number shown comes from the server; this file only places boxes.
const Flame = (() => {
  const F = { STUB: 1, MATCH: 2, MATCH_BELOW: 4, NOISE: 8, ONLY_BASE: 16, ONLY_NEW: 32, GROUP: 64 };
  const ROW = 18;

  function hash(s) {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
    return h;
  }

  // Warm colours, one per package (a Rust crate, a Go package).
  function packageColor(pkg) {
    if (!pkg) return '#d0d0d0';
    const h = hash(pkg);
    return `hsl(${5 + (h % 48)}, ${62 + ((h >>> 8) % 24)}%, ${60 + ((h >>> 16) % 16)}%)`;
  }

  // The change as a diverging red (grew) to blue (shrank) colour: ColorBrewer's
  // RdBu ends, readable with every common colour-vision deficiency.
  function diffColor(c) {
    const t = Math.min(1, Math.abs(c));
    const to = c > 0 ? [178, 24, 43] : [33, 102, 172];
    const from = [247, 247, 247];
    return `rgb(${from.map((f, i) => Math.round(f + (to[i] - f) * (0.25 + 0.75 * t) * (c === 0 ? 0 : 1))).join(',')})`;
  }

  function nameOf(data, r) {
    if (r[4] & F.STUB) return r[4] & F.ONLY_BASE ? `+${r[5]} frames only in the base` : `+${r[5]} frames`;
    return data.names[r[1]];
  }

  function colorOf(data, r, diff) {
    if (diff) return (r[4] & F.NOISE) ? '#e0e0e0' : diffColor(r[6]);
    if (r[4] & F.STUB) return '#d8d8d8';
    return packageColor(data.packages[data.pkgs[r[1]]]);
  }

  // Boxes for a width in pixels: {r, i, x, w, d} per row drawn.
  function layout(data, width) {
    const rows = data.nodes;
    const boxes = [];
    if (!rows.length || rows[0][3] <= 0) return { boxes, depth: 0 };
    const scale = width / rows[0][3];
    const xAt = [0];
    const right = [width];
    let depth = 0;
    rows.forEach((r, i) => {
      const d = r[2];
      const x = xAt[d] ?? 0;
      let w = r[3] * scale;
      if (r[4] & F.STUB) w = Math.max(w, 3); // never dropped: still hoverable
      const limit = d === 0 ? width : right[d - 1];
      w = Math.max(0, Math.min(w, limit - x));
      xAt[d] = x + w;
      xAt[d + 1] = x;
      right[d] = x + w;
      if (w > 0) {
        boxes.push({ r, i, x, w, d });
        depth = Math.max(depth, d);
      }
    });
    return { boxes, depth };
  }

  // Draws `data` into `el` (a flame graph, or an icicle with opts.icicle).
  function render(el, data, opts) {
    const width = Math.max(200, el.clientWidth || opts.width || 1200);
    const { boxes, depth } = layout(data, width);
    el.classList.add('flame');
    el.replaceChildren();
    el.style.height = `${(depth + 1) * ROW}px`;
    el.setAttribute('role', 'tree');
    el.setAttribute('aria-label', 'Flame graph: arrow keys move, Enter zooms, Escape zooms out');
    // One string of HTML: much faster than an element at a time for the
    // thousands of boxes of a large profile.
    const html = [];
    for (const b of boxes) {
      const r = b.r;
      let cls = 'frame';
      if (r[4] & F.STUB) cls += ' stub';
      if (r[4] & F.GROUP) cls += ' group';
      if ((r[4] & F.MATCH) || ((r[4] & F.STUB) && (r[4] & F.MATCH_BELOW))) cls += ' match';
      if (opts.diff && (r[4] & F.NOISE)) cls += ' noise';
      const top = opts.icicle ? b.d * ROW : (depth - b.d) * ROW;
      const name = esc(nameOf(data, r));
      html.push(`<div class="${cls}" data-i="${b.i}" tabindex="${b.i === 0 ? 0 : -1}" role="treeitem" aria-label="${name}" ` +
        `style="left:${b.x.toFixed(1)}px;width:${b.w.toFixed(1)}px;top:${top}px;background-color:${colorOf(data, r, opts.diff)}">${b.w > 24 ? name : ''}</div>`);
    }
    el.innerHTML = html.join('');
    return { boxes, depth, width };
  }

  // The rows of one frame's subtree, as a view of its own (for zooming in a
  // saved page, which has no server to ask).
  function subtree(data, i) {
    const rows = data.nodes;
    const d0 = rows[i][2];
    const out = [];
    for (let j = i; j < rows.length; j++) {
      if (j > i && rows[j][2] <= d0) break;
      const r = rows[j].slice();
      r[2] -= d0;
      out.push(r);
    }
    // The path to the new root: the old path, then the frames above it.
    const above = [];
    let want = d0 - 1;
    for (let j = i - 1; j >= 0 && want >= 0; j--) {
      if (rows[j][2] === want && !(rows[j][4] & F.STUB)) { above.unshift([rows[j][0], data.names[rows[j][1]]]); want--; }
    }
    return Object.assign({}, data, { nodes: out, path: (data.path || []).concat(above) });
  }

  function esc(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  }

  // The drawn view as a standalone SVG document.
  function toSVG(data, opts) {
    const width = opts.width || 1200;
    const { boxes, depth } = layout(data, width);
    const h = (depth + 1) * ROW;
    const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h + 24}" font-family="sans-serif" font-size="11">`,
      `<text x="4" y="14" font-size="13">${esc(opts.title || 'sonde flame graph')}</text>`];
    for (const b of boxes) {
      const r = b.r;
      const y = 20 + (opts.icicle ? b.d * ROW : (depth - b.d) * ROW);
      const name = nameOf(data, r);
      parts.push(`<g><title>${esc(r[7])}</title><rect x="${b.x.toFixed(1)}" y="${y}" width="${b.w.toFixed(1)}" height="${ROW - 1}" fill="${colorOf(data, r, opts.diff)}"/>` +
        (b.w > 24 ? `<text x="${(b.x + 3).toFixed(1)}" y="${y + 13}" clip-path="inset(0)">${esc(name.slice(0, Math.floor(b.w / 6.5)))}</text>` : '') + '</g>');
    }
    parts.push('</svg>');
    return parts.join('\n');
  }

  return { F, ROW, render, layout, subtree, toSVG, nameOf, packageColor, diffColor };
})();
