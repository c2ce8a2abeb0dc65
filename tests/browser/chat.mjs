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
  await page.fill("#prompt", "");
  await page.screenshot({ path: shot });
  console.log(JSON.stringify({ ok: true, requests: urls.length, api_requests: auth.length, answer: await answer.textContent() }));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
