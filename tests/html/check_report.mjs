// check_report.mjs -- load a stetho HTML report in headless Chromium and
// drive it like a user would (tests/e2e/test_html.py runs this).
//
//   node tests/html/check_report.mjs REPORT.html [--func NAME] [--callers A,B] [--calls N]
//        [--screenshot OUT.png] [--measure] [--chromium PATH] [--task NAME]
//        [--native NAME --native-caller NAME]
//
// Checks: no console errors or page errors; the flame graph is drawn (a
// screenshot of it is not blank); clicking a frame zooms (breadcrumb, full
// width); the search highlights and reports a share; dragging a range on
// the timeline changes the totals (and Reset restores them); switching
// the metric changes the graph; the inverted view and the callers of
// --func list --callers; keyboard zoom and '/'.  With --task (a capture of
// `--async`): the filter lists the tasks, choosing `<task NAME>` shows its
// tree alone, and result.task has the page's totals for it.  With --native
// (a capture of `--native`) instead of the usual checks: the native frame
// NAME is drawn in the native colour (blue over red, unlike a Python
// frame's), the "native frames" toggle is offered, and unticking it takes
// every native frame out of the flame graph, NAME's time going to its
// Python caller (--native-caller), which then has no native child.
// Prints one JSON object (checks passed, failures, timings); exit 1 on a
// failure.  Needs playwright-core (npm install --prefix tests/html
// playwright-core) and a Chromium; it downloads nothing.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = { func: 'leaf', callers: [], calls: null, screenshot: null, measure: false, chromium: '/usr/bin/chromium', task: null, native: null, nativeCaller: null };
let report = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--func') opt.func = args[++i];
  else if (a === '--callers') opt.callers = args[++i].split(',').filter(Boolean);
  else if (a === '--calls') opt.calls = args[++i];
  else if (a === '--screenshot') opt.screenshot = args[++i];
  else if (a === '--measure') opt.measure = true;
  else if (a === '--chromium') opt.chromium = args[++i];
  else if (a === '--task') opt.task = args[++i];
  else if (a === '--native') opt.native = args[++i];
  else if (a === '--native-caller') opt.nativeCaller = args[++i];
  else report = a;
}
if (!report) {
  console.error('usage: check_report.mjs REPORT.html [--func NAME] [--callers A,B] [--calls N] [--screenshot OUT.png] [--measure]');
  process.exit(2);
}

const result = { passed: [], failures: [], errors: [], timings: {} };
const check = (name, ok, detail) => {
  if (ok) result.passed.push(name);
  else result.failures.push(name + (detail !== undefined ? ': ' + JSON.stringify(detail) : ''));
  return ok;
};

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stetho-chromium-'));
// a fresh profile directory (Playwright passes it as --user-data-dir)
const browser = await chromium.launchPersistentContext(userDir, {
  executablePath: opt.chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
});

try {
  const page = browser.pages()[0] || await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') result.errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => result.errors.push('pageerror: ' + e.message));
  page.on('requestfailed', (r) => result.errors.push('request failed: ' + r.url()));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('file:') && !u.startsWith('data:')) result.errors.push('network request: ' + u);
  });

  const t0 = Date.now();
  await page.goto(pathToFileURL(path.resolve(report)).href, { waitUntil: 'load', timeout: 60000 });
  await page.waitForFunction(() => window.stethoReport && window.stethoReport.ready, null, { timeout: 60000 });
  result.timings.wallMs = Date.now() - t0;
  Object.assign(result.timings, await page.evaluate(() => ({
    loadMs: window.stethoReport.loadMs, ...window.stethoReport.timings,
    cells: window.stethoReport.cells, nodes: window.stethoReport.nodes,
  })));
  result.timings.bytes = fs.statSync(report).size;

  const R = {
    frames: () => page.evaluate(() => window.stethoReport.frames()),
    state: () => page.evaluate(() => window.stethoReport.state()),
    text: (sel) => page.locator(sel).innerText(),
  };
  const flame = page.locator('#flame');

  // -- the flame graph is drawn: a screenshot of it has non-background pixels
  const shot = await flame.screenshot();
  const painted = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4)
      if (Math.abs(d[i] - 255) + Math.abs(d[i + 1] - 255) + Math.abs(d[i + 2] - 255) > 30) n++;
    return { n, total: d.length / 4 };
  }, shot.toString('base64'));
  check('flame graph drawn', painted.n > 0.2 * painted.total, painted);

  if (opt.screenshot && !opt.measure) {
    // the README's picture: the whole page as it first opens
    await page.screenshot({ path: opt.screenshot, fullPage: false });
  }

  const frames0 = await R.frames();
  const width = (await R.state()).canvasWidth;
  check('frames listed', frames0.length > 2, frames0.length);

  if (!opt.measure && !opt.native) {
    // -- click a frame: it zooms (breadcrumb changes, spans the full width)
    const target = frames0.find((f) => f.name === opt.func && !f.ancestor && f.w < width * 0.9 && f.w > 4) ||
      frames0.find((f) => !f.ancestor && f.y > 0 && f.w < width * 0.9 && f.w > 4);
    if (check('a frame to click', !!target, frames0.map((f) => [f.name, Math.round(f.w)]))) {
      const box = await flame.boundingBox();
      const crumbs0 = await R.text('#crumbs');
      await page.mouse.click(box.x + target.x + target.w / 2, box.y + target.y + target.h / 2);
      const crumbs1 = await R.text('#crumbs');
      const current = await page.locator('#crumbs button[aria-current]').innerText();
      check('click zooms: breadcrumb changes', crumbs1 !== crumbs0 && current === target.name,
        { crumbs0, crumbs1, current });
      const after = (await R.frames()).find((f) => f.node === target.node && !f.ancestor);
      check('click zooms: frame spans the width', after && after.x < 1 && Math.abs(after.w - width) < 2, after);
      // Escape on the focused graph zooms back out
      await flame.focus();
      for (let i = 0; i < 40 && (await R.state()).zoom !== 'all'; i++) await page.keyboard.press('Escape');
      check('Escape zooms out', (await R.state()).zoom === 'all', await R.state());
      // keyboard: down and Enter zooms into the first child
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      check('keyboard zoom', (await R.state()).zoom !== 'all', await R.state());
      await page.keyboard.press('Home');
    }

    // -- search: '/' focuses it; matches highlighted, count and share shown
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('/');
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
    check("'/' focuses the search box", focused === 'search', focused);
    await page.locator('#search').fill(opt.func);
    await page.locator('#search').press('Enter');
    const sr = await R.text('#search-result');
    check('search shows count and share', /\d+ matching functions?: [\d.]+% of/.test(sr), sr);
    const highlighted = await page.evaluate(() => {
      const c = document.getElementById('flame');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (Math.abs(d[i] - 0xf0) < 6 && Math.abs(d[i + 1] - 0xa8) < 6 && Math.abs(d[i + 2] - 0x30) < 6) n++;
      return n;
    });
    check('search highlights frames', highlighted > 50, highlighted);
    await page.locator('#search').press('Escape');
    check('Escape clears the search', (await R.text('#search-result')) === '');

    // -- timeline: dragging a range changes the totals; Reset restores them
    const tl = page.locator('#timeline');
    const tbox = await tl.boundingBox();
    const totals0 = await R.text('#sel-totals');
    await page.mouse.move(tbox.x + tbox.width * 0.05, tbox.y + tbox.height / 2);
    await page.mouse.down();
    await page.mouse.move(tbox.x + tbox.width * 0.2, tbox.y + tbox.height / 2, { steps: 4 });
    await page.mouse.move(tbox.x + tbox.width * 0.45, tbox.y + tbox.height / 2, { steps: 4 });
    await page.mouse.up();
    const totals1 = await R.text('#sel-totals');
    const st = await R.state();
    check('timeline drag selects a range', Array.isArray(st.range), st);
    check('timeline drag changes the totals', totals1 !== totals0, { totals0, totals1 });
    await page.locator('#reset-range').click();
    const totals2 = await R.text('#sel-totals');
    check('reset restores the totals', totals2 === totals0, { totals0, totals2 });

    // -- metric: switching it changes the graph
    const sig = (fr) => fr.map((f) => f.name + '@' + Math.round(f.x) + '+' + Math.round(f.w)).join('|');
    const before = sig(await R.frames());
    const title0 = await R.text('#flame-title');
    await page.locator('#metric').selectOption('cpu');
    const after = sig(await R.frames());
    check('metric switch changes the graph', after !== before && (await R.text('#flame-title')) !== title0,
      { title0 });
    // memory, when the run recorded it, is one more metric
    if (await page.locator('#metric option[value="alloc"]').count()) {
      await page.locator('#metric').selectOption('alloc');
      const mem = sig(await R.frames());
      check('memory metric draws its own graph', mem !== before && mem.length > 0);
      const lanes = await page.evaluate(() => window.stethoReport.series);
      check('memory timeline lanes', lanes.includes('rss') && lanes.includes('heap'), lanes);
    }
    await page.locator('#metric').selectOption('wall');

    // -- the inverted view: the known function is where time was spent
    await page.locator('#view').selectOption('inverted');
    const inv = await R.frames();
    check('inverted view lists the function', inv.some((f) => f.name === opt.func && f.y === 18),
      inv.filter((f) => f.y === 18).map((f) => f.name));
    // -- callers of the known function, from its row in the table
    await page.locator('#view').selectOption('tree');
    await page.locator(`#table button.act[aria-label="callers of ${opt.func}"]`).first().click();
    const cal = await R.frames();
    const st2 = await R.state();
    const level1 = cal.filter((f) => f.y === 18).map((f) => f.name);
    check('callers view is rooted at the function', st2.view === 'callers' && cal[0] && cal[0].name === opt.func,
      { st2, root: cal[0] });
    for (const c of opt.callers) check('callers of ' + opt.func + ' include ' + c, level1.includes(c), level1);
    check('callers title', (await R.text('#flame-title')).includes('Callers of ' + opt.func));

    // -- the tables: sortable, one row per function
    await page.locator('#view').selectOption('tree');
    const rows = await page.locator('#table tbody tr').count();
    check('function table has rows', rows > 2, rows);
    await page.locator('#table thead button[data-sort="name"]').click();
    const names = await page.locator('#table tbody td.name').allInnerTexts();
    const plain = names.map((n) => n.replace(/callers$/, '').trim().toLowerCase());
    check('table sorts by name', plain.join('\n') === [...plain].sort().join('\n'), plain.slice(0, 8));
    if (opt.calls !== null) {
      // -- the calls column (run --calls): the function's exact count, sortable
      const row = page.locator('#table tbody tr', { has: page.locator(`button.act[aria-label="callers of ${opt.func}"]`) }).first();
      const shown = (await row.locator('td.calls').innerText()).trim();
      check('calls column shows the count of ' + opt.func, shown === opt.calls, shown);
      await page.locator('#table thead button[data-sort="calls"]').click();
      const counts = (await page.locator('#table tbody td.calls').allInnerTexts())
        .map((t) => Number(t.split('/')[0]) || 0);
      check('table sorts by calls', counts.length > 2 && counts.every((c, j) => j === 0 || counts[j - 1] >= c), counts.slice(0, 8));
    }
    await page.locator('#tab-lines').click();
    check('line table has rows', (await page.locator('#table tbody tr').count()) > 2);
    await page.locator('#tab-funcs').click();

    // -- the thread filter and the library toggle re-render without errors
    const nthreads = await page.locator('#thread option').count();
    check('thread filter lists the threads', nthreads >= 3, nthreads);
    await page.locator('#thread').selectOption({ index: 1 });
    const filtered = await R.text('#sel-totals');
    check('thread filter changes the totals', filtered !== totals0, filtered);
    await page.locator('#thread').selectOption('-1');
    await page.locator('#collapse').setChecked(false);
    await page.locator('#merge').setChecked(true);
    await page.locator('#bylines').setChecked(true);
    check('options re-render', (await R.frames()).length > 2);
    await page.locator('#collapse').setChecked(true);
    await page.locator('#merge').setChecked(false);
    await page.locator('#bylines').setChecked(false);
    const tip = await page.evaluate(() => document.getElementById('tooltip').hidden);
    check('tooltip hidden at rest', tip === true);
    const fr = (await R.frames()).find((f) => !f.ancestor && f.w > 30);
    const box = await flame.boundingBox();
    await page.mouse.move(box.x + fr.x + fr.w / 2, box.y + fr.y + 9);
    const tipText = await page.locator('#tooltip').innerText();
    check('tooltip shows every metric', /Wall time/.test(tipText) && /Waiting for a lock/.test(tipText), tipText);
  }
  if (opt.native) {
    // the colour drawn inside a frame: the commonest pixel of its left edge
    // (away from its label)
    const colour = (f) => page.evaluate(({ x, y, h }) => {
      const c = document.getElementById('flame');
      const r = window.devicePixelRatio || 1;
      const d = c.getContext('2d').getImageData(Math.round((x + 2) * r), Math.round(y * r),
        1, Math.round(h * r)).data;
      const count = new Map();
      for (let i = 0; i < d.length; i += 4) {
        const k = d[i] + ',' + d[i + 1] + ',' + d[i + 2];
        count.set(k, (count.get(k) || 0) + 1);
      }
      return [...count.entries()].sort((a, b) => b[1] - a[1])[0][0].split(',').map(Number);
    }, { x: f.x, y: f.y, h: f.h });
    const names = (fs) => fs.filter((f) => !f.ancestor).map((f) => f.name);
    const nat = frames0.find((f) => f.name === opt.native && !f.ancestor && f.w > 6);
    const caller = frames0.find((f) => f.name === opt.nativeCaller && !f.ancestor && f.w > 6);
    if (check('the native frame and its Python caller are drawn', !!nat && !!caller,
      frames0.map((f) => f.name))) {
      const [nr, ng, nb] = await colour(nat), [cr, cg, cb] = await colour(caller);
      result.nativeColour = [nr, ng, nb];
      result.pythonColour = [cr, cg, cb];
      check('the native frame is coloured apart (blue over red)', nb > nr && nb > ng, [nr, ng, nb]);
      check('the Python frame is not (red over blue)', cr > cb, [cr, cg, cb]);
    }
    check('the native toggle is offered', await page.locator('#native').isVisible());
    const before = names(frames0);
    await page.locator('#native').setChecked(false);
    const hidden = await R.frames();
    const after = names(hidden);
    check('unticked: no native frame left', !after.includes(opt.native), after);
    check('unticked: the Python caller stays', after.includes(opt.nativeCaller), after);
    check('unticked: fewer frames', after.length < before.length, [before.length, after.length]);
    const c2 = hidden.find((f) => f.name === opt.nativeCaller && !f.ancestor);
    const under = c2 ? hidden.filter((f) => f.y === c2.y + c2.h && f.x >= c2.x &&
      f.x < c2.x + c2.w) : [];
    check('unticked: the caller has nothing native under it', c2 && under.length === 0,
      under.map((f) => f.name));
    await page.locator('#native').setChecked(true);
    check('ticked again: the native frame is back', names(await R.frames()).includes(opt.native));
  }
  if (opt.task) {
    // -- the tasks, a group per thread in the thread filter
    const label = '<task ' + opt.task + '>';
    const tasks = await page.evaluate(() => window.stethoReport.tasks());
    check('the page finds the task', tasks.some((k) => k.label === label), tasks);
    const options = await page.locator('#thread optgroup option').allInnerTexts();
    const mine = options.findIndex((t) => t.startsWith(label + ' \u2014'));
    check('the filter lists the task under its thread', mine >= 0, options);
    const value = await page.locator('#thread optgroup option').nth(Math.max(mine, 0)).getAttribute('value');
    await page.locator('#thread').selectOption(value);
    const st = await R.state();
    check('choosing the task selects it', st.task === label, st);
    const names = (await R.frames()).map((f) => f.name);
    check('the flame graph shows the task', names.includes(label), names.slice(0, 20));
    // (the root is named after the selection: "<task NAME> in Thread ...")
    const others = names.filter((n) => n !== label && !n.startsWith(label + ' in ') &&
      (/^<task /.test(n) || n === '<event loop>'));
    check('and no other task', others.length === 0, others);
    const shown = await R.text('#sel-totals');
    check('the totals name the task', shown.includes(label), shown);
    result.task = { label, totals: st.totals };
    await page.locator('#thread').selectOption('-1');
    check('all threads again', (await R.state()).task === null);
  }
} catch (e) {
  result.failures.push('exception: ' + (e && e.stack || e));
} finally {
  await browser.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}
check('no console or page errors', result.errors.length === 0, result.errors);
console.log(JSON.stringify(result, null, 1));
process.exit(result.failures.length ? 1 : 0);
