// Drives headless Debian chromium (no browser download: playwright-core with executablePath) over
// the promig dashboard or an HTML report. Run by crates/promig/tests/browser.rs:
//   node run.js dashboard BASE_URL TOKEN SCREENSHOT.png
//   node run.js report FILE.html CHARTS SCREENSHOT.png [timeline]
//   node run.js agent BASE_URL TOKEN   (a controller deciding with the RL agent)
// Exits non-zero with a message on the first failed check.
"use strict";

const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

const CHROMIUM = process.env.PROMIG_CHROMIUM || "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run",
];

function check(ok, message) {
  if (!ok) throw new Error("check failed: " + message);
  console.log("ok: " + message);
}

async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "promig-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 },
  });
  const errors = [];
  const watch = (page) => {
    page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
    page.on("pageerror", (e) => errors.push("page error: " + e.message));
  };
  context.on("page", watch);
  const page = context.pages()[0] || await context.newPage();
  watch(page);
  return { context, page, errors, dir };
}

async function dashboard(base, token, shot) {
  const { context, page, errors, dir } = await launch();
  try {
    await page.goto(base + "/");
    check(await page.title() === "promig controller", "the page loads without the token");
    await page.getByLabel("API token").fill("wrong-token-wrong-token");
    await page.getByRole("button", { name: "Connect" }).click();
    await page.locator("#login-error").filter({ hasText: "Refused" }).waitFor({ timeout: 10000 });
    check(true, "a wrong token is refused on the login form");
    // Keyboard only: type the token, Enter submits.
    await page.getByLabel("API token").fill("");
    await page.getByLabel("API token").focus();
    await page.keyboard.type(token);
    await page.keyboard.press("Enter");
    await page.locator(".host").first().waitFor({ timeout: 30000 });
    const hosts = await page.locator(".host").count();
    const racks = await page.locator(".rack h3").count();
    check(hosts > 0 && racks > 0, `${hosts} hosts in ${racks} racks shown`);
    check(await page.evaluate(() => sessionStorage.getItem("promig-token") !== null), "the token is kept in sessionStorage");
    // Service chains: a legend with each chain's mark, and the members marked on the host cards.
    const chains = await page.locator("ul.chains li.chain").count();
    const marked = await page.locator(".host .vms li[data-chain]").count();
    const legend = chains ? await page.locator("ul.chains li.chain").first().textContent() : "";
    check(chains > 0 && marked > 0 && /C1/.test(legend) && /VNFs/.test(legend),
      `${chains} chains in the legend, ${marked} chain members marked on host cards`);
    // Link loads: every rack's uplink and every host's NIC, labelled as migration traffic.
    const uplinks = await page.locator(".rack > .link").count();
    const nics = await page.locator(".host .link").count();
    const nicText = await page.locator(".host .link").first().textContent();
    const upText = await page.locator(".rack > .link").first().textContent();
    check(uplinks === racks && nics === hosts && /NIC: migration traffic .* of .*Gb\/s/.test(nicText) &&
      /Rack uplink: migration traffic .* of .*Gb\/s/.test(upText),
      `link loads shown: ${uplinks} rack uplinks ("${upText}"), ${nics} host NICs ("${nicText}")`);

    // A recommended plan (the controller runs with --approval manual), approved from the keyboard
    // and watched to its end. The simulated world may refuse a move (capacity, a host that went
    // down) or supersede a plan before the click lands; then the next plan is taken, three at most.
    let id = null;
    let state = "";
    let sawRunning = false;
    let sawBusy = false;
    for (let round = 0; round < 3 && state !== "succeeded"; round++) {
      id = null;
      for (let attempt = 0; attempt < 5 && id === null; attempt++) {
        const button = page.getByRole("button", { name: /^Approve plan \d+$/ }).first();
        await button.waitFor({ timeout: 90000 });
        const name = await button.textContent();
        const candidate = Number(name.match(/\d+/)[0]);
        const card = page.locator(`article.plan[data-plan="${candidate}"]`);
        const text = await card.textContent();
        check(/Cause/.test(text) && /Predicted downtime/.test(text) && /Technique/.test(text),
          `plan ${candidate} shows its reasons`);
        await button.focus();
        await page.keyboard.press("Enter");
        const notice = page.locator("#notice");
        await notice.filter({ hasText: `Plan ${candidate}:` }).waitFor({ timeout: 10000 });
        const said = await notice.textContent();
        console.log("notice: " + said);
        if (/approved/.test(said)) id = candidate; // else superseded meanwhile: take the next one
      }
      check(id !== null, `plan ${id} approved with the Approve button`);

      // Watch it run and finish: it leaves the running list and its point joins the chart.
      const deadline = Date.now() + 120000;
      sawRunning = false;
      while (Date.now() < deadline) {
        state = await page.evaluate(async (id) => {
          const r = await fetch("/api/v1/plans/" + id, { headers: { Authorization: "Bearer " + sessionStorage.getItem("promig-token") } });
          return (await r.json()).state;
        }, id);
        if (await page.locator(`article.migration[data-plan="${id}"]`).count() > 0) {
          sawRunning = true;
          if (await page.locator(".host .link.busy").count() >= 2) sawBusy = true;
        }
        if (["succeeded", "failed", "cancelled", "superseded"].includes(state)) break;
        await page.waitForTimeout(100);
      }
      console.log(`plan ${id} ended ${state}`);
    }
    check(state === "succeeded", `plan ${id} ended ${state}`);
    console.log("saw it in the running list: " + sawRunning);
    // While it ran, its source and destination NICs carried its traffic.
    check(!sawRunning || sawBusy, "a running migration loads the NICs it crosses: " + sawBusy);
    await page.locator("#history svg circle.point").first().waitFor({ timeout: 10000 });
    check(true, "the downtime chart has a point");
    await page.waitForFunction((id) => !document.querySelector(`article.migration[data-plan="${id}"]`), id, { timeout: 10000 });
    check(true, "the finished migration left the running list");

    // The API without the token is refused, the event stream too (header and query).
    const refused = await page.evaluate(async () => {
      const out = [];
      for (const p of ["/api/v1/plans", "/api/v1/status", "/api/v1/events", "/api/v1/events?token=nope"]) {
        out.push((await fetch(p)).status);
      }
      return out;
    });
    check(refused.every((s) => s === 401), "API requests without the token are refused: " + refused.join(","));

    // Focus is visible on the keyboard path.
    await page.keyboard.press("Tab");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    check(outline !== "none", "the focused control shows an outline (" + outline + ")");

    await page.screenshot({ path: shot, fullPage: true });
    check(fs.statSync(shot).size > 10000, "screenshot " + shot);

    // Phone width: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `no horizontal scrolling at 390 px (${width})`);
    // The refusals this test provoked (wrong token at login, the four requests without one) are
    // logged by chromium as failed loads; anything else is a fault of the page.
    const unexpected = errors.filter((e) => !/status of 401/.test(e));
    const refusedLoads = errors.length - unexpected.length;
    check(refusedLoads <= 5, `only the provoked 401s were logged (${refusedLoads})`);
    check(unexpected.length === 0, "no console errors: " + unexpected.join(" | "));
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function report(file, charts, shot, wantTimeline) {
  const { context, page, errors, dir } = await launch();
  const requests = [];
  page.on("request", (r) => { if (!r.url().startsWith("file:")) requests.push(r.url()); });
  try {
    await page.goto("file://" + path.resolve(file));
    const svgs = await page.locator("svg").count();
    check(svgs === charts, `${svgs} charts (expected ${charts})`);
    const sizes = await page.locator("svg").evaluateAll((all) => all.map((s) => s.getBoundingClientRect().height));
    check(sizes.every((h) => h > 100), "every chart is drawn: heights " + sizes.map((h) => h.toFixed(0)).join(","));
    const timeline = await page.locator("svg[aria-labelledby='timeline-t']").count();
    check(timeline === (wantTimeline ? 1 : 0), "the risk timeline is there: " + wantTimeline);
    await page.screenshot({ path: shot, fullPage: true });
    check(fs.statSync(shot).size > 10000, "screenshot " + shot);
    check(requests.length === 0, "no network request: " + requests.join(" "));
    check(errors.length === 0, "no console errors: " + errors.join(" | "));
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// A plan made by the RL agent shows the agent's side of its reason: the options it scored, the
// one taken first, waiting's score and the features that weighed most.
async function agent(base, token) {
  const { context, page, errors, dir } = await launch();
  try {
    await page.goto(base + "/");
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Connect" }).click();
    // The page re-renders as events arrive, so each read takes the card afresh, in one go.
    const agentCard = "article.plan:has(summary:text(\"Agent's options\"))";
    await page.locator(agentCard).first().waitFor({ timeout: 90000 });
    const seen = await page.evaluate(() => {
      for (const card of document.querySelectorAll("article.plan")) {
        const summary = [...card.querySelectorAll("summary")].find((s) => /Agent's options/.test(s.textContent));
        if (!summary) continue;
        const items = [...summary.parentElement.querySelectorAll("ol li")].map((li) => li.textContent);
        return { title: card.querySelector("h3").textContent, summary: summary.textContent, items };
      }
      return { title: "", summary: "", items: [] };
    });
    check(/waiting scored -?\d/.test(seen.summary), "waiting's score is shown: " + seen.summary);
    const first = seen.items[0] || "";
    check(seen.items.length >= 1 && / by [a-z-]+ /.test(first) && /[a-z_]+ [+-]\d/.test(first),
      `${seen.items.length} scored options, the first "${first}"`);
    const to = seen.title.match(/ to (\S+)/)[1];
    check(first.startsWith(to + " by "), `the option taken (${to}) is listed first`);
    check(errors.length === 0, "no console errors: " + errors.join(" | "));
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(async () => {
  const [mode, a, b, c, d] = process.argv.slice(2);
  if (mode === "dashboard") await dashboard(a, b, c);
  else if (mode === "agent") await agent(a, b);
  else if (mode === "report") await report(a, Number(b), c, d === "timeline");
  else throw new Error("usage: node run.js dashboard BASE TOKEN PNG | report FILE CHARTS PNG [timeline]");
})().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
