// The test-set explorer of the HTML paper: an Alpine.js component over the page data that
// fmnist_lib/explorer_view.py writes into <script id="fmnist-explorer-data">. The data stays
// outside Alpine's reactive state (a plain closure): only the reader's choices are reactive.
document.addEventListener("alpine:init", () => {
  const D = JSON.parse(document.getElementById("fmnist-explorer-data").textContent);
  const S = D.seeds.length;             // rows 0..S-1: seeds, row S: the seed ensemble
  const [A, B] = D.models.map((m) => m.key);  // A: Simple CNN, B: LeNet-5 (B - A is shown)
  const y = Array.from(D.y, Number);
  const pred = Object.fromEntries(D.models.map((m) => [m.key, D.pred[m.key].map((s) => Array.from(s, Number))]));
  const included = D.images.map((im) => im.index);
  const limit = Math.max(1, ...D.diff.flat(2).map(Math.abs));  // one colour scale for every seed
  const pixels = new Map();             // PNG data URI -> Promise of its values in 0..255 (row by row)

  function decode(src) {
    if (!pixels.has(src)) {
      pixels.set(src, new Promise((resolve, reject) => {
        const img = new Image();
        img.onload = () => {
          const c = document.createElement("canvas");
          c.width = img.width; c.height = img.height;
          const g = c.getContext("2d", {willReadFrequently: true});
          g.drawImage(img, 0, 0);
          const rgba = g.getImageData(0, 0, c.width, c.height).data;
          resolve(Float32Array.from({length: rgba.length / 4}, (_, k) => rgba[4 * k]));
        };
        img.onerror = () => reject(new Error("explorer: an embedded image could not be decoded"));
        img.src = src;
      }));
    }
    return pixels.get(src);
  }

  function hex(h) { return [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16)); }
  function luminance(rgb) {
    const lin = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  }
  const heat = D.lut.heat.map(hex);

  function matches(kind, cls, cell, r) {
    const a = pred[A][r], b = pred[B][r];
    switch (kind) {
      case "true": return (k) => y[k] === cls;
      case "pred-" + A: return (k) => a[k] === cls;
      case "pred-" + B: return (k) => b[k] === cls;
      case "disagree": return (k) => a[k] !== b[k];
      case "bothwrong": return (k) => a[k] !== y[k] && b[k] !== y[k];
      case "cell": return (k) => y[k] === cell[0] && (a[k] === cell[1] || b[k] === cell[1]);
      default: return () => true;
    }
  }

  Alpine.data("fmnistExplorer", () => ({
    ready: false,
    classes: D.classes, short: D.short, models: D.models, methods: D.methods, seeds: D.seeds,
    panels: D.models.flatMap((model) => D.methods.map((method) => ({model, method}))),
    kind: "all", cls: 0, cell: [6, 0], row: S, pos: 0, mapPick: 0, overlay: false, hover: null,

    init() {
      ["kind", "cls", "cell", "row"].forEach((v) => this.$watch(v, () => { this.pos = 0; this.mapPick = 0; }));
      this.$watch("pos", () => { this.mapPick = 0; });
      this.ready = true;
    },
    get test() { const f = matches(this.kind, this.cls, this.cell, this.row); return y.filter((_, k) => f(k)).length; },
    get matches() {
      const f = matches(this.kind, this.cls, this.cell, this.row);
      return D.images.filter((im) => f(im.index));
    },
    get current() { return this.matches[Math.min(this.pos, this.matches.length - 1)] || null; },
    get posOne() { return this.pos + 1; },
    set posOne(v) { const n = Math.round(Number(v)); if (n >= 1 && n <= this.matches.length) this.pos = n - 1; },
    step(d) { this.pos = Math.max(0, Math.min(this.matches.length - 1, this.pos + d)); },

    rowName() { return this.row < S ? "seed " + D.seeds[this.row] : "seed ensemble"; },
    perClass() {
      const n = D.classes.map((_, c) => y.filter((v) => v === c).length);
      const lo = Math.min(...n), hi = Math.max(...n);
      return lo === hi ? lo.toLocaleString("en") : `${lo.toLocaleString("en")} to ${hi.toLocaleString("en")}`;
    },
    countText() {
      const n = this.test, m = this.matches.length;
      if (!m) return `${n.toLocaleString("en")} of the ${D.n_test.toLocaleString("en")} test images match (${this.rowName()}); none of them is among the ${included.length} included with their maps. Choose another set.`;
      return `${n.toLocaleString("en")} of the ${D.n_test.toLocaleString("en")} test images match (${this.rowName()}); ${m} of them are included with their maps.`;
    },
    cellName() { return `true ${D.classes[this.cell[0]]}, predicted ${D.classes[this.cell[1]]}`; },
    pickCell(i, j) { this.cell = [i, j]; this.kind = "cell"; },
    at: [0, 0],  // the matrix is one Tab stop; the arrow keys move between its cells
    moveCell(e, i, j) {
      const step = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]}[e.key];
      if (!step) return;
      e.preventDefault();
      const n = D.classes.length, to = [Math.min(n - 1, Math.max(0, i + step[0])), Math.min(n - 1, Math.max(0, j + step[1]))];
      this.at = to;
      // focus now, not on the next tick: a second key pressed before then would reach the old
      // cell and move from there (fast key repeat lost every other step)
      this.$root.querySelector(`.fx-cell[data-true="${to[0]}"][data-pred="${to[1]}"]`).focus();
    },
    cellValue(i, j) { const v = D.diff[this.row][i][j]; return v ? (v > 0 ? "+" : "\u2212") + Math.abs(v) : "0"; },
    cellText(i, j) {
      const sign = (v) => (v > 0 ? "+" : v < 0 ? "\u2212" : "") + Math.abs(v);
      const per = D.seeds.map((s, r) => `seed ${s}: ${sign(D.diff[r][i][j])}`).join(", ");
      return `True ${D.classes[i]}, predicted ${D.classes[j]}: LeNet-5 minus Simple CNN ${sign(D.diff[this.row][i][j])} images (${this.rowName()}); ${per}; ensemble: ${sign(D.diff[S][i][j])}.`;
    },
    cellStyle(i, j) {
      const v = D.diff[this.row][i][j];
      const lut = D.lut.diff, k = Math.round(((v / limit) + 1) / 2 * (lut.length - 1));
      const bg = lut[k], lum = luminance(hex(bg));
      const fg = (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000" : "#fff";  // the better contrast
      return `background:${bg};color:${fg}`;
    },

    trueOf(im) { return y[im.index]; },
    top3(p) { return p.map((v, k) => [v, k]).sort((u, w) => w[0] - u[0]).slice(0, 3).map((e) => e[1]); },
    pct(v) { return (v / 100).toFixed(1); },
    mapClass() { const im = this.current; return im ? im.classes[Math.min(this.mapPick, im.classes.length - 1)] : 0; },
    classLabel(c) {
      const im = this.current, who = [];
      if (c === y[im.index]) who.push("true class");
      D.models.forEach((m) => { if (pred[m.key][this.row][im.index] === c) who.push(m.label + "'s prediction"); });
      return D.classes[c] + (who.length ? " (" + who.join(", ") + ")" : " (predicted at another seed)");
    },

    stateKey() {
      const im = this.current;
      return im ? `${im.index}/${this.row}/${Math.min(this.mapPick, im.classes.length - 1)}/${this.overlay}` : "";
    },
    async draw() {
      const key = this.stateKey();
      const im = this.current, row = this.row, over = this.overlay;
      const q = Math.min(this.mapPick, im ? im.classes.length - 1 : 0);
      this.drawLegend();
      if (!im) return;
      await this.$nextTick();
      const base = over ? await decode(im.png) : null;
      const sheet = await decode(im.maps);  // 28 x 28 blocks by method, model, seed, class
      if (im !== this.current || row !== this.row) return;  // the reader moved on meanwhile
      const C = im.classes.length;
      for (const canvas of this.$root.querySelectorAll(".fx-map canvas")) {
        const mi = D.methods.findIndex((t) => t.key === canvas.dataset.method);
        const a = D.models.findIndex((m) => m.key === canvas.dataset.model);
        const seeds = row < S ? [row] : D.seeds.map((_, s) => s);  // the ensemble: their mean
        const offsets = seeds.map((s) => 784 * (((mi * D.models.length + a) * S + s) * C + q));
        const g = canvas.getContext("2d"), out = g.createImageData(28, 28);
        for (let k = 0; k < 784; k++) {
          const v = offsets.reduce((sum, o) => sum + sheet[o + k], 0) / offsets.length;  // 0..255
          const c = heat[Math.round(v)];
          for (let ch = 0; ch < 3; ch++) out.data[4 * k + ch] = base ? 0.5 * c[ch] + 0.5 * base[k] : c[ch];
          out.data[4 * k + 3] = 255;
        }
        g.putImageData(out, 0, 0);
        const empty = offsets.every((o) => sheet.subarray(o, o + 784).every((v) => v === 0));
        canvas.closest("figure").classList.toggle("fx-empty", empty);  // Grad-CAM can be 0 everywhere
      }
      const grid = this.$root.querySelector(".fx-map-grid");
      if (grid) grid.dataset.drawn = key;  // the tests wait for this
    },
    drawLegend() {
      const bar = this.$root.querySelector(".fx-legend-bar");
      if (!bar) return;
      const g = bar.getContext("2d"), out = g.createImageData(256, 1);
      heat.forEach((c, k) => { out.data.set([...c, 255], 4 * k); });
      g.putImageData(out, 0, 0);
    },
  }));
});
