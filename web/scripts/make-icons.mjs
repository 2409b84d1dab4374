// SPDX-License-Identifier: MIT
// Renders public/icons/icon.svg to the PNG icons of the manifest with Debian's Chromium
// (playwright-core; it gives the browser a fresh temporary profile). Run by hand after changing the SVG: node scripts/make-icons.mjs
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const dir = new URL("../public/icons/", import.meta.url).pathname;
const svg = readFileSync(join(dir, "icon.svg"), "utf8");
// Maskable: full-bleed background, glyph inside the 80 % safe zone.
const maskable = svg
  .replace('rx="96"', 'rx="0"')
  .replace(/<path/g, '<path transform="translate(51 51) scale(0.8)"');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
for (const [name, size, src] of [
  ["icon-192.png", 192, svg],
  ["icon-512.png", 512, svg],
  ["icon-maskable-512.png", 512, maskable],
]) {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(`<html><body style="margin:0;background:transparent">${src.replace("<svg ", `<svg width="${size}" height="${size}" `)}</body></html>`);
  await page.screenshot({ path: join(dir, name), omitBackground: true });
  console.log("wrote", name);
}
await browser.close();
