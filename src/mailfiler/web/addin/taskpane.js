// @ts-check
// The task pane: in Outlook it reads the open item; in a plain browser it is the drop page.
// Then the review (pane.js): choose the contacts and files, save, see what happened.
//
// The review follows the product page: a From / To / Cc (/ Bcc) filter at the top toggles
// which lines are saved; an "X" removes one entry; toggling a line's filter off and on
// again restores that line's removed entries.

import { call, currentSession, lastIdentity, signIn, signOut, SignedOut } from "../shared/api.js";
import { h, replaceContent, signInForm } from "../shared/dom.js";
import { optionsView } from "./options.js";
import { messageRequest, outlookItem } from "./outlook.js";
import { showReview } from "./pane.js";

const app = /** @type {HTMLElement} */ (document.getElementById("app"));
const headerActions = /** @type {HTMLElement} */ (document.getElementById("header-actions"));

/**
 * Where the pane runs and what it shows.
 * @type {{ host: "outlook" | "browser", canChangeOptions: boolean, error: string,
 *   pane: import("./pane.js").Pane | null, resume: (() => unknown) | null }}
 */
const page = { host: "browser", canChangeOptions: false, error: "", pane: null, resume: null };

// -- starting ------------------------------------------------------------------------------

function start() {
  const office = /** @type {any} */ (window).Office;
  if (office && typeof office.onReady === "function") {
    office.onReady((/** @type {{ host?: string } | undefined} */ info) => {
      page.host = info && info.host === "Outlook" && outlookItem() ? "outlook" : "browser";
      begin();
    });
  } else {
    page.host = "browser";
    begin();
  }
}

/** @returns {Promise<void>} */
async function begin() {
  renderHeader();
  if (!currentSession()) return showSignIn("", () => begin());
  const options = await guarded(
    () => call("/api/v1/options"),
    () => begin(),
  );
  if (!options) return;
  page.canChangeOptions = options.can_change;
  renderHeader();
  if (page.host === "outlook") return readOutlookItem();
  return showDropPage();
}

function renderHeader() {
  const session = currentSession();
  const buttons = [];
  if (session && page.canChangeOptions) {
    buttons.push(h("button", { type: "button", id: "options-button", onClick: () => openOptions() }, "Options"));
  }
  if (session) {
    const signedInAs = `Signed in as ${session.username} (${session.cloud_id})`;
    const leave = async () => {
      await signOut();
      page.pane = null;
      begin();
    };
    buttons.push(h("button", { type: "button", title: signedInAs, onClick: leave }, "Sign out"));
  }
  replaceContent(headerActions, buttons);
}

/**
 * Runs an API call; when the sign-in has ended, asks for it and then goes on with `again`.
 * @template T
 * @param {() => Promise<T>} work
 * @param {() => unknown} again
 * @returns {Promise<T | undefined>}
 */
async function guarded(work, again) {
  try {
    return await work();
  } catch (failure) {
    if (failure instanceof SignedOut) {
      showSignIn("Your sign-in has ended. Sign in again to continue.", again);
      return undefined;
    }
    throw failure;
  }
}

/**
 * @param {string} notice
 * @param {() => unknown} then
 */
function showSignIn(notice, then) {
  page.resume = then;
  renderHeader();
  replaceContent(
    app,
    signInForm({
      identity: lastIdentity(),
      notice,
      onSubmit: async (
        /** @type {string} */ cloudId,
        /** @type {string} */ username,
        /** @type {string} */ password,
      ) => {
        await signIn(cloudId, username, password);
        renderHeader();
        const next = page.resume;
        page.resume = null;
        if (next) await next();
      },
    }),
  );
  const empty = app.querySelector("input:not([value]), input[value='']") || app.querySelector("#password");
  if (empty instanceof HTMLElement) empty.focus();
}

// -- getting the message -------------------------------------------------------------------

async function readOutlookItem() {
  replaceContent(app, h("p", { class: "muted", role: "status" }, "Reading the message…"));
  try {
    const item = outlookItem();
    const request = await messageRequest(item);
    await upload(request.body, request.contentType, () => readOutlookItem());
  } catch (failure) {
    showError(failure);
  }
}

function showDropPage() {
  page.pane = null;
  // Not a Tab stop of its own: the drop zone (a button) opens it.
  const input = /** @type {HTMLInputElement} */ (
    h("input", {
      type: "file",
      id: "file",
      tabindex: "-1",
      accept: ".eml,.msg,message/rfc822,application/vnd.ms-outlook",
      class: "visually-hidden",
      onChange: () => {
        if (input.files && input.files.length) readFile(input.files[0]);
      },
    })
  );
  // A real button: Enter and Space open the file chooser as a click does.
  const zone = h(
    "button",
    { type: "button", class: "drop", id: "drop", "aria-describedby": "drop-help", onClick: () => input.click() },
    h("span", { class: "drop-title" }, "Drop an email here"),
    h("span", { class: "muted", id: "drop-help" }, "An .eml or Outlook .msg file — or click to choose one."),
  );
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) readFile(file);
  });
  replaceContent(
    app,
    h("label", { for: "file", class: "visually-hidden" }, "Choose an email file"),
    input,
    zone,
    page.error ? h("p", { class: "error", role: "alert" }, page.error) : null,
  );
  zone.focus(); // the keyboard starts where the page's one action is
}

/** @param {File} file */
async function readFile(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  replaceContent(app, h("p", { class: "muted", role: "status" }, `Reading ${file.name}…`));
  try {
    await upload(form, null, () => readFile(file));
  } catch (failure) {
    page.error = failure instanceof Error ? failure.message : String(failure);
    showDropPage();
    page.error = "";
  }
}

/**
 * @param {BodyInit} body
 * @param {string | null} contentType
 * @param {() => unknown} again
 */
async function upload(body, contentType, again) {
  /** @type {Record<string, string>} */
  const headers = contentType ? { "Content-Type": contentType } : {};
  const review = await guarded(() => call("/api/v1/messages", { method: "POST", body, headers }), again);
  if (!review) return;
  renderHeader();
  page.pane = showReview({ app, host: page.host, guarded, fileAnother }, review);
}

function fileAnother() {
  showDropPage();
  document.getElementById("drop")?.focus();
}

/** @param {unknown} failure */
function showError(failure) {
  replaceContent(
    app,
    h(
      "div",
      { class: "card" },
      h("p", { class: "error", role: "alert" }, failure instanceof Error ? failure.message : String(failure)),
      h("button", { type: "button", onClick: () => begin() }, "Try again"),
    ),
  );
}

// -- options -------------------------------------------------------------------------------

async function openOptions() {
  const options = await guarded(
    () => call("/api/v1/options"),
    () => openOptions(),
  );
  if (!options) return;
  /** @type {{ roles: string[] }[] | undefined} */
  const users = await guarded(
    () => call("/api/v1/users"),
    () => openOptions(),
  );
  const knownRoles = [...new Set((users || []).flatMap((u) => u.roles))].sort();
  replaceContent(
    app,
    optionsView(options, {
      knownRoles,
      onSave: async (/** @type {object} */ changed) => {
        const saved = await guarded(
          () => call("/api/v1/options", { method: "PUT", json: changed }),
          () => openOptions(),
        );
        page.canChangeOptions = saved ? saved.can_change : page.canChangeOptions;
        return saved;
      },
      onCancel: async () => {
        renderHeader();
        if (page.pane) await page.pane.refresh("options-button");
        else await begin();
        document.getElementById("options-button")?.focus();
      },
    }),
  );
  document.getElementById("options-title")?.focus();
}

// On the drop page, a message may be dropped anywhere, at any time (even on a review).
window.addEventListener("dragover", (event) => {
  if (page.host === "browser" && currentSession()) event.preventDefault();
});
window.addEventListener("drop", (event) => {
  if (page.host !== "browser" || !currentSession() || event.defaultPrevented) return;
  event.preventDefault();
  const file = event.dataTransfer && event.dataTransfer.files[0];
  if (file) readFile(file);
});

start();
