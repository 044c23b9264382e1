/*
 * report.js -- the stetho HTML report.  Plain ES2017, no libraries.
 *
 * The page gets aggregates, never samples (docs/html-report.md): a call
 * tree shared by all threads, whose nodes are (parent, function and line),
 * and per time bucket the metric sums of each (thread, node) that had
 * samples or allocations in it ("cells").  Everything shown is derived
 * here:
 *
 *   at load: a "base" tree per thread, made of the (thread, node) pairs
 *     the cells use under one root per thread
 *   cells in the chosen time range and thread (or asyncio task: a
 *     `<task NAME>` frame at a thread's root, stetho run --async) -> self
 *     per base node
 *   base nodes -> a "view" tree (lines merged into functions, library
 *     frames collapsed, threads merged: each option maps base nodes to
 *     view nodes, computed once per combination and cached)
 *   view tree -> inverted trees (bottom-up, or the callers of a function)
 *   base nodes -> function and line tables (total counted once per stack,
 *     at the outermost occurrence, so recursion does not count twice)
 *
 * A metric is a sum of columns (data.metrics[i].sum), so the memory
 * columns are just more metrics; data.series are extra timeline lanes.
 * data.leaks (a capture with memory) is `stetho leaks --json`'s object,
 * shown as the Leaks tab.
 *
 * The same page shows `stetho diff --html` (data.format
 * "stetho-diff-html/1"): one tree of both captures' matched stacks
 * instead of the cells, drawn by the same flame graph with other colours
 * (colorOf) and tooltips (tipOf), and the function delta table.
 */
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const ROW = 18;               /* flame graph row height, CSS pixels */
  const MIN_W = 0.35;           /* narrower frames are not drawn */
  const MAX_ROWS = 1200;
  const TABLE_ROWS = 300;
  const K_ROOT = 0, K_THREAD = 1, K_FRAME = 2, K_GROUP = 3;
  const LOC_USER = 0, FRAME_NATIVE = 1, FRAME_SYNTHETIC = 2;

  /* ---------------------------------------------------------------- data */

  let D;                        /* the JSON blob */
  let NC;                       /* number of cell columns */
  let metrics;                  /* [{id, label, unit, cols: [column index]}] */
  let metricById;
  let fnName, fnFile, fnShort, fnModule, fnFirst, fnKind, fnLoc, fnSearch, nfuncs;
  let siteFunc, siteLine, nsites;
  let threads;                  /* [{pid, tid, name, label}] */
  let tasks;                    /* [{node, thread, label}]: base nodes */
  let nb, bParent, bSite, bThread, bTask, outerF, outerS;
  let B, bucketNs, bucketStart, cellNode, cellVal;
  let sharedNodes;

  function decode() {
    D = JSON.parse($('stetho-data').textContent);
    if (D.format !== 'stetho-html/1')
      throw new Error('unknown data format ' + D.format);
    NC = D.columns.length;
    const colIndex = {};
    D.columns.forEach((c, k) => { colIndex[c.id] = k; });
    metrics = D.metrics.map((m) => ({
      id: m.id, label: m.label, unit: m.unit, sum: m.sum,
      cols: m.sum.map((id) => colIndex[id]).filter((k) => k !== undefined),
    }));
    metricById = {};
    metrics.forEach((m, i) => { metricById[m.id] = i; });

    const S = D.strings, F = D.funcs;
    nfuncs = F.length / 7;
    fnName = []; fnFile = []; fnShort = []; fnModule = []; fnSearch = [];
    fnFirst = new Int32Array(nfuncs); fnKind = new Uint8Array(nfuncs); fnLoc = new Uint8Array(nfuncs);
    for (let f = 0; f < nfuncs; f++) {
      const o = f * 7;
      fnName.push(S[F[o]]); fnFile.push(S[F[o + 1]]); fnShort.push(S[F[o + 2]]);
      fnModule.push(S[F[o + 3]]);
      fnFirst[f] = F[o + 4]; fnKind[f] = F[o + 5]; fnLoc[f] = F[o + 6];
      fnSearch.push((S[F[o]] + ' ' + S[F[o + 1]]).toLowerCase());
    }
    nsites = D.sites.length / 2;
    siteFunc = new Int32Array(nsites); siteLine = new Int32Array(nsites);
    for (let s = 0; s < nsites; s++) {
      siteFunc[s] = D.sites[2 * s]; siteLine[s] = D.sites[2 * s + 1];
    }
    threads = [];
    const pids = new Set();
    for (let i = 0; i < D.threads.length; i += 3) pids.add(D.threads[i]);
    for (let i = 0; i < D.threads.length; i += 3) {
      const t = { pid: D.threads[i], tid: D.threads[i + 1], name: D.threads[i + 2] };
      t.label = 'Thread ' + t.tid + (t.name ? ' (' + t.name + ')' : '') +
        (pids.size > 1 ? ' in ' + t.pid : '');
      threads.push(t);
    }

    /* the tree as the data has it, shared by the threads */
    const nodes = varints(D.nodes);
    const ns = D.nnodes;
    const sParent = new Int32Array(ns), sSite = new Int32Array(ns);
    sSite[0] = -1;
    for (let n = 1; n < ns; n++) {
      sParent[n] = n - nodes.next();
      sSite[n] = nodes.next();
      if (sParent[n] < 0 || sParent[n] >= n || sSite[n] >= nsites) throw new Error('bad node ' + n);
    }
    /* is a node the outermost occurrence of its function (line) on its path? */
    const sOuterF = new Uint8Array(ns), sOuterS = new Uint8Array(ns);
    for (let n = 1; n < ns; n++) {
      const s = sSite[n], f = siteFunc[s];
      let of = 1, os = 1;
      for (let u = sParent[n]; u > 0 && (of || os); u = sParent[u]) {
        if (sSite[u] === s) os = 0;
        if (siteFunc[sSite[u]] === f) of = 0;
      }
      sOuterF[n] = of;
      sOuterS[n] = os;
    }

    /* the tree per thread: a root per thread, then the (thread, node)
     * pairs the cells use, parents first */
    const NT = Math.max(1, threads.length);
    const ex = new Map(), eParent = [0], eShared = [0], eThread = [-1];
    const expand = (t, n) => {
      let e = ex.get(n * NT + t);
      if (e !== undefined) return e;
      const chain = [];
      for (let u = n; ; u = sParent[u]) {
        e = ex.get(u * NT + t);
        if (e !== undefined) break;
        chain.push(u);
        if (u === 0) {
          e = 0;
          break;
        }
      }
      for (let j = chain.length - 1; j >= 0; j--) {
        const id = eParent.length;
        eParent.push(e); eShared.push(chain[j]); eThread.push(t);
        ex.set(chain[j] * NT + t, id);
        e = id;
      }
      return e;
    };

    B = D.buckets.count; bucketNs = D.buckets.width_ns;
    const cells = varints(D.cells), scale = D.columns.map((c) => c.scale);
    const count = D.ncells;
    cellNode = new Int32Array(count); cellVal = new Float64Array(count * NC);
    bucketStart = new Int32Array(B + 1);
    let c = 0;
    for (let b = 0; b < B; b++) {
      bucketStart[b] = c;
      const groups = cells.next();
      for (let g = 0; g < groups; g++) {
        const t = cells.next(), n = cells.next();
        if (t >= threads.length || c + n > count) throw new Error('bad cells');
        let node = 0;
        for (let j = 0; j < n; j++, c++) {
          node += cells.next();
          if (node >= ns) throw new Error('bad cell node');
          const mask = cells.next();
          cellNode[c] = expand(t, node);
          for (let k = 0; k < NC; k++)
            if (mask & (1 << k)) cellVal[c * NC + k] = cells.next() * scale[k];
        }
      }
    }
    if (c !== count || !cells.done()) throw new Error('bad cells');
    bucketStart[B] = c;

    nb = eParent.length;
    bParent = Int32Array.from(eParent);
    bThread = Int32Array.from(eThread);
    bSite = new Int32Array(nb);
    outerF = new Uint8Array(nb);
    outerS = new Uint8Array(nb);
    for (let e = 0; e < nb; e++) {
      const n = eShared[e];
      bSite[e] = sSite[n];
      outerF[e] = sOuterF[n];
      outerS[e] = sOuterS[n];
    }
    sharedNodes = ns;
    findTasks();
  }

  /* The asyncio tasks: a synthetic `<task NAME>` frame right under a
   * thread's root (a task is not a thread: its samples are its thread's,
   * the chosen thread's among them); bTask: each base node's task, or -1. */
  function findTasks() {
    tasks = [];
    bTask = new Int32Array(nb).fill(-1);
    for (let e = 1; e < nb; e++) {
      const p = bParent[e], s = bSite[e];
      if (p > 0 && bSite[p] < 0 && s >= 0) {
        const f = siteFunc[s];
        if (fnKind[f] === FRAME_SYNTHETIC && fnName[f].startsWith('<task ')) {
          bTask[e] = tasks.length;
          tasks.push({ node: e, thread: bThread[e], label: fnName[f] });
          continue;
        }
      }
      bTask[e] = p > 0 ? bTask[p] : -1;
    }
  }

  /* Is base node n in the thread and task shown? */
  const shownNode = (n) => (S.thread < 0 || bThread[n] === S.thread) &&
    (S.task < 0 || bTask[n] === S.task);
  const selectionLabel = () => S.task >= 0
    ? tasks[S.task].label + ' in ' + threads[S.thread].label
    : S.thread >= 0 ? threads[S.thread].label : null;

  /* A reader of base64 LEB128 varints. */
  function varints(text) {
    const bin = atob(text), n = bin.length, u = new Uint8Array(n);
    for (let i = 0; i < n; i++) u[i] = bin.charCodeAt(i);
    let p = 0;
    return {
      next() {
        let b = u[p++];
        if (b < 128) return b;
        let x = b & 127, m = 128;
        do {
          b = u[p++];
          x += (b & 127) * m;
          m *= 128;
        } while (b >= 128);
        return x;
      },
      done: () => p === n,
    };
  }

  const isLib = (f) => fnKind[f] !== FRAME_SYNTHETIC && fnLoc[f] !== LOC_USER;

  /* ---------------------------------------------------------- formatting */

  function fixed(v) {
    const a = Math.abs(v);
    return v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
  }

  function fmtNs(ns) {
    const a = Math.abs(ns);
    if (a === 0) return '0';
    if (a >= 1e9) return fixed(ns / 1e9) + ' s';
    if (a >= 1e6) return fixed(ns / 1e6) + ' ms';
    if (a >= 1e3) return fixed(ns / 1e3) + ' \u00b5s';
    return Math.round(ns) + ' ns';
  }

  function fmtBytes(n) {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    for (; Math.abs(n) >= 1024 && i < u.length - 1; i++) n /= 1024;
    return (i ? fixed(n) : Math.round(n)) + ' ' + u[i];
  }

  function fmt(v, unit) {
    if (unit === 'ns') return fmtNs(v);
    if (unit === 'bytes') return fmtBytes(v);
    return Math.round(v).toLocaleString('en-US');
  }

  function pct(v, total) {
    if (!total) return '';
    const p = 100 * v / total;
    return (p >= 99.95 || p === 0 ? p.toFixed(0) : p.toFixed(1)) + '%';
  }

  function fmtSeconds(ns) {
    const s = ns / 1e9;
    if (s < 60) return fixed(s) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.round((s % 3600) / 60) + ' min';
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  }

  /* The sum of a metric's columns in row i of a row-major array. */
  function mv(arr, i, m) {
    const cols = metrics[m].cols;
    let v = 0;
    for (let j = 0; j < cols.length; j++) v += arr[i * NC + cols[j]];
    return v;
  }

  function rowNonZero(arr, i) {
    for (let k = 0; k < NC; k++) if (arr[i * NC + k]) return true;
    return false;
  }

  /* "wall 1.2 s = user 0.4 s + sys 0.1 s + waiting 0.7 s (io 0.2 s, ...)",
   * from get(metric id); then any other metric the data has. */
  function formula(get) {
    const has = (id) => metricById[id] !== undefined;
    const parts = [];
    const shown = new Set(['samples']);
    if (has('wall') && has('user') && has('sys') && has('wait')) {
      const waits = ['io', 'sleep', 'lock', 'gil', 'other'].filter(has);
      const detail = waits.filter((id) => get(id) > 0).map((id) => id + ' ' + fmtNs(get(id)));
      parts.push('wall <b>' + fmtNs(get('wall')) + '</b> = user <b>' + fmtNs(get('user')) +
        '</b> + sys <b>' + fmtNs(get('sys')) + '</b> + waiting <b>' + fmtNs(get('wait')) + '</b>' +
        (detail.length ? ' (' + detail.join(', ') + ')' : ''));
      ['wall', 'cpu', 'user', 'sys', 'wait'].concat(waits).forEach((id) => shown.add(id));
    }
    metrics.forEach((m) => {
      if (!shown.has(m.id)) parts.push(esc(m.label) + ' <b>' + fmt(get(m.id), m.unit) + '</b>');
    });
    if (has('samples')) parts.push('<b>' + fmt(get('samples'), 'count') + '</b> samples');
    return parts.join(' \u00b7 ');
  }

  /* ---------------------------------------------------------------- state */

  const S = {
    metric: 0,
    thread: -1,               /* -1: every thread */
    task: -1,                 /* -1: every task (of the thread shown) */
    merge: false,
    collapse: true,
    byLine: false,
    native: true,             /* native (C/C++) frames shown */
    view: 'tree',             /* tree, inverted, callers */
    target: -1,               /* function whose callers are shown */
    range: null,              /* [first bucket, end bucket) */
    query: '',
    zoomPath: [],             /* lids from the root to the zoomed node */
    zoom: 0,
    focus: 0,
    table: 'funcs',
    sort: { m: -1, which: 'self', desc: true },   /* m: metric, -1: the current one */
  };

  let baseSelf, baseTotal;    /* per base node, row-major NC columns */
  let funcSelf, funcTotal, siteSelf, siteTotal;
  let bucketSums, bucketThreads;     /* per bucket, for the thread shown */
  const viewCache = new Map();
  let V;                      /* the view tree in use */
  let T;                      /* the tree drawn: V or an inverted tree */
  let val, selfVal;           /* T's current metric, per node */
  let matches = null;         /* T's nodes matching the search */
  let colorOf, tipOf;         /* a frame's colour and tooltip */
  let DIFF = null;            /* the diff page's state (diffMain) */

  /* ----------------------------------------------------------- aggregate */

  function aggregate() {
    const b0 = S.range ? S.range[0] : 0, b1 = S.range ? S.range[1] : B;
    const self = new Float64Array(nb * NC);
    const c1 = bucketStart[b1];
    for (let c = bucketStart[b0]; c < c1; c++) {
      const n = cellNode[c];
      if (!shownNode(n)) continue;
      const o = n * NC, oc = c * NC;
      for (let k = 0; k < NC; k++) self[o + k] += cellVal[oc + k];
    }
    const total = self.slice();
    for (let n = nb - 1; n > 0; n--) {
      const o = n * NC, op = bParent[n] * NC;
      for (let k = 0; k < NC; k++) total[op + k] += total[o + k];
    }
    baseSelf = self;
    baseTotal = total;

    funcSelf = new Float64Array(nfuncs * NC); funcTotal = new Float64Array(nfuncs * NC);
    siteSelf = new Float64Array(nsites * NC); siteTotal = new Float64Array(nsites * NC);
    for (let n = 1; n < nb; n++) {
      const s = bSite[n];
      if (s < 0) continue;
      const f = siteFunc[s], o = n * NC, of = f * NC, os = s * NC;
      for (let k = 0; k < NC; k++) {
        funcSelf[of + k] += self[o + k];
        siteSelf[os + k] += self[o + k];
      }
      if (outerF[n]) for (let k = 0; k < NC; k++) funcTotal[of + k] += total[o + k];
      if (outerS[n]) for (let k = 0; k < NC; k++) siteTotal[os + k] += total[o + k];
    }
    viewCache.forEach((v) => { v.filled = false; });
  }

  /* Per bucket: the sums of the thread shown, and how many threads had
   * samples in it. */
  function sumBuckets() {
    bucketSums = new Float64Array(B * NC);
    bucketThreads = new Int32Array(B);
    const seen = new Int32Array(threads.length).fill(-1);
    const samples = D.columns.findIndex((col) => col.id === 'samples');
    for (let b = 0; b < B; b++) {
      const c1 = bucketStart[b + 1], o = b * NC;
      for (let c = bucketStart[b]; c < c1; c++) {
        const t = bThread[cellNode[c]];
        if (!shownNode(cellNode[c])) continue;
        if (seen[t] !== b && (samples < 0 || cellVal[c * NC + samples] > 0)) {
          seen[t] = b;
          bucketThreads[b]++;
        }
        for (let k = 0; k < NC; k++) bucketSums[o + k] += cellVal[c * NC + k];
      }
    }
  }

  /* --------------------------------------------------------------- trees */

  /* The view of the base tree for these options: each base node mapped to
   * a view node.  Library frames (collapse): a run of them that leads to a
   * shown frame becomes one group node keyed by the run's outermost
   * function; a run that leads nowhere shown is folded into the caller's
   * self time, or kept as a childless group when the stack shows nothing.
   * Native frames hidden (!native): each is left out, its time folded into
   * what its caller became (py-spy's stacks without --native). */
  function buildView(merge, collapse, byLine, native) {
    const nKeys = Math.max(nsites, nfuncs) + 1;
    const KM = 2 * nKeys + threads.length + 1;
    const parent = [0], kind = [K_ROOT], key = [-1], thr = [-1], lid = [-1];
    const map = new Map(), hidden = new Map();
    function child(p, k, ky, t) {
      const code = k === K_FRAME ? ky : k === K_GROUP ? nKeys + ky : 2 * nKeys + t;
      const mk = p * KM + code;
      let v = map.get(mk);
      if (v === undefined) {
        v = parent.length;
        parent.push(p); kind.push(k); key.push(ky); thr.push(t); lid.push(code);
        map.set(mk, v);
        if (k === K_GROUP) hidden.set(v, new Set());
      }
      return v;
    }
    const viewOf = new Int32Array(nb), shownAnc = new Int32Array(nb);
    const runStart = new Int32Array(nb), hasShown = new Uint8Array(nb);
    runStart[0] = -1;
    for (let n = 1; n < nb; n++) {
      const p = bParent[n], s = bSite[n];
      if (s < 0) {
        const v = merge ? 0 : child(0, K_THREAD, -1, bThread[n]);
        viewOf[n] = shownAnc[n] = v;
        runStart[n] = -1;
        continue;
      }
      const f = siteFunc[s], t = merge ? -1 : bThread[n];
      if (!native && fnKind[f] === FRAME_NATIVE) {
        viewOf[n] = viewOf[p];
        shownAnc[n] = shownAnc[p];
        runStart[n] = runStart[p];
        hasShown[n] = hasShown[p];
        continue;
      }
      if (!(collapse && isLib(f))) {
        let pv = shownAnc[p];
        if (runStart[p] >= 0) {
          pv = child(pv, K_GROUP, runStart[p], t);
          const set = hidden.get(pv);
          for (let u = p; bSite[u] >= 0 && isLib(siteFunc[bSite[u]]); u = bParent[u])
            set.add(siteFunc[bSite[u]]);
        }
        viewOf[n] = shownAnc[n] = child(pv, K_FRAME, byLine ? s : f, t);
        runStart[n] = -1;
        hasShown[n] = 1;
      } else {
        shownAnc[n] = shownAnc[p];
        runStart[n] = runStart[p] >= 0 ? runStart[p] : f;
        hasShown[n] = hasShown[p];
        if (hasShown[n]) {
          viewOf[n] = shownAnc[n];
        } else {
          viewOf[n] = child(shownAnc[n], K_GROUP, runStart[n], t);
          hidden.get(viewOf[n]).add(f);
        }
      }
    }
    const n = parent.length;
    const t = {
      n, KM, byLine, viewOf, hidden,
      parent: Int32Array.from(parent), kind: Uint8Array.from(kind), key: Int32Array.from(key),
      thread: Int32Array.from(thr), lid: Int32Array.from(lid),
      children: childLists(parent), inverted: false, filled: false,
    };
    t.func = (i) => t.kind[i] === K_FRAME ? (byLine ? siteFunc[t.key[i]] : t.key[i])
      : t.kind[i] === K_GROUP ? t.key[i] : -1;
    return t;
  }

  function childLists(parent) {
    const ch = new Array(parent.length);
    for (let i = 0; i < parent.length; i++) ch[i] = [];
    for (let i = 1; i < parent.length; i++) ch[parent[i]].push(i);
    return ch;
  }

  function getView(merge, collapse, byLine, native) {
    const k = (merge ? 1 : 0) + (collapse ? 2 : 0) + (byLine ? 4 : 0) + (native ? 8 : 0);
    let v = viewCache.get(k);
    if (!v) {
      v = buildView(merge, collapse, byLine, native);
      viewCache.set(k, v);
    }
    if (!v.filled) {
      const self = new Float64Array(v.n * NC);
      for (let n = 0; n < nb; n++) {
        const o = n * NC, ov = v.viewOf[n] * NC;
        for (let k2 = 0; k2 < NC; k2++) self[ov + k2] += baseSelf[o + k2];
      }
      const total = self.slice();
      for (let i = v.n - 1; i > 0; i--) {
        const o = i * NC, op = v.parent[i] * NC;
        for (let k2 = 0; k2 < NC; k2++) total[op + k2] += total[o + k2];
      }
      v.self = self;
      v.total = total;
      v.filled = true;
    }
    return v;
  }

  /* An inverted tree of view tree v: its root's children are the frames
   * where time was spent (self), their children the callers.  With target
   * >= 0, the callers of that function: the root is the function (its
   * total time, at each outermost occurrence) and the levels below are
   * who called it. */
  function buildInverted(v, target) {
    const parent = [0], lid = [-1], rep = [0];
    let vals = new Float64Array(64 * NC);
    const map = new Map();
    function child(p, u) {
      const mk = p * v.KM + v.lid[u];
      let i = map.get(mk);
      if (i === undefined) {
        i = parent.length;
        parent.push(p); lid.push(v.lid[u]); rep.push(u);
        map.set(mk, i);
        if ((i + 1) * NC > vals.length) {
          const nv = new Float64Array(vals.length * 2);
          nv.set(vals);
          vals = nv;
        }
      }
      return i;
    }
    function add(i, src, u) {
      const o = i * NC, ou = u * NC;
      for (let k = 0; k < NC; k++) vals[o + k] += src[ou + k];
    }
    for (let u = 1; u < v.n; u++) {
      if (target < 0) {
        if (!rowNonZero(v.self, u)) continue;
        let i = 0;
        add(0, v.self, u);
        for (let w = u; w !== 0; w = v.parent[w]) {
          i = child(i, w);
          add(i, v.self, u);
        }
      } else {
        if (v.func(u) !== target || !rowNonZero(v.total, u)) continue;
        let outer = true;
        for (let w = v.parent[u]; w !== 0 && outer; w = v.parent[w])
          if (v.func(w) === target) outer = false;
        if (!outer) continue;
        let i = 0;
        add(0, v.total, u);
        for (let w = v.parent[u]; w !== 0; w = v.parent[w]) {
          i = child(i, w);
          add(i, v.total, u);
        }
      }
    }
    const n = parent.length;
    return {
      n, base: v, target, inverted: true, rep: Int32Array.from(rep),
      parent: Int32Array.from(parent), lid: Int32Array.from(lid),
      children: childLists(parent),
      total: vals.slice(0, n * NC), self: new Float64Array(n * NC),
    };
  }

  /* Labels: a node of T, through the view node it stands for. */
  function viewNode(i) {
    return T.inverted ? { v: T.base, u: T.rep[i] } : { v: T, u: i };
  }

  function nodeLabel(i) {
    if (i === 0) {
      if (T.inverted && T.target >= 0) return fnName[T.target];
      if (T.inverted) return 'all (inverted)';
      return selectionLabel() || 'all';
    }
    const { v, u } = viewNode(i);
    switch (v.kind[u]) {
    case K_THREAD: return threads[v.thread[u]].label;
    case K_GROUP: {
      const mods = new Set();
      v.hidden.get(u).forEach((f) => mods.add(fnModule[f] || fnShort[f]));
      const n = v.hidden.get(u).size;
      return '[' + n + (n === 1 ? ' library frame: ' : ' library frames: ') +
        Array.from(mods).slice(0, 4).join(', ') + (mods.size > 4 ? ', \u2026' : '') + ']';
    }
    case K_FRAME: {
      const f = v.func(u);
      return v.byLine ? fnName[f] + ':' + siteLine[v.key[u]] : fnName[f];
    }
    }
    return '?';
  }

  function nodeFunc(i) {
    if (i === 0) return T.inverted && T.target >= 0 ? T.target : -1;
    const { v, u } = viewNode(i);
    return v.func(u);
  }

  function nodeKind(i) {
    if (i === 0) return T.inverted && T.target >= 0 ? K_FRAME : K_ROOT;
    const { v, u } = viewNode(i);
    return v.kind[u];
  }

  function nodeLocation(i) {
    const f = nodeFunc(i);
    if (f < 0 || nodeKind(i) === K_GROUP) return '';
    const { v, u } = viewNode(i);
    const line = i && v.byLine && v.kind[u] === K_FRAME ? siteLine[v.key[u]] : fnFirst[f];
    return fnShort[f] + (line > 0 ? ':' + line : '');
  }

  function nodeSearchText(i) {
    const k = nodeKind(i);
    if (k === K_FRAME) return fnSearch[nodeFunc(i)];
    if (k === K_GROUP) {
      const { v, u } = viewNode(i);
      let s = '';
      v.hidden.get(u).forEach((f) => { s += fnSearch[f] + ' '; });
      return s;
    }
    return nodeLabel(i).toLowerCase();
  }

  function hue(s) {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return Math.abs(h);
  }

  function nodeColor(i) {
    const k = nodeKind(i);
    if (k === K_ROOT) return '#c9ced8';
    if (k === K_THREAD) return '#b8c4d8';
    if (k === K_GROUP) return '#cfd8e6';
    const f = nodeFunc(i), h = hue(fnName[f]);
    if (fnKind[f] === FRAME_SYNTHETIC) return '#c4c4c4';
    if (fnKind[f] === FRAME_NATIVE) return 'hsl(' + (265 + h % 30) + ',45%,74%)';
    if (fnLoc[f] === LOC_USER) return 'hsl(' + (8 + h % 42) + ',80%,' + (62 + h % 9) + '%)';
    if (fnLoc[f] === 1) return 'hsl(' + (195 + h % 30) + ',50%,' + (70 + h % 8) + '%)';
    return 'hsl(' + (90 + h % 45) + ',42%,' + (66 + h % 8) + '%)';
  }

  /* ------------------------------------------------------------- updating */

  /* After the range or the thread changed: everything. */
  function recompute() {
    aggregate();
    refreshTree();
    drawTimeline();
    renderSelTotals();
    if (S.table !== 'leaks') renderTable();
  }

  /* After the metric, the view or the search changed: the graph. */
  function refreshTree() {
    if (DIFF) {
      diffValues();
      showTree();
      return;
    }
    V = getView(S.merge, S.collapse, S.byLine, S.native);
    if (S.view === 'inverted') {
      T = buildInverted(V, -1);
    } else if (S.view === 'callers' && S.target >= 0) {
      /* the target shown even where the options would fold it */
      const native = S.native || fnKind[S.target] === FRAME_NATIVE;
      const v = (isLib(S.target) && S.collapse) || native !== S.native
        ? getView(S.merge, S.collapse && !isLib(S.target), S.byLine, native) : V;
      T = buildInverted(v, S.target);
    } else {
      T = V;
    }
    val = new Float64Array(T.n);
    selfVal = new Float64Array(T.n);
    for (let i = 0; i < T.n; i++) {
      val[i] = mv(T.total, i, S.metric);
      selfVal[i] = mv(T.self, i, S.metric);
    }
    showTree();
  }

  /* T and val are new: sort, keep the zoom, draw. */
  function showTree() {
    for (let i = 0; i < T.n; i++)
      if (T.children[i].length > 1) T.children[i].sort((a, b) => val[b] - val[a]);
    /* the zoom survives a change of range or view where it can */
    let z = 0;
    for (const l of S.zoomPath) {
      const c = T.children[z].find((x) => T.lid[x] === l && val[x] > 0);
      if (c === undefined) break;
      z = c;
    }
    S.zoom = z;
    if (S.focus >= T.n || !isUnder(S.focus, z)) S.focus = z;
    computeMatches();
    renderTitle();
    renderFlame();
    renderCrumbs();
  }

  function isUnder(i, z) {
    for (; ; i = T.parent[i]) {
      if (i === z) return true;
      if (i === 0) return false;
    }
  }

  function pathTo(i) {
    const p = [];
    for (; i !== 0; i = T.parent[i]) p.push(i);
    p.push(0);
    return p.reverse();
  }

  function setZoom(i) {
    S.zoom = i;
    S.zoomPath = pathTo(i).slice(1).map((x) => T.lid[x]);
    S.focus = i;
    renderFlame();
    renderCrumbs();
    describe(i);
  }

  function showCallers(f) {
    if (f < 0) return;
    S.view = 'callers';
    S.target = f;
    S.zoomPath = [];
    $('view').value = 'callers';
    refreshTree();
    describe(0);
  }

  /* --------------------------------------------------------------- search */

  function computeMatches() {
    const q = S.query.trim().toLowerCase();
    const out = $('search-result');
    if (!q) {
      matches = null;
      out.textContent = '';
      return;
    }
    matches = new Uint8Array(T.n);
    for (let i = 0; i < T.n; i++)
      if (val[i] > 0 && nodeSearchText(i).includes(q)) matches[i] = 1;
    /* share: matching nodes with no matching ancestor, counted once */
    let share = 0;
    const funcs = new Set(), stack = [0];
    while (stack.length) {
      const i = stack.pop();
      if (matches[i]) {
        share += val[i];
        continue;
      }
      for (const c of T.children[i]) if (val[c] > 0) stack.push(c);
    }
    for (let i = 0; i < T.n; i++) if (matches[i]) funcs.add(nodeLabel(i));
    const m = metrics[S.metric];
    out.innerHTML = funcs.size
      ? '<b>' + funcs.size + '</b> matching ' + (funcs.size === 1 ? 'function' : 'functions') +
        ': <b>' + pct(share, val[0]) + '</b> of ' + esc(m.label.toLowerCase()) + ' (' + fmt(share, m.unit) + ')'
      : 'no match';
  }

  /* ---------------------------------------------------------- flame graph */

  const flame = $('flame');
  const fctx = flame.getContext('2d');
  let rects = { x: [], w: [], row: [], node: [], anc: [] };
  let rowStart = [];
  let charW = 7;

  function renderFlame() {
    const W = Math.max(200, flame.clientWidth || $('flame-wrap').clientWidth);
    const R = { x: [], w: [], row: [], node: [], anc: [] };
    const path = pathTo(S.zoom);
    const dpr = window.devicePixelRatio || 1;
    /* a canvas taller than about 32000 device pixels is not drawn at all */
    const maxRows = Math.min(MAX_ROWS, Math.floor(30000 / (ROW * dpr)) - 1);
    let maxRow = 0;
    const push = (i, x, w, row, anc) => {
      R.x.push(x); R.w.push(w); R.row.push(row); R.node.push(i); R.anc.push(anc);
      if (row > maxRow) maxRow = row;
    };
    const empty = !(val[0] > 0);
    $('flame-empty').hidden = !empty;
    if (!empty) {
      for (let r = 0; r < path.length - 1; r++) push(path[r], 0, W, r, 1);
      /* depth first, per row left to right: rows are sorted by x */
      const rows = [];
      const visit = (i, x, w, row) => {
        (rows[row] || (rows[row] = [])).push([i, x, w]);
        if (row >= maxRows) return;
        let cx = x;
        const v = val[i];
        for (const c of T.children[i]) {
          const cw = w * val[c] / v;
          if (cw < MIN_W) break;          /* sorted: the rest are narrower */
          visit(c, cx, cw, row + 1);
          cx += cw;
        }
      };
      visit(S.zoom, 0, W, path.length - 1);
      for (let r = path.length - 1; r < rows.length; r++)
        for (const [i, x, w] of rows[r] || []) push(i, x, w, r, 0);
    }
    rects = R;
    rowStart = [];
    for (let k = R.row.length - 1; k >= 0; k--) rowStart[R.row[k]] = k;

    const H = empty ? 60 : (maxRow + 1) * ROW;
    flame.style.height = H + 'px';
    flame.width = Math.round(W * dpr);
    flame.height = Math.round(H * dpr);
    fctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    fctx.clearRect(0, 0, W, H);
    fctx.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';
    charW = fctx.measureText('abcdefghijklmnopqrstuvwxyz_ABCDEF').width / 32;
    fctx.textBaseline = 'middle';
    for (let k = 0; k < R.node.length; k++) drawFrame(k);
  }

  function drawFrame(k) {
    const i = rects.node[k], x = rects.x[k], w = rects.w[k], y = rects.row[k] * ROW;
    const dim = matches && !matches[i];
    fctx.globalAlpha = rects.anc[k] ? 0.55 : 1;
    fctx.fillStyle = dim ? '#e6e8ec' : matches ? '#f0a830' : colorOf(i);
    fctx.fillRect(x, y, Math.max(w - 0.5, 0.3), ROW - 1);
    fctx.globalAlpha = 1;
    if (i === S.focus && document.activeElement === flame) {
      fctx.strokeStyle = '#0b57d0';
      fctx.lineWidth = 2;
      fctx.strokeRect(x + 1, y + 1, Math.max(w - 2.5, 1), ROW - 3);
    }
    if (w > 24) {
      const label = nodeLabel(i);
      const max = Math.floor((w - 6) / charW);
      if (max >= 2) {
        fctx.fillStyle = dim ? '#8a909a' : '#1d2330';
        fctx.fillText(label.length > max ? label.slice(0, max - 1) + '\u2026' : label, x + 3, y + ROW / 2);
      }
    }
  }

  /* The rectangle index at (x, y) in CSS pixels, or -1. */
  function hit(x, y) {
    const row = Math.floor(y / ROW);
    let k = rowStart[row];
    if (k === undefined) return -1;
    for (; k < rects.row.length && rects.row[k] === row; k++)
      if (x >= rects.x[k] && x < rects.x[k] + rects.w[k]) return k;
    return -1;
  }

  function rectOf(i) {
    for (let k = 0; k < rects.node.length; k++) if (rects.node[k] === i) return k;
    return -1;
  }

  function renderCrumbs() {
    const nav = $('crumbs');
    nav.textContent = '';
    let path = pathTo(S.zoom);
    let skipped = false;
    if (path.length > 10) {
      path = [path[0]].concat(path.slice(path.length - 8));
      skipped = true;
    }
    path.forEach((i, j) => {
      if (j) {
        const sep = document.createElement('span');
        sep.textContent = j === 1 && skipped ? '\u203a \u2026 \u203a' : '\u203a';
        nav.appendChild(sep);
      }
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = nodeLabel(i);
      b.title = nodeLabel(i) + (nodeLocation(i) ? '  ' + nodeLocation(i) : '');
      if (i === S.zoom) b.setAttribute('aria-current', 'true');
      b.addEventListener('click', () => setZoom(i));
      nav.appendChild(b);
    });
  }

  function renderTitle() {
    const m = metrics[S.metric].label.toLowerCase();
    let t;
    if (DIFF) t = 'Differential flame graph of ' + m + ': red grew, blue shrank (new \u2212 base)';
    else if (S.view === 'inverted') t = 'Inverted: where ' + m + ' was spent, and the callers below';
    else if (S.view === 'callers' && S.target >= 0) t = 'Callers of ' + fnName[S.target] + ', by ' + m;
    else if (S.view === 'callers') t = 'Callers: choose a function (c on a frame, or a table row)';
    else t = 'Flame graph of ' + m;
    $('flame-title').textContent = t;
  }

  /* One line about node i, for the status bar (keyboard users read it). */
  function describe(i) {
    if (i < 0 || i >= T.n) {
      $('status').textContent = '';
      return;
    }
    const m = metrics[S.metric];
    const loc = nodeLocation(i);
    if (DIFF) {
      $('status').textContent = nodeLabel(i) + (loc ? '  (' + loc + ')' : '') + ': ' +
        m.label.toLowerCase() + ' ' + fmt(DIFF.base[i], m.unit) + ' \u2192 ' + fmt(DIFF.neu[i], m.unit) +
        ' (' + signed(DIFF.neu[i] - DIFF.base[i], m.unit) + ')' + (i === S.zoom ? ' (zoomed)' : '');
      return;
    }
    $('status').textContent = nodeLabel(i) + (loc ? '  (' + loc + ')' : '') + ': ' +
      fmt(val[i], m.unit) + ', ' + pct(val[i], val[0]) + ' of ' + m.label.toLowerCase() +
      (T.inverted ? '' : ', self ' + fmt(selfVal[i], m.unit)) + (i === S.zoom ? ' (zoomed)' : '');
  }

  /* --------------------------------------------------------------- tooltip */

  const tip = $('tooltip');

  function nodeTip(i) {
    const loc = i === 0 ? '' : (() => {
      const f = nodeFunc(i);
      if (f < 0) return '';
      if (nodeKind(i) === K_GROUP) {
        const { v, u } = viewNode(i);
        return 'hides: ' + Array.from(v.hidden.get(u)).slice(0, 8).map((g) => fnName[g]).join(', ') +
          (v.hidden.get(u).size > 8 ? ', \u2026' : '');
      }
      const { v, u } = viewNode(i);
      const line = v.byLine && v.kind[u] === K_FRAME ? siteLine[v.key[u]] : fnFirst[f];
      return fnFile[f] + (line > 0 ? ':' + line : '');
    })();
    let h = '<div class="t-name">' + esc(nodeLabel(i)) + '</div>';
    if (loc) h += '<div class="t-loc">' + esc(loc) + '</div>';
    if (T.inverted && i)
      h += '<div class="t-loc">' + (T.target >= 0 ? 'calls ' + esc(fnName[T.target]) + ' on this path'
        : 'on the path of the time spent in the first level') + '</div>';
    h += '<table><tr><td></td><td>total</td>' + (T.inverted ? '' : '<td>self</td>') + '<td>%</td></tr>';
    metrics.forEach((m, j) => {
      const t = mv(T.total, i, j), s = mv(T.self, i, j), all = mv(T.total, 0, j);
      h += '<tr' + (j === S.metric ? ' class="cur"' : '') + '><td>' + esc(m.label) + '</td><td>' +
        fmt(t, m.unit) + '</td>' + (T.inverted ? '' : '<td>' + fmt(s, m.unit) + '</td>') +
        '<td>' + pct(t, all) + '</td></tr>';
    });
    return h + '</table>';
  }

  function showTip(html, cx, cy) {
    tip.innerHTML = html;
    tip.hidden = false;
    const r = tip.getBoundingClientRect();
    let x = cx + 14, y = cy + 14;
    if (x + r.width > window.innerWidth - 4) x = Math.max(4, cx - r.width - 14);
    if (y + r.height > window.innerHeight - 4) y = Math.max(4, cy - r.height - 14);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }

  function hideTip() {
    tip.hidden = true;
  }

  /* ------------------------------------------------------- flame: events */

  function canvasPoint(ev, el) {
    const r = el.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  flame.addEventListener('mousemove', (ev) => {
    const [x, y] = canvasPoint(ev, flame);
    const k = hit(x, y);
    if (k < 0) {
      hideTip();
      return;
    }
    showTip(tipOf(rects.node[k]), ev.clientX, ev.clientY);
  });
  flame.addEventListener('mouseleave', hideTip);
  flame.addEventListener('click', (ev) => {
    const [x, y] = canvasPoint(ev, flame);
    const k = hit(x, y);
    if (k >= 0) setZoom(rects.node[k]);
  });
  flame.addEventListener('focus', () => { renderFlame(); describe(S.focus); });
  flame.addEventListener('blur', () => renderFlame());

  function visibleChildren(i) {
    return T.children[i].filter((c) => val[c] > 0);
  }

  flame.addEventListener('keydown', (ev) => {
    let f = S.focus;
    switch (ev.key) {
    case 'ArrowDown': {
      const c = visibleChildren(f);
      if (c.length) f = c[0];
      break;
    }
    case 'ArrowUp':
      if (f !== 0) f = T.parent[f];
      break;
    case 'ArrowLeft':
    case 'ArrowRight': {
      if (f === 0) break;
      const sib = visibleChildren(T.parent[f]), j = sib.indexOf(f);
      const nj = j + (ev.key === 'ArrowLeft' ? -1 : 1);
      if (nj >= 0 && nj < sib.length) f = sib[nj];
      break;
    }
    case 'Enter':
    case ' ':
      setZoom(f);
      ev.preventDefault();
      return;
    case 'Escape':
      if (S.zoom !== 0) setZoom(T.parent[S.zoom]);
      ev.preventDefault();
      return;
    case 'Home':
      setZoom(0);
      ev.preventDefault();
      return;
    case 'c':
      if (!DIFF) showCallers(nodeFunc(f));
      return;
    default:
      return;
    }
    ev.preventDefault();
    S.focus = f;
    if (!isUnder(f, S.zoom)) setZoom(f);
    else renderFlame();
    describe(f);
    const k = rectOf(f);
    if (k >= 0) {
      const r = flame.getBoundingClientRect();
      const y = r.top + rects.row[k] * ROW;
      if (y < 40 || y > window.innerHeight - 20) window.scrollBy(0, y - window.innerHeight / 2);
    }
  });

  /* ------------------------------------------------------------- timeline */

  const tl = $('timeline');
  const tctx = tl.getContext('2d');
  const TL_PLOT = 96, TL_AXIS = 16, TL_LANE = 44;
  let drag = null;              /* [x0, x1] in CSS pixels while dragging */

  function timelineWidth() {
    return Math.max(200, tl.clientWidth);
  }

  function bucketAt(x, W) {
    return Math.max(0, Math.min(B, Math.round(x / W * B)));
  }

  function drawTimeline() {
    const W = timelineWidth();
    const series = D.series || [];
    const H = TL_PLOT + series.length * TL_LANE;
    const dpr = window.devicePixelRatio || 1;
    tl.style.height = H + 'px';
    tl.width = Math.round(W * dpr);
    tl.height = Math.round(H * dpr);
    tctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    tctx.clearRect(0, 0, W, H);
    tctx.font = '11px system-ui, sans-serif';

    /* per bucket: the threads that had samples, and how many of them were
     * on a CPU (threads x cpu / wall: a ratio, which samples falling just
     * on either side of a bucket's edge do not skew) */
    const cpu = metricById.cpu !== undefined ? metricById.cpu : 0;
    const wall = metricById.wall !== undefined ? metricById.wall : cpu;
    const top = 14, plotH = TL_PLOT - TL_AXIS - top;
    let ymax = 1;
    for (let b = 0; b < B; b++) ymax = Math.max(ymax, bucketThreads[b]);
    const X = (b) => b / B * W, Y = (v) => top + plotH - Math.min(v / ymax, 1) * plotH;
    const area = (f, color) => {
      tctx.beginPath();
      tctx.moveTo(0, top + plotH);
      for (let b = 0; b < B; b++) {
        const y = Y(f(b));
        tctx.lineTo(X(b), y);
        tctx.lineTo(X(b + 1), y);
      }
      tctx.lineTo(W, top + plotH);
      tctx.closePath();
      tctx.fillStyle = color;
      tctx.fill();
    };
    area((b) => bucketThreads[b], '#d3dbe8');
    area((b) => busyCores(b, cpu, wall), '#3b74c9');
    tctx.strokeStyle = '#c3c8d0';
    tctx.beginPath();
    tctx.moveTo(0, top + 0.5);
    tctx.lineTo(W, top + 0.5);
    tctx.moveTo(0, top + plotH + 0.5);
    tctx.lineTo(W, top + plotH + 0.5);
    tctx.stroke();
    tctx.fillStyle = '#5d6675';
    tctx.textBaseline = 'top';
    tctx.fillText(ymax + (ymax === 1 ? ' thread' : ' threads'), 4, 1);

    /* time axis */
    const dur = B * bucketNs, steps = [1, 2, 5];
    let step = 1e6;
    for (let e = 1e6; ; e *= 10) {
      const s = steps.find((f) => dur / (f * e) <= Math.max(2, W / 110));
      if (s) {
        step = s * e;
        break;
      }
    }
    tctx.textBaseline = 'top';
    for (let t = 0; t <= dur; t += step) {
      const x = t / dur * W;
      tctx.fillStyle = '#c3c8d0';
      tctx.fillRect(x, top + plotH, 1, 4);
      tctx.fillStyle = '#5d6675';
      const label = fmtNs(t);
      const lw = tctx.measureText(label).width;
      tctx.fillText(t === 0 ? '0' : label, Math.min(x + 2, W - lw - 2), top + plotH + 3);
    }

    /* more series (RSS, heap, ... when the data has them) */
    series.forEach((s, j) => {
      const y0 = TL_PLOT + j * TL_LANE, h = TL_LANE - 14;
      const vals = s.values || [];
      let max = 0;
      vals.forEach((v) => { max = Math.max(max, v); });
      tctx.strokeStyle = '#c3c8d0';
      tctx.strokeRect(0.5, y0 + 12.5, W - 1, h);
      tctx.strokeStyle = '#b0452f';
      tctx.beginPath();
      vals.forEach((v, b) => {
        const x = ((s.t0_ns || 0) + b * s.width_ns) / dur * W;
        const y = y0 + 12 + h - (max ? v / max : 0) * h;
        if (b) tctx.lineTo(x, y);
        else tctx.moveTo(x, y);
      });
      tctx.stroke();
      tctx.fillStyle = '#5d6675';
      tctx.fillText((s.label || s.id) + ' (max ' + fmt(max, s.unit) + ')', 4, y0 + 1);
    });

    /* the range: dim what is outside */
    let sel = null;
    if (drag) sel = [Math.min(drag[0], drag[1]), Math.max(drag[0], drag[1])];
    else if (S.range) sel = [X(S.range[0]), X(S.range[1])];
    if (sel) {
      tctx.fillStyle = 'rgba(255,255,255,0.65)';
      tctx.fillRect(0, 0, sel[0], H);
      tctx.fillRect(sel[1], 0, W - sel[1], H);
      tctx.fillStyle = '#1f5fbf';
      tctx.fillRect(sel[0], 0, 1, H);
      tctx.fillRect(sel[1] - 1, 0, 1, H);
    }
    if (document.activeElement === tl) {
      tctx.strokeStyle = '#0b57d0';
      tctx.lineWidth = 2;
      tctx.strokeRect(1, 1, W - 2, H - 2);
      tctx.lineWidth = 1;
    }
    $('legend').innerHTML = '<i style="background:#3b74c9"></i>on a CPU (user + sys)' +
      '<i style="background:#d3dbe8"></i>threads sampled';
  }

  /* How many CPUs the threads shown kept busy in bucket b. */
  function busyCores(b, cpu, wall) {
    const w = mv(bucketSums, b, wall);
    return w > 0 ? bucketThreads[b] * mv(bucketSums, b, cpu) / w : 0;
  }

  function setRange(b0, b1) {
    b0 = Math.max(0, Math.min(b0, B));
    b1 = Math.max(0, Math.min(b1, B));
    if (b1 <= b0 || (b0 === 0 && b1 === B)) S.range = null;
    else S.range = [b0, b1];
    $('reset-range').disabled = !S.range;
    $('range-label').textContent = S.range
      ? fmtNs(S.range[0] * bucketNs) + ' \u2013 ' + fmtNs(S.range[1] * bucketNs) +
        ' (' + fmtNs((S.range[1] - S.range[0]) * bucketNs) + ')'
      : 'drag to choose a time range';
    recompute();
  }

  tl.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0) return;
    const [x] = canvasPoint(ev, tl);
    drag = [x, x];
    tl.setPointerCapture(ev.pointerId);
    hideTip();
  });
  tl.addEventListener('pointermove', (ev) => {
    const [x] = canvasPoint(ev, tl);
    if (drag) {
      drag[1] = Math.max(0, Math.min(x, timelineWidth()));
      drawTimeline();
      return;
    }
    const W = timelineWidth(), b = Math.min(B - 1, Math.floor(x / W * B));
    if (b < 0) return;
    const cpu = metricById.cpu !== undefined ? metricById.cpu : 0;
    const wall = metricById.wall !== undefined ? metricById.wall : cpu;
    let h = '<div class="t-name">' + fmtNs(b * bucketNs) + ' \u2013 ' + fmtNs((b + 1) * bucketNs) + '</div>' +
      '<div class="t-loc">' + bucketThreads[b] + ' threads sampled, ' + busyCores(b, cpu, wall).toFixed(2) +
      ' on a CPU</div><table>';
    metrics.forEach((m, j) => {
      const v = mv(bucketSums, b, j);
      if (v) h += '<tr><td>' + esc(m.label) + '</td><td>' + fmt(v, m.unit) + '</td></tr>';
    });
    const t = (b + 0.5) * bucketNs;
    (D.series || []).forEach((s) => {
      const k = Math.floor((t - (s.t0_ns || 0)) / s.width_ns);
      if (k >= 0 && k < s.values.length)
        h += '<tr><td>' + esc(s.label || s.id) + '</td><td>' + fmt(s.values[k], s.unit) + '</td></tr>';
    });
    showTip(h + '</table>', ev.clientX, ev.clientY);
  });
  tl.addEventListener('pointerup', (ev) => {
    if (!drag) return;
    const W = timelineWidth();
    const a = Math.min(drag[0], drag[1]), z = Math.max(drag[0], drag[1]);
    drag = null;
    tl.releasePointerCapture(ev.pointerId);
    if (z - a < 3) {
      drawTimeline();
      return;
    }
    setRange(Math.floor(a / W * B), Math.max(bucketAt(z, W), Math.floor(a / W * B) + 1));
  });
  tl.addEventListener('mouseleave', hideTip);
  tl.addEventListener('dblclick', () => setRange(0, B));
  tl.addEventListener('focus', () => drawTimeline());
  tl.addEventListener('blur', () => drawTimeline());
  tl.addEventListener('keydown', (ev) => {
    const r = S.range || [0, Math.max(1, Math.round(B / 10))];
    const step = Math.max(1, Math.round((r[1] - r[0]) / 4));
    if (ev.key === 'Escape') {
      setRange(0, B);
    } else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
      const d = ev.key === 'ArrowLeft' ? -step : step;
      if (!S.range) setRange(r[0], r[1]);
      else if (ev.shiftKey) setRange(r[0], Math.max(r[0] + 1, r[1] + d));
      else if (r[0] + d >= 0 && r[1] + d <= B) setRange(r[0] + d, r[1] + d);
    } else {
      return;
    }
    ev.preventDefault();
  });
  $('reset-range').addEventListener('click', () => setRange(0, B));

  /* --------------------------------------------------------------- totals */

  function renderHeader() {
    const m = D.meta;
    const argv = (m.argv || []).map((a) => /[\s"'\\]/.test(a) || a === '' ? JSON.stringify(a) : a);
    $('cmdline').textContent = argv.join(' ') || '(unknown program)';
    const script = (m.argv || []).find((a, j) => j > 0 && !a.startsWith('-')) || m.argv[0] || '';
    document.title = 'stetho: ' + (script.split('/').pop() || 'report');
    const facts = [];
    if (m.python_version) facts.push('Python ' + esc(m.python_version));
    facts.push('duration <b>' + fmtSeconds(m.duration_ns) + '</b>');
    facts.push(fmt(D.totals.samples || 0, 'count') + ' samples every ' + fmtNs(m.interval_ns));
    facts.push(threads.length + (threads.length === 1 ? ' thread' : ' threads') +
      (m.processes > 1 ? ' in ' + m.processes + ' processes' : ''));
    if (m.exit_code !== null && m.exit_code !== undefined) facts.push('exit status ' + m.exit_code);
    if (m.start_unix_ns) facts.push('started ' + esc(new Date(m.start_unix_ns / 1e6).toLocaleString()));
    $('facts').innerHTML = facts.join(' \u00b7 ');
    const get = (id) => {
      const k = metricById[id];
      return k === undefined ? 0 : metrics[k].sum.reduce((s, c) => s + (D.totals[c] || 0), 0);
    };
    $('totals').innerHTML = 'Time: ' + formula(get) +
      (threads.length > 1 ? ' (summed over threads)' : '');
    if (m.memory_sample_bytes)
      $('totals').innerHTML += '<br>Memory: sampled, about one allocation in ' +
        fmtBytes(m.memory_sample_bytes) + ' (the byte counts are estimates)';
    if (m.truncated) {
      $('warning').hidden = false;
      $('warning').textContent = 'This capture is incomplete: ' + m.truncated;
    }
  }

  function renderSelTotals() {
    const get = (id) => {
      const k = metricById[id];
      return k === undefined ? 0 : mv(baseTotal, 0, k);
    };
    const what = (S.range ? fmtNs(S.range[0] * bucketNs) + ' \u2013 ' + fmtNs(S.range[1] * bucketNs)
      : 'Whole run') + ', ' + esc(selectionLabel() || 'all threads');
    $('sel-totals').innerHTML = '<span id="sel-what">' + what + '</span>: ' + formula(get);
  }

  /* ---------------------------------------------------------------- table */

  function renderTable() {
    const funcs = S.table === 'funcs';
    const n = funcs ? nfuncs : nsites;
    const self = funcs ? funcSelf : siteSelf, total = funcs ? funcTotal : siteTotal;
    const sm = S.sort.m < 0 ? S.metric : S.sort.m;
    const rows = [];
    for (let i = 0; i < n; i++) if (rowNonZero(total, i)) rows.push(i);
    const fnOf = (i) => funcs ? i : siteFunc[i];
    let key;
    if (S.sort.which === 'name') key = (i) => fnName[fnOf(i)].toLowerCase();
    else if (S.sort.which === 'loc') key = (i) => fnShort[fnOf(i)] + ':' + String(funcs ? fnFirst[i] : siteLine[i]).padStart(8);
    else if (S.sort.which === 'calls') key = (i) => D.calls[2 * fnOf(i)];
    else key = (i) => mv(S.sort.which === 'self' ? self : total, i, sm);
    const keys = new Map(rows.map((i) => [i, key(i)]));
    const dir = S.sort.desc ? -1 : 1;
    rows.sort((a, b) => {
      const ka = keys.get(a), kb = keys.get(b);
      return ka < kb ? -dir : ka > kb ? dir : 0;
    });

    const sortAttr = (which, m) => S.sort.which === which && (m === undefined || sm === m)
      ? ' aria-sort="' + (S.sort.desc ? 'descending' : 'ascending') + '"' : '';
    let h = '<thead><tr><th class="name" rowspan="2"' + sortAttr('name') +
      '><button type="button" data-sort="name">' + (funcs ? 'Function' : 'Line') + '</button></th>' +
      '<th class="loc" rowspan="2"' + sortAttr('loc') + '><button type="button" data-sort="loc">Location</button></th>';
    /* exact counts (run --calls): the function's, over the whole run */
    const calls = funcs && D.calls;
    if (calls)
      h += '<th class="calls" rowspan="2"' + sortAttr('calls') + ' title="exact calls of the function over the whole run' +
        ' (all/primitive when they differ)"><button type="button" data-sort="calls">calls</button></th>';
    /* the metric shown first, then the others */
    const order = [S.metric].concat(metrics.map((m, j) => j).filter((j) => j !== S.metric));
    order.forEach((j) => {
      const m = metrics[j];
      h += '<th colspan="2" class="group' + (j === S.metric ? ' cur' : '') + '" title="' + esc(m.label) + '">' + esc(m.id) + '</th>';
    });
    h += '</tr><tr>';
    order.forEach((j) => {
      const m = metrics[j];
      ['self', 'total'].forEach((w) => {
        h += '<th' + (w === 'self' ? ' class="group"' : '') + sortAttr(w, j) + '><button type="button" data-sort="' + w + '" data-m="' + j +
          '" aria-label="' + esc(m.label) + ', ' + w + '">' + w + '</button></th>';
      });
    });
    h += '</tr></thead><tbody>';
    const all = metrics.map((m, j) => mv(baseTotal, 0, j));
    for (const i of rows.slice(0, TABLE_ROWS)) {
      const f = fnOf(i), line = funcs ? fnFirst[i] : siteLine[i];
      const loc = fnShort[f] + (line > 0 ? ':' + line : '');
      h += '<tr><td class="name' + (isLib(f) ? ' lib' : '') + '" title="' + esc(fnName[f] + '  ' + fnFile[f]) + '">' + esc(fnName[f]) +
        '<button type="button" class="act" data-func="' + f + '" aria-label="callers of ' + esc(fnName[f]) + '">callers</button></td>' +
        '<td class="loc" title="' + esc(fnFile[f]) + '">' + esc(loc) + '</td>';
      if (calls) {
        const c = D.calls[2 * f], p = D.calls[2 * f + 1];
        h += '<td class="calls">' + (c ? c + (p !== c ? '/' + p : '') : '') + '</td>';
      }
      order.forEach((j) => {
        const m = metrics[j], s = mv(self, i, j), t = mv(total, i, j), cur = j === S.metric ? ' cur' : '';
        h += '<td class="group' + cur + '" title="' + pct(s, all[j]) + '">' + (s ? fmt(s, m.unit) : '') +
          '</td><td class="' + cur + '" title="' + pct(t, all[j]) + '">' + (t ? fmt(t, m.unit) : '') + '</td>';
      });
      h += '</tr>';
    }
    $('table').innerHTML = h + '</tbody>';
    $('table-note').textContent = (rows.length > TABLE_ROWS ? 'the first ' + TABLE_ROWS + ' of ' : '') +
      rows.length + (funcs ? ' functions' : ' lines') + ' in this range and thread';
  }

  $('table').addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    if (b.dataset.func !== undefined) {
      showCallers(Number(b.dataset.func));
      $('flame').scrollIntoView({ block: 'nearest' });
      return;
    }
    const which = b.dataset.sort, m = b.dataset.m === undefined ? -1 : Number(b.dataset.m);
    if (S.sort.which === which && S.sort.m === m) S.sort.desc = !S.sort.desc;
    else S.sort = { m, which, desc: which !== 'name' && which !== 'loc' };
    renderTable();
  });

  function selectTab(t) {
    S.table = t;
    ['funcs', 'lines', 'leaks'].forEach((x) => $('tab-' + x).setAttribute('aria-selected', String(t === x)));
    $('leaks').hidden = t !== 'leaks';
    $('table-wrap').hidden = t === 'leaks';
    $('table-note').hidden = t === 'leaks';
    if (t !== 'leaks') renderTable();
  }
  $('tab-funcs').addEventListener('click', () => selectTab('funcs'));
  $('tab-lines').addEventListener('click', () => selectTab('lines'));
  $('tab-leaks').addEventListener('click', () => selectTab('leaks'));

  /* ---------------------------------------------------------------- leaks */

  /* The held bytes of a suspect's stack over the run: a small line chart,
   * the suspect's window (since when it rose) shaded. */
  function growthSvg(live, bucketS, sinceS) {
    const W = 220, H = 44, n = live.length;
    let max = 0;
    for (const v of live) if (v > max) max = v;
    const x = (i) => (n > 1 ? i / (n - 1) : 0) * (W - 2) + 1;
    const y = (v) => H - 2 - (max ? v / max : 0) * (H - 4);
    const pts = live.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1)).join(' ');
    const from = x(Math.max(0, Math.round(sinceS / bucketS) - 1));
    return '<svg class="growth" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + ' ' + H +
      '" role="img" aria-label="held memory over the run, up to ' + fmtBytes(max) + '">' +
      '<rect x="' + from.toFixed(1) + '" y="0" width="' + (W - from).toFixed(1) + '" height="' + H +
      '" fill="#fdeaea"/><polyline fill="none" stroke="#c0392b" stroke-width="1.5" points="' + pts +
      '"/><title>held: ' + fmtBytes(live[0] || 0) + ' \u2192 ' + fmtBytes(live[n - 1] || 0) +
      ', ' + n + ' buckets of ' + fmtNs(bucketS * 1e9) + '</title></svg>';
  }

  function leakPlace(p) {
    const file = p.file.split('/').pop();
    return '<td class="name" title="' + esc(p.function + '  ' + p.file) + '">' + esc(p.function) +
      '</td><td class="loc" title="' + esc(p.file) + '">' + esc(file + (p.line > 0 ? ':' + p.line : '')) + '</td>';
  }

  /* The Leaks tab: the facts of `stetho leaks` (L is its JSON). */
  function renderLeaks(L) {
    let h = '<h3>Leak suspects</h3>';
    if (L.bucket_s === null) {
      h += '<p>None known: this capture has no growth records.</p>';
    } else if (!L.suspects.length) {
      h += '<p>None: no stack\u2019s held memory kept rising (' + L.stacks_holding +
        ' stacks held memory, in buckets of ' + fmtNs(L.bucket_s * 1e9) + ').</p>';
    } else {
      h += '<p>' + L.suspects.length + (L.suspects.length === 1 ? ' stack whose' : ' stacks whose') +
        ' held memory kept rising (buckets of ' + fmtNs(L.bucket_s * 1e9) + '):</p><table class="leaks"><tbody>';
      for (const s of L.suspects) {
        const f = s.frames[0] || { function: '(no frames)', file: '', line: 0 };
        h += '<tr class="suspect">' + leakPlace(f) + '<td>' + growthSvg(s.live_bytes, L.bucket_s, s.since_s) +
          '</td><td><b>' + fmtBytes(s.rate_bytes_per_s) + '/s</b> since ' + fixed(s.since_s) + ' s: ' +
          fmtBytes(s.from_bytes) + ' \u2192 ' + fmtBytes(s.to_bytes) + ', rose in ' + Math.round(s.rose * 100) +
          '% of ' + s.buckets + ' buckets, R\u00b2 ' + s.r2.toFixed(2) + '<div class="stack">' +
          esc(s.frames.map((x) => x.function).join(' \u2190 ')) + '</div></td></tr>';
      }
      h += '</tbody></table>';
    }
    h += typesHtml(L.types);
    h += '<h3>Held at exit: ' + fmtBytes(L.leaked_bytes) + '</h3><p>Not freed when the program finalized' +
      (L.leaked_bytes ? ': a suspect\u2019s, or simply never freed (globals, caches filled once).' : '.') + '</p>';
    if (L.top_leaked.length) {
      h += '<table class="leaks"><tbody>';
      for (const p of L.top_leaked)
        h += '<tr><td class="num">' + fmtBytes(p.leaked_bytes) + '</td>' + leakPlace(p) +
          '<td>' + (p.suspect ? 'a suspect' : '') + '</td></tr>';
      h += '</tbody></table>';
    }
    const tp = L.alloc_count ? 100 * L.temporary_count / L.alloc_count : 0;
    h += '<h3>Temporary allocations: ' + fmt(L.temporary_count, 'count') + ' of ' + fmt(L.alloc_count, 'count') +
      ' (' + tp.toFixed(1) + '%)</h3><p>Freed before their thread allocated anything else: time, not memory.</p>';
    if (L.top_temporary.length) {
      h += '<table class="leaks"><tbody>';
      for (const p of L.top_temporary)
        h += '<tr><td class="num">' + fmt(p.temporary_count, 'count') + '</td><td class="num">' +
          (p.alloc_count ? Math.round(100 * p.temporary_count / p.alloc_count) : 0) + '% of its allocations</td>' +
          leakPlace(p) + '</tr>';
      h += '</tbody></table>';
    }
    const g = L.gc;
    h += '<h3>Garbage collector</h3>';
    if (g.generations) {
      h += '<table class="leaks gc"><thead><tr><th>generation</th><th>collections</th><th>collected</th>' +
        '<th>uncollectable</th></tr></thead><tbody>';
      g.generations.forEach((x, k) => {
        h += '<tr><td class="num">' + k + '</td><td class="num">' + fmt(x.collections, 'count') + '</td><td class="num">' +
          fmt(x.collected, 'count') + '</td><td class="num">' + fmt(x.uncollectable, 'count') + '</td></tr>';
      });
      h += '</tbody></table><p>Its counters since the interpreter started, at the last read.</p>';
    } else {
      h += '<p>Counters not recorded.</p>';
    }
    h += '<p>Time collecting: <b>' + fmtNs(g.time_s * 1e9) + '</b>, ' + (100 * g.share).toFixed(1) +
      '% of the wall time' + (g.samples ? '; the longest pause seen ' + fmtNs(g.longest_pause_s * 1e9) : '') +
      ' (from the [gc] samples).</p>';
    if (g.exact_pauses) h += pausesHtml(g.exact_pauses);
    for (const w of g.warnings) h += '<p class="warning">Warning: ' + esc(w) + '</p>';
    $('leaks').innerHTML = h;
  }

  /* Live objects by type (the census; T is leaks' `types`, or undefined
   * in an older capture's data). */
  function typesHtml(T) {
    let h = '<h3 id="leaks-types">Live objects by type</h3>';
    if (!T || !T.censuses) return h + '<p>No census was taken (too short a run, or no memory agent).</p>';
    h += '<p>' + T.censuses + (T.censuses === 1 ? ' census' : ' censuses') + ' of the object allocator\u2019s ' +
      'live blocks; the last at ' + fixed(T.end_s) + ' s, the one nearest the peak at ' + fixed(T.peak_s) + ' s' +
      (T.estimated ? '; estimated from sampled allocations' : '') + '.</p>';
    h += '<table class="leaks types"><thead><tr><th>type</th><th>objects at the end</th><th>bytes</th>' +
      '<th>at the peak</th><th>growth</th><th>created at</th></tr></thead><tbody>';
    for (const r of T.rows.slice(0, 20)) {
      const c = r.created_at;
      h += '<tr><td class="name">' + esc(r.type) + '</td><td class="num">' + fmt(r.end_count, 'count') +
        '</td><td class="num">' + fmtBytes(r.end_bytes) + '</td><td class="num">' + fmt(r.count, 'count') +
        '</td><td class="num">' + (r.growth_count >= 0 ? '+' : '') + fmt(r.growth_count, 'count') + '</td>' +
        (c ? '<td class="loc" title="' + esc(c.function + '  ' + c.file) + '">' + Math.round(c.share * 100) + '% ' +
          esc(c.function) + '  ' + esc(c.file.split('/').pop() + (c.line > 0 ? ':' + c.line : '')) + '</td>'
          : '<td></td>') + '</tr>';
    }
    return h + '</tbody></table>';
  }

  /* The collections the agent timed, per generation, with their histogram. */
  function pausesHtml(P) {
    let h = '<table class="leaks gc pauses"><thead><tr><th>generation</th><th>timed</th><th>total</th>' +
      '<th>longest</th><th>pauses of at most</th></tr></thead><tbody>';
    P.forEach((x, k) => {
      const hist = x.histogram.filter((b) => b.count)
        .map((b) => (b.le_s === null ? 'more' : fmtNs(b.le_s * 1e9)) + ': ' + fmt(b.count, 'count')).join(', ');
      h += '<tr><td class="num">' + k + '</td><td class="num">' + fmt(x.collections, 'count') + '</td><td class="num">' +
        fmtNs(x.total_s * 1e9) + '</td><td class="num">' + fmtNs(x.longest_s * 1e9) + '</td><td>' + esc(hist) + '</td></tr>';
    });
    return h + '</tbody></table><p>Each collection timed inside the program.</p>';
  }


  /* ------------------------------------------------------------- controls */

  function setupControls() {
    const ms = $('metric');
    metrics.forEach((m, j) => {
      const o = document.createElement('option');
      o.value = m.id;
      o.textContent = m.label;
      ms.appendChild(o);
    });
    ms.addEventListener('change', () => {
      S.metric = metricById[ms.value];
      refreshTree();
      drawTimeline();
      if (S.table !== 'leaks') renderTable();
    });

    const ts = $('thread');
    const all = document.createElement('option');
    all.value = '-1';
    all.textContent = 'All threads';
    ts.appendChild(all);
    const wall = metricById.wall !== undefined ? metricById.wall : 0;
    const byWall = threads.map((t, j) => j);
    const tw = new Float64Array(threads.length);
    for (let c = 0; c < cellNode.length; c++) tw[bThread[cellNode[c]]] += mv(cellVal, c, wall);
    byWall.sort((a, b) => tw[b] - tw[a]);
    byWall.forEach((j) => {
      const o = document.createElement('option');
      o.value = String(j);
      o.textContent = threads[j].label + ' \u2014 ' + fmt(tw[j], metrics[wall].unit);
      ts.appendChild(o);
    });
    /* then each thread's tasks, a group per thread, largest first */
    const kw = new Float64Array(tasks.length);
    for (let c = 0; c < cellNode.length; c++)
      if (bTask[cellNode[c]] >= 0) kw[bTask[cellNode[c]]] += mv(cellVal, c, wall);
    byWall.forEach((j) => {
      const mine = tasks.map((k, i) => i).filter((i) => tasks[i].thread === j);
      if (!mine.length) return;
      mine.sort((a, b) => kw[b] - kw[a]);
      const g = document.createElement('optgroup');
      g.label = 'Tasks of ' + threads[j].label;
      mine.forEach((i) => {
        const o = document.createElement('option');
        o.value = 'task ' + i;
        o.textContent = tasks[i].label + ' \u2014 ' + fmt(kw[i], metrics[wall].unit);
        g.appendChild(o);
      });
      ts.appendChild(g);
    });
    ts.addEventListener('change', () => {
      const v = ts.value;
      S.task = v.startsWith('task ') ? Number(v.slice(5)) : -1;
      S.thread = S.task >= 0 ? tasks[S.task].thread : Number(v);
      sumBuckets();
      recompute();
    });

    const check = (id, field) => {
      $(id).checked = S[field];
      $(id).addEventListener('change', () => {
        S[field] = $(id).checked;
        refreshTree();
      });
    };
    check('merge', 'merge');
    check('collapse', 'collapse');
    check('bylines', 'byLine');
    check('native', 'native');
    /* the native toggle only where there are native frames to hide */
    $('native-label').hidden = !bSite.some((s) => s >= 0 && fnKind[siteFunc[s]] === FRAME_NATIVE);

    $('view').addEventListener('change', () => {
      S.view = $('view').value;
      S.zoomPath = [];
      if (S.view === 'callers' && S.target < 0) {
        let f = nodeFunc(S.focus);
        if (f < 0) {
          /* the function with the most self time of the metric */
          let best = -1;
          for (let g = 0; g < nfuncs; g++)
            if (best < 0 || mv(funcSelf, g, S.metric) > mv(funcSelf, best, S.metric)) best = g;
          f = best;
        }
        S.target = f;
      }
      refreshTree();
    });

    setupSearch();
  }

  /* The search box, '/' and resizing (the diff page's too). */
  function setupSearch() {
    const search = $('search');
    let timer = 0;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        S.query = search.value;
        computeMatches();
        renderFlame();
      }, 80);
    });
    search.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        search.value = '';
        S.query = '';
        computeMatches();
        renderFlame();
        flame.focus();
      } else if (ev.key === 'Enter') {
        clearTimeout(timer);
        S.query = search.value;
        computeMatches();
        renderFlame();
      }
    });
    document.addEventListener('keydown', (ev) => {
      const t = ev.target;
      const typing = t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA');
      if (ev.key === '/' && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
        ev.preventDefault();
        search.focus();
        search.select();
      }
    });

    let pending = 0;
    window.addEventListener('resize', () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => {
        renderFlame();
        if (!DIFF) drawTimeline();
      });
    });
  }

  /* What the flame graph shows: for tests and debugging. */
  function frames() {
    return rects.node.map((i, k) => ({
      node: i, name: nodeLabel(i), x: rects.x[k], y: rects.row[k] * ROW,
      w: rects.w[k], h: ROW, ancestor: !!rects.anc[k], color: colorOf(i),
      ...(DIFF ? { base: DIFF.base[i], new: DIFF.neu[i] } : {}),
    }));
  }

  /* ------------------------------------------------------------ diff page */

  const DIFF_LABELS = {
    wall: 'Wall time', cpu: 'CPU time (user + sys)', user: 'User CPU', sys: 'System CPU',
    wait: 'Waiting (any reason)', peak: 'Memory held at the peak', allocated: 'Memory allocated',
    allocations: 'Allocations', leaked: 'Memory leaked',
  };

  function signed(d, unit) {
    return (d > 0 ? '+' : '') + fmt(d, unit);
  }

  function change(b, n) {
    if (!b) return n ? 'only in new' : '';
    if (!n) return 'only in base';
    return (n >= b ? '+' : '') + (100 * (n - b) / b).toFixed(1) + '%';
  }

  /* One tree of both sides' stacks: a node per path of function
   * identities, its base and new totals. */
  function diffTree() {
    nfuncs = D.funcs.length;
    fnName = D.funcs.map((f) => f[0]); fnFile = D.funcs.map((f) => f[1]);
    fnShort = D.funcs.map((f) => f[2]); fnModule = fnShort;
    fnSearch = D.funcs.map((f) => (f[0] + ' ' + f[1]).toLowerCase());
    fnFirst = new Int32Array(nfuncs); fnKind = new Uint8Array(nfuncs); fnLoc = new Uint8Array(nfuncs);
    const parent = [0], key = [-1], base = [0], neu = [0], map = new Map();
    for (const st of D.stacks) {
      const b = st[0], n = st[1];
      let u = 0;
      base[0] += b; neu[0] += n;
      for (let j = 2; j < st.length; j++) {
        const mk = u * nfuncs + st[j];
        let c = map.get(mk);
        if (c === undefined) {
          c = parent.length;
          parent.push(u); key.push(st[j]); base.push(0); neu.push(0);
          map.set(mk, c);
        }
        u = c;
        base[u] += b; neu[u] += n;
      }
    }
    const n = parent.length;
    const kind = new Uint8Array(n).fill(K_FRAME);
    kind[0] = K_ROOT;
    const t = {
      n, parent: Int32Array.from(parent), key: Int32Array.from(key), lid: Int32Array.from(key),
      kind, children: childLists(parent), inverted: false, byLine: false, hidden: new Map(),
    };
    t.func = (i) => (i ? t.key[i] : -1);
    let maxAbs = 0;
    for (let i = 1; i < n; i++) maxAbs = Math.max(maxAbs, Math.abs(neu[i] - base[i]));
    return { tree: t, base: Float64Array.from(base), neu: Float64Array.from(neu), maxAbs };
  }

  /* The widths: new, base, or the larger of the two (so a frame only one
   * side has shows), a parent at least as wide as its children. */
  function diffValues() {
    const n = T.n, w = DIFF.widths, kids = new Float64Array(n);
    val = new Float64Array(n);
    selfVal = new Float64Array(n);
    for (let i = n - 1; i >= 0; i--) {
      const b = DIFF.base[i], v = DIFF.neu[i];
      val[i] = Math.max(w === 'new' ? v : w === 'base' ? b : Math.max(b, v), kids[i]);
      selfVal[i] = val[i] - kids[i];
      if (i) kids[T.parent[i]] += val[i];
    }
  }

  /* Red for growth, blue for shrinking, the deeper the larger the change
   * compared with the largest; grey for no change. */
  function diffColor(i) {
    if (i === 0) return '#c9ced8';
    const d = DIFF.neu[i] - DIFF.base[i];
    if (!d || !DIFF.maxAbs) return '#e2e4e8';
    const t = Math.sqrt(Math.min(1, Math.abs(d) / DIFF.maxAbs));
    return 'hsl(' + (d > 0 ? 0 : 215) + ',78%,' + Math.round(90 - 40 * t) + '%)';
  }

  function diffTip(i) {
    const m = metrics[0], b = DIFF.base[i], n = DIFF.neu[i], loc = i ? fnFile[T.key[i]] : '';
    let h = '<div class="t-name">' + esc(nodeLabel(i)) + '</div>';
    if (loc) h += '<div class="t-loc">' + esc(loc) + '</div>';
    h += '<table><tr class="cur"><td>' + esc(m.label) + '</td><td></td></tr>' +
      '<tr><td>base</td><td>' + fmt(b, m.unit) + '</td></tr><tr><td>new</td><td>' + fmt(n, m.unit) +
      '</td></tr><tr class="cur"><td>new \u2212 base</td><td>' + signed(n - b, m.unit) + ' ' +
      esc(change(b, n)) + '</td></tr></table>';
    return h;
  }

  /* The function delta table, in the terminal diff's order. */
  function renderDiffTable() {
    const m = metrics[0], sort = D.meta.sort;
    let h = '<thead><tr><th class="name" rowspan="2">Function</th><th class="loc" rowspan="2">Location</th>' +
      '<th colspan="4" class="group' + (sort === 'self' ? ' cur' : '') + '">self</th><th colspan="4" class="group' +
      (sort === 'total' ? ' cur' : '') + '">total</th></tr><tr>';
    for (let k = 0; k < 2; k++) h += '<th class="group">base</th><th>new</th><th>new \u2212 base</th><th>%</th>';
    h += '</tr></thead><tbody>';
    for (const r of D.functions.slice(0, TABLE_ROWS)) {
      const f = r[0];
      h += '<tr><td class="name" title="' + esc(fnName[f] + '  ' + fnFile[f]) + '">' + esc(fnName[f]) +
        '</td><td class="loc" title="' + esc(fnFile[f]) + '">' + esc(fnShort[f]) + '</td>';
      for (let k = 1; k < 5; k += 2) {
        const b = r[k], n = r[k + 1], d = n - b;
        h += '<td class="group">' + fmt(b, m.unit) + '</td><td>' + fmt(n, m.unit) + '</td><td class="' +
          (d > 0 ? 'grew' : d < 0 ? 'shrank' : '') + '">' + signed(d, m.unit) + '</td><td>' + esc(change(b, n)) + '</td>';
      }
      h += '</tr>';
    }
    $('table').innerHTML = h + '</tbody>';
    $('table-note').textContent = (D.functions.length > TABLE_ROWS ? 'the first ' + TABLE_ROWS + ' of ' : '') +
      D.functions.length + ' functions, by the change in ' + sort + ' ' + m.label.toLowerCase();
  }

  function diffMain(t0) {
    D = JSON.parse($('stetho-data').textContent);
    const id = D.meta.metric;
    metrics = [{ id, label: DIFF_LABELS[id] || id, unit: D.meta.unit, cols: [] }];
    metricById = { [id]: 0 };
    S.metric = 0;
    const d = diffTree();
    T = V = d.tree;
    DIFF = { base: d.base, neu: d.neu, maxAbs: d.maxAbs, widths: 'max' };
    colorOf = diffColor;
    tipOf = diffTip;

    const argv = D.meta.argv.map((a) => /[\s"'\\]/.test(a) || a === '' ? JSON.stringify(a) : a);
    $('cmdline').textContent = 'diff ' + argv.join(' ');
    document.title = 'stetho diff: ' + D.meta.base.split('/').pop() + ' \u2192 ' + D.meta.new.split('/').pop();
    const m = metrics[0], [tb, tn] = D.totals;
    $('facts').innerHTML = 'base <code>' + esc(D.meta.base) + '</code> \u00b7 new <code>' + esc(D.meta.new) +
      '</code> \u00b7 functions matched by name and file, stacks by their functions';
    $('totals').innerHTML = esc(m.label) + ': base <b>' + fmt(tb, m.unit) + '</b>, new <b>' + fmt(tn, m.unit) +
      '</b>, new \u2212 base <b>' + signed(tn - tb, m.unit) + '</b> ' + esc(change(tb, tn));

    /* a tree of two runs has no time line, threads, views or lines */
    $('timeline-box').hidden = true;
    $('tab-lines').hidden = true;
    $('tab-funcs').textContent = 'Functions: new \u2212 base';
    for (const l of $('controls').querySelectorAll('label')) l.hidden = true;
    const wl = document.createElement('label');
    wl.title = 'What a frame\u2019s width shows; its colour is always new \u2212 base';
    wl.innerHTML = 'Widths <select id="widths"><option value="max">the larger of base and new</option>' +
      '<option value="new">new</option><option value="base">base</option></select>';
    $('controls').insertBefore(wl, $('controls').firstChild);
    $('widths').addEventListener('change', () => {
      DIFF.widths = $('widths').value;
      refreshTree();
    });
    const legend = document.createElement('span');
    legend.id = 'diff-legend';
    legend.innerHTML = '<i style="background:hsl(0,78%,50%)"></i>grew <i style="background:hsl(215,78%,50%)"></i>shrank' +
      ' <i style="background:#e2e4e8"></i>unchanged';
    $('crumbs').parentNode.insertBefore(legend, $('crumbs'));
    setupSearch();
    refreshTree();
    renderDiffTable();
    const t1 = performance.now();
    window.stethoReport = {
      ready: true, diff: true, loadMs: t1, timings: { firstRender: t1 - t0 }, nodes: T.n,
      frames, zoomed: () => nodeLabel(S.zoom),
      state: () => ({ metric: metrics[0].id, widths: DIFF.widths, zoom: nodeLabel(S.zoom), canvasWidth: flame.clientWidth }),
    };
  }

  /* ----------------------------------------------------------------- main */

  function main() {
    const t0 = performance.now();
    colorOf = nodeColor;
    tipOf = nodeTip;
    if (JSON.parse($('stetho-data').textContent).format === 'stetho-diff-html/1') {
      diffMain(t0);
      return;
    }
    decode();
    const t1 = performance.now();
    S.metric = metricById.wall !== undefined ? metricById.wall : 0;
    renderHeader();
    setupControls();
    $('metric').value = metrics[S.metric].id;
    sumBuckets();
    setRange(0, B);
    if (D.leaks) {
      $('tab-leaks').hidden = false;
      renderLeaks(D.leaks);
    }
    const t2 = performance.now();
    window.stethoReport = {
      ready: true,
      /* milliseconds from navigation start, and of this script's parts */
      loadMs: t2,
      timings: { decode: t1 - t0, firstRender: t2 - t1 },
      cells: cellNode.length,
      nodes: nb,
      tasks: () => tasks.map((k) => ({ label: k.label, thread: threads[k.thread].label })),
      sharedNodes,
      series: (D.series || []).map((x) => x.id),
      /* what the flame graph shows: for tests and debugging */
      frames,
      zoomed: () => nodeLabel(S.zoom),
      state: () => ({
        metric: metrics[S.metric].id, view: S.view, range: S.range, thread: S.thread,
        task: S.task >= 0 ? tasks[S.task].label : null,
        zoom: nodeLabel(S.zoom), canvasWidth: flame.clientWidth,
        /* the selection's totals: each metric's, and the samples */
        totals: metrics.reduce((o, m, k) => { o[m.id] = mv(baseTotal, 0, k); return o; }, {}),
      }),
    };
  }

  try {
    main();
  } catch (e) {
    const w = $('warning');
    w.hidden = false;
    w.textContent = 'This report could not be shown: ' + e.message;
    throw e;
  }
})();
