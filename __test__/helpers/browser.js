'use strict';

// Headless Chromium for the browser tests: Debian's chromium package (or CHROMIUM_PATH) driven by
// playwright-core, with no browser download, and the flags this machine's closed network needs.

const fs = require('fs');
const { chromium } = require('playwright-core');

const CHROMIUM = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe'
].find((p) => p && fs.existsSync(p));

/** Launches it headless, with `args` added to the usual flags. */
function launchChromium(args = []) {
  if (!CHROMIUM) throw new Error('no Chromium found: apt-get install -y chromium, or set CHROMIUM_PATH');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...args
    ]
  });
}

module.exports = { launchChromium };
