// check_pages.mjs -- the HTML report's Leaks tab and the `stetho diff
// --html` page, in headless Chromium (tests/e2e/test_html_leaks_diff.py).
//
//   node tests/html/check_pages.mjs PAGE.html --leaks FUNC [--chromium PATH] [--screenshot OUT.png]
//   node tests/html/check_pages.mjs PAGE.html --diff FUNC  [--chromium PATH] [--screenshot OUT.png]
//   node tests/html/check_pages.mjs PAGE.html --type NAME  [--chromium PATH]
//
// --leaks: the Leaks tab is offered, opens, lists FUNC as a suspect with a
// growth chart (an SVG line with points), and has the GC section.
// --diff: the flame graph is drawn; FUNC's frame is red (it grew) and its
// tooltip shows base, new and the delta; the delta table lists FUNC with
// a positive change.  --type: the Leaks tab's table of live objects by
// type has a row for NAME (its cells are the facts).  All: no console or page errors, no network.
// Prints one JSON object (passed, failures, facts); exit 1 on a failure.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = { leaks: null, diff: null, type: null, chromium: '/usr/bin/chromium', screenshot: null };
let page = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--leaks') opt.leaks = args[++i];
  else if (a === '--diff') opt.diff = args[++i];
  else if (a === '--type') opt.type = args[++i];
  else if (a === '--chromium') opt.chromium = args[++i];
  else if (a === '--screenshot') opt.screenshot = args[++i];
  else page = a;
}
if (!page || !(opt.leaks || opt.diff || opt.type)) {
  console.error('usage: check_pages.mjs PAGE.html (--leaks FUNC | --diff FUNC | --type NAME) [--screenshot OUT.png]');
  process.exit(2);
}

const result = { passed: [], failures: [], errors: [], facts: {} };
const check = (name, ok, detail) => {
  if (ok) result.passed.push(name);
  else result.failures.push(name + (detail !== undefined ? ': ' + JSON.stringify(detail) : ''));
  return ok;
};

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stetho-chromium-'));
const browser = await chromium.launchPersistentContext(userDir, {
  executablePath: opt.chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
});

/* "hsl(0,78%,50%)" or "#e2e4e8" -> [r, g, b] as the canvas paints it */
const rgb = (p, color) => p.evaluate((c) => {
  const x = document.createElement('canvas').getContext('2d');
  x.fillStyle = c;
  x.fillRect(0, 0, 1, 1);
  return Array.from(x.getImageData(0, 0, 1, 1).data.slice(0, 3));
}, color);

try {
  const p = browser.pages()[0] || await browser.newPage();
  p.on('console', (m) => { if (m.type() === 'error') result.errors.push('console: ' + m.text()); });
  p.on('pageerror', (e) => result.errors.push('pageerror: ' + e.message));
  p.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('file:') && !u.startsWith('data:')) result.errors.push('network request: ' + u);
  });
  await p.goto(pathToFileURL(path.resolve(page)).href, { waitUntil: 'load', timeout: 60000 });
  await p.waitForFunction(() => window.stethoReport && window.stethoReport.ready, null, { timeout: 60000 });

  if (opt.leaks) {
    const tab = p.locator('#tab-leaks');
    check('the Leaks tab is offered', await tab.isVisible());
    await tab.click();
    check('the Leaks tab opens', await p.locator('#leaks').isVisible() &&
      !(await p.locator('#table-wrap').isVisible()));
    const rows = await p.locator('#leaks tr.suspect').evaluateAll((trs) => trs.map((tr) => ({
      name: tr.querySelector('td.name').textContent,
      text: tr.textContent,
      points: (tr.querySelector('svg polyline') || { getAttribute: () => '' }).getAttribute('points').split(' ').length,
      chartWidth: tr.querySelector('svg') ? tr.querySelector('svg').getBoundingClientRect().width : 0,
    })));
    result.facts.suspects = rows;
    const s = rows.find((r) => r.name === opt.leaks);
    check('the suspect is listed', !!s, rows);
    check('the suspect has its growth chart', s && s.points >= 6 && s.chartWidth > 100, s);
    check('a rate is shown', s && /\/s since/.test(s.text), s);
    const text = await p.locator('#leaks').innerText();
    check('held at exit, temporaries and GC shown',
      /Held at exit/.test(text) && /Temporary allocations/.test(text) && /Garbage collector/.test(text), text.slice(0, 400));
    if (opt.screenshot) {
      await p.locator('#tables-box').scrollIntoViewIfNeeded();
      await p.locator('#tables-box').screenshot({ path: opt.screenshot });
    }
  }

  if (opt.type) {
    await p.locator('#tab-leaks').click();
    const rows = await p.locator('#leaks table.types tbody tr').evaluateAll((trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)));
    result.facts.types = rows;
    const row = rows.find((r) => r[0] === opt.type);
    result.facts.type = row || null;
    check('the type is listed', !!row, rows.map((r) => r[0]));
  }

  if (opt.diff) {
    if (opt.screenshot) await p.screenshot({ path: opt.screenshot, fullPage: false });
    const frames = await p.evaluate(() => window.stethoReport.frames());
    check('the diff flame graph is drawn', frames.length > 2, frames.length);
    const f = frames.find((x) => x.name === opt.diff && !x.ancestor);
    result.facts.frame = f;
    if (check('the function has a frame', !!f, frames.map((x) => x.name))) {
      const [r, g, b] = await rgb(p, f.color);
      check('a frame that grew is red', f.new > f.base && r > 200 && r > g + 60 && r > b + 60, { color: f.color, rgb: [r, g, b] });
      // the canvas really has that colour where the frame is
      const box = await p.locator('#flame').boundingBox();
      await p.mouse.move(box.x + f.x + f.w / 2, box.y + f.y + f.h / 2);
      const tip = await p.locator('#tooltip').innerText();
      result.facts.tip = tip;
      check('the tooltip shows base, new and the delta', /base/.test(tip) && /new/.test(tip) && /\+/.test(tip), tip);
      const grew = frames.filter((x) => !x.ancestor && x.new < x.base);
      if (grew.length) {
        const [r2, , b2] = await rgb(p, grew[0].color);
        check('a frame that shrank is blue', b2 > r2, grew[0]);
      }
    }
    const row = await p.locator('#table tbody tr').evaluateAll((trs, name) => {
      const tr = trs.find((t) => t.querySelector('td.name').textContent === name);
      return tr ? Array.from(tr.querySelectorAll('td')).map((td) => td.textContent) : null;
    }, opt.diff);
    result.facts.row = row;
    check('the delta table lists the function, grown', row && row.some((c) => /^\+/.test(c)), row);
  }
} catch (e) {
  result.failures.push('exception: ' + (e && e.stack || e));
} finally {
  await browser.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}
for (const e of result.errors) result.failures.push(e);
console.log(JSON.stringify(result));
process.exit(result.failures.length ? 1 : 0);
