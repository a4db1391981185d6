// Drives the web app in Debian's Chromium, as a person would: setup → library → scan → browse →
// play → stop → reopen → resume → play a file that needs converting (HLS) → watch party → webhooks →
// a series (seasons, episodes, played mark) → the next-episode countdown → an album (tracks in order) → two-step sign-in
// (TOTP) → the profile picker with a PIN-protected profile.
// Usage: node web-flow.mjs BASE_URL MEDIA_DIR SCREENSHOT_DIR SHOWS_DIR MUSIC_DIR
// Prints one JSON object per step on stdout; exits non-zero with the failing step on stderr.
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, mediaDir, shots, showsDir, musicDir] = process.argv.slice(2);

/** RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s) for a base32 secret, at ``step`` steps from now. */
function totp(secret, step = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
];

const profile = mkdtempSync(join(tmpdir(), "revenge-e2e-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ARGS,
  viewport: { width: 1366, height: 820 },
});
const page = context.pages()[0] ?? (await context.newPage());
const consoleErrors = [];
// A console error names the resource that failed, so a 404 can be traced to its request.
const consoleError = (message) => `${message.text()} (${message.location()?.url ?? "unknown"})`;
page.on("console", (message) => {
  if (message.type() === "error") consoleErrors.push(consoleError(message));
});
page.on("pageerror", (error) => consoleErrors.push(String(error)));
const failedResponses = [];
// The whole context, not only the page: responses of every page and worker count.
context.on("response", (response) => {
  if (response.status() >= 400) failedResponses.push(`${response.status()} ${response.request().method()} ${response.url()}`);
});
page.setDefaultTimeout(30_000);

let step = "start";
let shot = 0;
const report = (data) => console.log(JSON.stringify({ step, ...data }));
async function snap(name) {
  shot += 1;
  const file = join(shots, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

try {
  step = "setup";
  await page.goto(base + "/");
  await page.waitForURL(/\/setup/);
  await page.getByRole("heading", { name: "Welcome to Revenge" }).waitFor();
  await snap("setup-account");
  await page.getByLabel("Name").fill("admin");
  await page.getByLabel("Password", { exact: true }).fill("correct horse battery staple");
  await page.getByLabel("Confirm password").fill("correct horse battery staple");
  await page.getByRole("button", { name: "Create account" }).click();
  report({ ok: true });

  step = "library";
  await page.getByRole("heading", { name: "Add your first library" }).waitFor();
  await page.getByLabel("Folder on the server").fill(mediaDir);
  await snap("setup-library");
  await page.getByRole("button", { name: "Add library" }).click();
  report({ ok: true });

  step = "scan";
  await page.getByRole("heading", { name: /^Scanning/ }).waitFor();
  await snap("setup-scanning");
  const bar = page.getByRole("progressbar", { name: "Library scan progress" });
  await bar.and(page.locator('[data-status="COMPLETED"]')).waitFor({ timeout: 90_000 });
  const scanText = await page.locator(".scan").innerText();
  await snap("setup-scan-done");
  report({ ok: true, scanText });

  step = "home";
  await page.getByRole("button", { name: "Start watching" }).click();
  await page.getByRole("heading", { name: "Recently added in Movies" }).waitFor();
  await page.waitForTimeout(600); // posters fade in
  await snap("home");
  report({ ok: true });

  step = "library-grid";
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Movies" }).click();
  await page.getByRole("heading", { name: "Movies", level: 1 }).waitFor();
  await page.locator(".grid .card").first().waitFor();
  const titles = await page.locator(".grid .card-title").allInnerTexts();
  await page.waitForTimeout(600);
  await snap("library");
  await page.getByRole("searchbox", { name: "Search Movies" }).fill("night");
  await page.waitForFunction(() => document.querySelectorAll(".grid .card").length === 1);
  const filtered = await page.locator(".grid .card-title").allInnerTexts();
  await snap("library-search");
  report({ ok: true, titles, filtered });

  step = "item";
  await page.getByRole("link", { name: /Night Train/ }).click();
  await page.getByRole("heading", { name: "Night Train", level: 1 }).waitFor();
  await page.waitForTimeout(500);
  await snap("item");
  report({ ok: true });

  step = "play";
  await page.getByRole("link", { name: /Play/ }).click();
  await page.waitForURL(/\/play\?/);
  const video = page.locator("video");
  await video.waitFor();
  await page.waitForFunction(() => (document.querySelector("video")?.currentTime ?? 0) > 3, null, { timeout: 45_000 });
  const method = await page.locator(".player-method").getAttribute("data-method");
  const playedTo = await video.evaluate((element) => element.currentTime);
  await page.mouse.move(400, 400);
  await page.mouse.move(420, 380);
  await page.waitForTimeout(400); // the controls fade back in
  await snap("playing");
  report({ ok: true, method, playedTo });

  step = "stop";
  await page.getByRole("button", { name: "Stop and go back" }).click();
  await page.waitForURL(/\/item\?/);
  await page.getByRole("heading", { name: "Night Train", level: 1 }).waitFor();
  await page.getByText(/watched$/).waitFor({ timeout: 20_000 });
  await snap("stopped");
  report({ ok: true });

  step = "resume";
  await page.reload();
  await page.getByRole("heading", { name: "Night Train", level: 1 }).waitFor();
  await page.getByRole("link", { name: /Play/ }).click();
  const dialog = page.getByRole("dialog", { name: /Resume/ });
  await dialog.waitFor();
  const resumeLabel = await dialog.getByRole("button", { name: /Resume from/ }).innerText();
  await snap("resume-prompt");
  await dialog.getByRole("button", { name: /Resume from/ }).click();
  await page.waitForFunction(() => (document.querySelector("video")?.currentTime ?? 0) > 0.5, null, { timeout: 45_000 });
  const resumedAt = await video.evaluate((element) => element.currentTime);
  await snap("resumed");
  report({ ok: true, resumeLabel, resumedAt });

  step = "keyboard";
  await page.keyboard.press("Escape");
  await page.waitForURL(/\/item\?/);
  await page.goto(base + "/");
  await page.getByRole("heading", { name: "Continue watching" }).waitFor();
  await page.keyboard.press("ArrowDown");
  const focused = await page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.textContent);
  await page.waitForTimeout(300);
  await snap("home-continue-watching");
  report({ ok: true, focused });

  step = "hls";
  // An MPEG-4 Part 2 video with MP3 in AVI: no browser plays that, so the server converts it to
  // HLS (H.264/AAC in MPEG-TS) and the app plays it through hls.js.
  const hlsRequests = [];
  const onHlsResponse = (response) => {
    const path = new URL(response.url()).pathname;
    if (path.startsWith("/hls/")) hlsRequests.push(`${response.status()} ${path.split("/").slice(3).join("/")}`);
  };
  page.on("response", onHlsResponse);
  await page.getByRole("searchbox", { name: "Search everything" }).fill("old times");
  await page.getByRole("link", { name: /Old Times/ }).first().click();
  await page.getByRole("heading", { name: "Old Times", level: 1 }).waitFor();
  await page.getByRole("link", { name: /Play/ }).click();
  await page.waitForURL(/\/play\?/);
  await page.waitForFunction(() => (document.querySelector("video")?.currentTime ?? 0) > 3, null, { timeout: 45_000 });
  const hlsMethod = await page.locator(".player-method").getAttribute("data-method");
  const engine = await page.locator(".player-method").getAttribute("data-engine");
  const hlsPlayedTo = await video.evaluate((element) => element.currentTime);
  const decoded = await video.evaluate((element) => element.getVideoPlaybackQuality().totalVideoFrames);
  const mediaError = await video.evaluate((element) => element.error?.message ?? null);
  await page.mouse.move(400, 400);
  await page.mouse.move(420, 380);
  await page.waitForTimeout(400);
  await snap("playing-hls");
  page.off("response", onHlsResponse);
  report({ ok: true, method: hlsMethod, engine, playedTo: hlsPlayedTo, decoded, mediaError, requests: hlsRequests });
  await page.getByRole("button", { name: "Stop and go back" }).click();
  await page.waitForURL(/\/item\?/);

  step = "party";
  // A second household member in a second browser joins the admin's watch party.
  const gql = (query, variables) =>
    page.evaluate(
      async ([query, variables]) => {
        const response = await fetch("/graphql", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${localStorage.getItem("revenge.accessToken")}` },
          body: JSON.stringify({ query, variables }),
        });
        return (await response.json()).data;
      },
      [query, variables],
    );
  const created = await gql(
    `mutation ($input: CreateUserInput!) { createUser(input: $input) { __typename ... on CreateUserPayload { user { id } } } }`,
    { input: { name: "guest", password: "another horse battery staple" } },
  );
  const guestId = created.createUser.user.id;
  const { libraries } = await gql(`{ libraries { id } }`);
  for (const library of libraries) {
    await gql(`mutation ($l: ID!, $u: ID!) { grantLibraryAccess(libraryId: $l, userId: $u) { __typename } }`, { l: library.id, u: guestId });
  }
  await page.getByRole("searchbox", { name: "Search everything" }).fill("night train");
  await page.getByRole("link", { name: /Night Train/ }).first().click();
  await page.getByRole("heading", { name: "Night Train", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Watch together" }).click();
  await page.waitForURL(/\/party\?code=/);
  const code = (await page.getByLabel("Invite code").innerText()).trim();

  const guestBrowser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args: ARGS });
  const guest = await (await guestBrowser.newContext({ viewport: { width: 1366, height: 820 } })).newPage();
  guest.setDefaultTimeout(30_000);
  guest.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`guest: ${consoleError(message)}`);
  });
  try {
    await guest.goto(`${base}/party?code=${code}`);
    await guest.waitForURL(/\/signin/);
    await guest.getByLabel("Name").fill("guest");
    await guest.getByLabel("Password").fill("another horse battery staple");
    await guest.getByRole("button", { name: "Sign in" }).click();
    await guest.waitForURL(/\/$|\/profiles/);
    await guest.goto(`${base}/party?code=${code}`);
    await guest.getByRole("heading", { name: "Night Train", level: 1 }).waitFor();
    const guestMayPlay = await guest.getByRole("button", { name: "Play for everyone" }).isEnabled();
    // Both players report ready before the host starts; the start is scheduled for everyone.
    await page.waitForFunction(() => document.querySelectorAll('[aria-label="Members"] li[data-ready="true"]').length === 2, null, { timeout: 30_000 });
    await page.getByRole("button", { name: "Play for everyone" }).click();
    await guest.waitForFunction(() => (document.querySelector(".party-video")?.currentTime ?? 0) > 2, null, { timeout: 30_000 });
    const hostAt = await page.evaluate(() => document.querySelector(".party-video").currentTime);
    const guestAt = await guest.evaluate(() => document.querySelector(".party-video").currentTime);
    const guestState = await guest.locator(".party-state").getAttribute("data-state");
    await guest.getByLabel("Message", { exact: true }).fill("hello from the sofa");
    await guest.getByRole("button", { name: "Send" }).click();
    await page.getByLabel("Messages").getByText("hello from the sofa").waitFor();
    await page.getByLabel("Message", { exact: true }).fill("popcorn is ready");
    await page.getByRole("button", { name: "Send" }).click();
    await guest.getByLabel("Messages").getByText("popcorn is ready").waitFor();
    // Members go by their profile names: the host sees the guest's, the guest the host's.
    const memberNames = (viewer) => viewer.locator('[aria-label="Members"] li strong').allInnerTexts();
    const hostSees = await memberNames(page);
    const guestSees = await memberNames(guest);
    const chatAuthors = await page.getByLabel("Messages").locator(".chat-author").allInnerTexts();
    const { me: host } = await gql(`{ me { profiles { name } } }`);
    const hostName = host.profiles[0].name;
    await page.getByRole("button", { name: "Pause for everyone" }).click();
    await guest.waitForFunction(() => document.querySelector(".party-video")?.paused === true, null, { timeout: 15_000 });
    const pausedHost = await page.evaluate(() => document.querySelector(".party-video").currentTime);
    const pausedGuest = await guest.evaluate(() => document.querySelector(".party-video").currentTime);
    await snap("party-host");
    shot += 1;
    await guest.screenshot({ path: join(shots, `${String(shot).padStart(2, "0")}-party-guest.png`) });
    report({ ok: true, code, guestMayPlay, hostAt, guestAt, guestState, pausedHost, pausedGuest, hostSees, guestSees, chatAuthors, hostName });
  } finally {
    await guestBrowser.close();
  }
  await page.getByRole("button", { name: "Leave party" }).click();
  await page.waitForURL(/\/item\?/);

  step = "webhooks";
  await page.goto(base + "/admin");
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
  await page.getByLabel("Name").fill("Echo");
  await page.getByLabel("URL").fill(base + "/no-such-receiver");
  await page.getByRole("button", { name: "Create webhook" }).click();
  const secret = (await page.getByLabel("Signing secret").innerText()).trim();
  await page.getByRole("button", { name: "Send test" }).click();
  const testResult = (await page.getByRole("status", { name: "Test result for Echo" }).innerText()).trim();
  await page.getByRole("button", { name: "Deliveries" }).click();
  await page.getByRole("list", { name: "Deliveries" }).locator("li").first().waitFor();
  const deliveries = await page.getByRole("list", { name: "Deliveries" }).locator("li").count();
  await snap("admin-webhooks");
  report({ ok: true, secretPrefix: secret.slice(0, 6), testResult, deliveries });

  step = "series";
  // A TV library and a music library, added through the API and scanned.
  const addLibrary = async (kind, name, path) => {
    const made = await gql(
      `mutation ($input: CreateLibraryInput!) { createLibrary(input: $input) { __typename ... on CreateLibraryPayload { library { id } } ... on LibraryError { message } } }`,
      { input: { kind, name, rootPaths: [path] } },
    );
    const id = made.createLibrary.library.id;
    await gql(`mutation ($id: ID!) { scanLibrary(id: $id) { __typename } }`, { id });
    return id;
  };
  const newLibraries = [await addLibrary("TV", "TV Shows", showsDir), await addLibrary("MUSIC", "Music", musicDir)];
  for (let tries = 0; ; tries += 1) {
    const { libraries: now } = await gql(`{ libraries { id latestScan { done status } } }`);
    const pending = now.filter((l) => newLibraries.includes(l.id) && !(l.latestScan?.done));
    if (pending.length === 0) break;
    if (tries > 120) throw new Error(`scans not done: ${JSON.stringify(now)}`);
    await page.waitForTimeout(500);
  }
  await page.goto(base + "/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "TV Shows" }).click();
  await page.getByRole("heading", { name: "TV Shows", level: 1 }).waitFor();
  await page.getByRole("link", { name: /Harbor Lights/ }).first().click();
  await page.getByRole("heading", { name: "Harbor Lights", level: 1 }).waitFor();
  const seasonTabs = page.getByRole("tablist", { name: "Seasons" }).getByRole("tab");
  // Scroll the season tabs to just under the top bar, so the episodes are in the screenshot.
  const showEpisodes = () =>
    page.evaluate(() => {
      const tabs = document.querySelector('[role="tablist"][aria-label="Seasons"]');
      window.scrollTo(0, window.scrollY + tabs.getBoundingClientRect().top - 90);
    });
  await seasonTabs.first().waitFor();
  const seasons = (await seasonTabs.allInnerTexts()).map((t) => t.trim());
  const episodeLinks = page.locator(".episodes .episode");
  await episodeLinks.first().waitFor();
  const episodes = await episodeLinks.evaluateAll((links) => links.map((a) => a.getAttribute("aria-label")));
  await showEpisodes();
  await page.waitForTimeout(300);
  await snap("series");
  await seasonTabs.nth(1).click();
  await page.waitForFunction(() => document.querySelectorAll(".episodes .episode").length === 1);
  const secondSeason = await episodeLinks.evaluateAll((links) => links.map((a) => a.getAttribute("aria-label")));
  const secondSelected = await seasonTabs.nth(1).getAttribute("aria-selected");
  await snap("series-season-2");
  await seasonTabs.nth(0).click();
  await page.waitForFunction(() => document.querySelectorAll(".episodes .episode").length === 3);
  await page.getByRole("link", { name: /^Episode 2: The Storm/ }).click();
  await page.getByRole("heading", { name: "The Storm", level: 1 }).waitFor();
  const episodeMeta = await page.locator(".details .meta").innerText();
  await page.getByRole("button", { name: "Mark played" }).click();
  await page.getByRole("button", { name: "✓ Played" }).waitFor();
  await snap("episode-played");
  await page.getByRole("link", { name: "Harbor Lights" }).click();
  await page.getByRole("heading", { name: "Harbor Lights", level: 1 }).waitFor();
  await page.getByRole("link", { name: "Episode 2: The Storm, played" }).waitFor();
  await page.reload();
  await page.getByRole("heading", { name: "Harbor Lights", level: 1 }).waitFor();
  await episodeLinks.first().waitFor();
  const afterReload = await episodeLinks.evaluateAll((links) => links.map((a) => a.getAttribute("aria-label")));
  const playedBadges = await page.locator(".episodes .badge-played").count();
  // The series' own play button goes where resume(seriesId) says.
  const playSeries = page.getByRole("link", { name: /^(Play|Resume) S\d\dE\d\d · / });
  await playSeries.waitFor();
  const playSeriesLabel = await playSeries.getAttribute("aria-label");
  const playSeriesHref = await playSeries.getAttribute("href");
  const seriesId = new URL(page.url()).searchParams.get("id");
  const { resume: resumePoint } = await gql(`query ($id: ID!) { resume(seriesId: $id) { positionMs item { id title } } }`, { id: seriesId });
  await showEpisodes();
  await page.waitForTimeout(300);
  await snap("series-played");
  report({ ok: true, seasons, episodes, secondSeason, secondSelected, episodeMeta, afterReload, playedBadges, playSeriesLabel, playSeriesHref, resumePoint });

  step = "up-next";
  // Near the end of S01E01 the player offers S01E02; "Play now" stops this one and opens that one.
  await page.getByRole("link", { name: /^Episode 1: Arrival/ }).click();
  await page.getByRole("heading", { name: "Arrival", level: 1 }).waitFor();
  await page.getByRole("link", { name: /Play/ }).click();
  await page.waitForURL(/\/play\?/);
  const firstUrl = page.url();
  await page.waitForFunction(() => (document.querySelector("video")?.currentTime ?? 0) > 0.5, null, { timeout: 45_000 });
  const upNext = page.getByRole("dialog", { name: /^Next episode/ });
  const shownEarly = await upNext.isVisible();
  const seekBar = page.getByRole("slider", { name: "Seek" });
  const endMs = Number(await seekBar.getAttribute("max"));
  await seekBar.fill(String(endMs - 3000));
  await upNext.waitFor({ timeout: 15_000 });
  const upNextText = (await page.locator("#up-next-text").innerText()).trim();
  const nextId = await upNext.getAttribute("data-next-id");
  const upNextFocused = await page.evaluate(() => document.activeElement?.textContent?.trim());
  await page.mouse.move(400, 400);
  await page.mouse.move(420, 380);
  await page.waitForTimeout(300);
  await snap("up-next");
  await upNext.getByRole("button", { name: "Play now" }).click();
  await page.waitForURL((url) => url.pathname === "/play" && url.searchParams.get("id") === nextId);
  await page.locator(".player-title", { hasText: "The Storm" }).waitFor();
  const nextTitle = (await page.locator(".player-title").innerText()).trim();
  await page.waitForFunction(() => (document.querySelector("video")?.currentTime ?? 0) > 1.5, null, { timeout: 45_000 });
  const nextPlayedTo = await video.evaluate((element) => element.currentTime);
  const nextVideoLabel = await video.getAttribute("aria-label");
  const overlayAfter = await upNext.count();
  await page.getByRole("button", { name: "Stop and go back" }).click();
  await page.waitForURL((url) => url.pathname !== "/play");
  report({ ok: true, firstUrl, endMs, shownEarly, upNextText, upNextFocused, nextId, nextTitle, nextVideoLabel, nextPlayedTo, overlayAfter });

  step = "album";
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Music" }).click();
  await page.getByRole("heading", { name: "Music", level: 1 }).waitFor();
  await page.getByRole("link", { name: /Sunrise Sessions/ }).first().click();
  await page.getByRole("heading", { name: "Sunrise Sessions", level: 1 }).waitFor();
  await page.locator(".tracks .track").first().waitFor();
  const tracks = await page.locator(".tracks .track-title").allInnerTexts();
  const trackNumbers = await page.locator(".tracks .track-number").allInnerTexts();
  const albumArtist = await page.locator(".details .eyebrow").first().textContent();
  await page.waitForTimeout(300);
  await snap("album");
  // "Play album" starts the first track; each track that ends opens the next one's player.
  const firstTrackHref = await page.getByRole("link", { name: "▶ Play album" }).getAttribute("href");
  const trackHrefs = await page.locator(".tracks .track").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
  const playedTracks = [];
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame() && new URL(frame.url()).pathname === "/play") playedTracks.push(new URL(frame.url()).search);
  });
  await page.getByRole("link", { name: "▶ Play album" }).click();
  await page.locator(".player-title", { hasText: "Coffee" }).waitFor({ timeout: 45_000 });
  await page.waitForFunction(() => document.querySelector("video")?.ended === true, null, { timeout: 45_000 });
  await page.waitForTimeout(1000); // after the last track, nothing more opens
  const lastTitle = (await page.locator(".player-title").innerText()).trim();
  await page.getByRole("button", { name: "Stop and go back" }).click();
  await page.waitForURL((url) => url.pathname !== "/play");
  report({ ok: true, tracks, trackNumbers, albumArtist, firstTrackHref, trackHrefs, playedTracks, lastTitle });

  step = "totp";
  // A second account enrols an authenticator and adds a PIN-protected profile, through the API.
  const gqlAs = (token, query, variables) =>
    page.evaluate(
      async ([token, query, variables]) => {
        const headers = { "content-type": "application/json" };
        if (token) headers.authorization = `Bearer ${token}`;
        const response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
        return (await response.json()).data;
      },
      [token, query, variables],
    );
  const samPassword = "sam's long and secret passphrase";
  const sam = await gql(
    `mutation ($input: CreateUserInput!) { createUser(input: $input) { __typename ... on CreateUserPayload { user { id } } } }`,
    { input: { name: "sam", password: samPassword } },
  );
  const { libraries: all } = await gql(`{ libraries { id } }`);
  for (const library of all) {
    await gql(`mutation ($l: ID!, $u: ID!) { grantLibraryAccess(libraryId: $l, userId: $u) { __typename } }`, { l: library.id, u: sam.createUser.user.id });
  }
  const signedIn = await gqlAs(null, `mutation ($n: String!, $p: String!) { signIn(name: $n, password: $p) { __typename ... on SignInPayload { accessToken } } }`, { n: "sam", p: samPassword });
  const samToken = signedIn.signIn.accessToken;
  const begun = await gqlAs(samToken, `mutation { beginTotpEnrollment { __typename ... on BeginTotpEnrollmentPayload { secret provisioningUri } } }`);
  const { secret: totpSecret, provisioningUri } = begun.beginTotpEnrollment;
  const confirmed = await gqlAs(
    samToken,
    `mutation ($c: String!, $s: String!) { confirmTotpEnrollment(code: $c, secret: $s) { __typename ... on ConfirmTotpEnrollmentPayload { recoveryCodes } ... on AuthError { message } } }`,
    { c: totp(totpSecret), s: totpSecret },
  );
  const profile = await gqlAs(
    samToken,
    `mutation ($input: CreateProfileInput!) { createProfile(input: $input) { __typename ... on ProfilePayload { profile { id name hasPin } } ... on AuthError { message } } }`,
    { input: { name: "Robin", pin: "2468" } },
  );

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin/);
  await page.getByLabel("Name").fill("sam");
  await page.getByLabel("Password").fill(samPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Two-step verification" }).waitFor();
  await snap("signin-code");
  const codeField = page.getByLabel(/Code from your authenticator app/);
  const wrong = totp(totpSecret, 1) === "123456" ? "654321" : "123456";
  await codeField.fill(wrong);
  await page.getByRole("button", { name: "Verify" }).click();
  const wrongCodeError = (await page.locator(".form-error[role=alert]").innerText()).trim();
  await snap("signin-code-wrong");
  // The confirmation used this 30-second step's code, and a code is never accepted twice; the
  // server takes the next step's too (clock drift), so that one is fresh.
  await codeField.fill(totp(totpSecret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await page.waitForURL(/\/profiles/);
  report({
    ok: true,
    enrolled: confirmed.confirmTotpEnrollment.__typename,
    recoveryCodes: confirmed.confirmTotpEnrollment.recoveryCodes?.length ?? 0,
    otpauth: provisioningUri.startsWith("otpauth://totp/"),
    profile: profile.createProfile.profile ?? profile.createProfile,
    wrongCodeError,
  });

  step = "profiles";
  await page.getByRole("heading", { name: "Who's watching?" }).waitFor();
  const picker = page.locator(".profile-grid .profile");
  await picker.nth(1).waitFor();
  const choices = await picker.evaluateAll((buttons) => buttons.map((b) => b.getAttribute("aria-label")));
  await snap("profile-picker");
  await page.getByRole("button", { name: "Robin, PIN protected" }).click();
  const pinField = page.getByLabel("PIN", { exact: true });
  await pinField.fill("1111");
  await page.getByRole("button", { name: "Continue" }).click();
  const wrongPinError = (await page.locator(".form-error[role=alert]").innerText()).trim();
  await snap("profile-pin-wrong");
  await pinField.fill("2468");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL((url) => url.pathname === "/");
  const avatar = page.locator(".topbar-user .avatar");
  await avatar.waitFor();
  await page.getByRole("heading", { name: /Recently added/ }).first().waitFor();
  const avatarLabel = await avatar.getAttribute("aria-label");
  const avatarText = (await avatar.innerText()).trim();
  await page.waitForTimeout(400);
  await snap("home-as-robin");
  report({ ok: true, choices, wrongPinError, avatarLabel, avatarText });

  step = "phone";
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await snap("home-phone");
  report({ ok: true, consoleErrors, failedResponses });
} catch (error) {
  await snap(`failed-${step}`).catch(() => undefined);
  console.error(`step ${step} failed: ${error?.stack ?? error}`);
  console.error(`console errors: ${JSON.stringify(consoleErrors)}`);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
