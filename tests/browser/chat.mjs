// Drives Debian's Chromium (headless, through playwright-core) through the
// chat page served by the real Caddy in front of a stand-in Ollama.
// Usage: node chat.mjs URL KEY SCREENSHOT.png   (prints one JSON line)
// Every hostname resolves to 127.0.0.1; the certificate is Pebble's, which
// this browser profile does not know (tests/proxy.rs checks TLS itself).
import { chromium } from "playwright-core";

const [url, key, shot] = process.argv.slice(2);
const wrong = "wrong-key-0123456789abcdef";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * 127.0.0.1",
  ],
});
const fail = async (msg) => {
  await browser.close();
  console.error(msg);
  process.exit(1);
};
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  const urls = [];
  const auth = [];
  page.on("request", (r) => {
    urls.push(r.url());
    if (new URL(r.url()).pathname.startsWith("/api/")) auth.push(r.headers()["authorization"] || "");
  });
  await page.goto(url);
  // The page asks for the key first.
  await page.locator("#key-dialog").waitFor({ state: "visible", timeout: 10000 });
  await page.fill("#key", wrong);
  await page.click("#key-form button");
  // A wrong key: a clear message, asked again.
  await page.locator("#key-why", { hasText: "refused (HTTP 401)" }).waitFor({ timeout: 10000 });
  await page.fill("#key", key);
  await page.click("#key-form button");
  await page.locator("#model option", { hasText: "llama3.2:1b" }).waitFor({ state: "attached", timeout: 10000 });
  await page.fill("#prompt", "Say hello to Linode");
  await page.click("#send");
  // The answer streams in word by word.
  const answer = page.locator(".assistant", { hasText: "You said: Say hello to Linode" });
  await answer.waitFor({ timeout: 15000 });
  const stored = await page.evaluate(() => sessionStorage.getItem("linode-ai-key"));
  if (stored !== key) await fail("the key is not kept in session storage");
  const local = await page.evaluate(() => JSON.stringify(localStorage));
  if (local.includes(key)) await fail("the key was written to local storage");
  if (urls.some((u) => u.includes(key) || u.includes(encodeURIComponent(key)))) await fail("a URL carries the key: " + urls.join(" "));
  if (!auth.every((a) => a === "Bearer " + key || a === "Bearer " + wrong)) await fail("an API request without the header: " + auth);
  const firstAnswer = await answer.textContent();

  // Markdown reads well and stays inert: the stand-in echoes the prompt, so the
  // answer holds exactly this. Nothing of it may run or load anything.
  let alerted = "";
  page.on("dialog", async (d) => { alerted = d.message(); await d.dismiss(); });
  const hostile = "**bold** and `inline code` [site](javascript:alert(1)) <img src=x onerror=alert(2)> <script>alert(3)</script>\n\n" +
    "```\nline1 <b>x</b>\nline2\n```\n\n- one\n- two *em*\n\n1. first\n2. second\n\n## Heading";
  await page.fill("#prompt", hostile);
  await page.click("#send");
  const md = page.locator(".assistant").last();
  await md.locator("h4", { hasText: "Heading" }).waitFor({ timeout: 15000 });
  const seen = await md.evaluate((b) => ({
    strong: [...b.querySelectorAll("strong")].map((e) => e.textContent),
    em: [...b.querySelectorAll("em")].map((e) => e.textContent),
    code: [...b.querySelectorAll("p code")].map((e) => e.textContent),
    pre: [...b.querySelectorAll("pre code")].map((e) => e.textContent),
    ul: b.querySelectorAll("ul > li").length,
    ol: b.querySelectorAll("ol > li").length,
    links: b.querySelectorAll("a").length,
    imgs: document.querySelectorAll("img").length,
    scripts: b.querySelectorAll("script").length,
    urls: [...b.querySelectorAll(".url")].map((e) => e.textContent),
    text: b.textContent,
  }));
  const want = (cond, what) => cond || fail(what + ": " + JSON.stringify(seen));
  await want(seen.strong.includes("bold") && seen.em.includes("em"), "emphasis");
  await want(seen.code.includes("inline code"), "inline code");
  await want(seen.pre.length === 1 && seen.pre[0] === "line1 <b>x</b>\nline2", "fenced code as text");
  await want(seen.ul === 2 && seen.ol === 2, "lists");
  await want(seen.links === 0 && seen.imgs === 0 && seen.scripts === 0, "no link, image or script element");
  await want(seen.urls.includes(" (javascript:alert(1))"), "a link's URL shown as text");
  await want(seen.text.includes("<img src=x onerror=alert(2)>") && seen.text.includes("<script>alert(3)</script>"), "tags shown as text");
  await page.waitForTimeout(300);
  if (alerted) await fail("model output ran script: " + alerted);
  // The code block's Copy button copies the code itself.
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(url).origin });
  await md.locator(".code button").click();
  await md.locator(".code button", { hasText: "Copied" }).waitFor({ timeout: 5000 });
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  if (copied !== "line1 <b>x</b>\nline2") await fail("copied: " + JSON.stringify(copied));
  await page.screenshot({ path: shot });

  // Stop: a long answer stops where it is; what came stays, Send is back.
  await page.fill("#prompt", "count " + Array.from({ length: 1000 }, (_, i) => "w" + i).join(" "));
  await page.click("#send");
  const long = page.locator(".assistant").last();
  await long.locator("text=You said").waitFor({ timeout: 15000 });
  await page.locator("#send", { hasText: "Stop" }).click();
  await page.locator(".note", { hasText: "Stopped." }).waitFor({ timeout: 5000 });
  const cut = (await long.textContent()).length;
  await page.waitForTimeout(500);
  if ((await long.textContent()).length !== cut) await fail("the answer kept growing after Stop");
  if ((await long.textContent()).includes("w999")) await fail("Stop came after the whole answer");
  await page.locator("#send", { hasText: "Send" }).waitFor({ timeout: 5000 });

  // The whole conversation copies as text.
  await page.click("#copy");
  await page.locator(".note", { hasText: "Conversation copied." }).waitFor({ timeout: 5000 });
  const chat = await page.evaluate(() => navigator.clipboard.readText());
  if (!chat.startsWith("You: Say hello to Linode\n\nAssistant: Hello from the stand-in Ollama")) await fail("conversation copied: " + chat.slice(0, 200));

  console.log(JSON.stringify({ ok: true, requests: urls.length, api_requests: auth.length, answer: firstAnswer }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
