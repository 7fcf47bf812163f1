// @ts-check
// The review of one message on screen: the state (state.js) and the server's answers to it.
// Each change of the user's choices is a transition; the pane redraws at once and asks the
// server what a save would do now (POST /messages/{ref}/preview), then shows its answer.

import { call, Problem } from "../shared/api.js";
import { formatDate, h, replaceContent } from "../shared/dom.js";
import { activityFormView, openActivityForm } from "./activity.js";
import { attachmentsView } from "./attachments.js";
import { entryView, LINE_NAMES } from "./entries.js";
import { resultsView } from "./results.js";
import { searchView } from "./search.js";
import * as transitions from "./state.js";

/** @typedef {import("./state.js").ReviewState} ReviewState */
/** @typedef {import("./state.js").Review} Review */
/** @typedef {import("./state.js").Kind} Kind */
/** @typedef {import("./state.js").ActivityForm} ActivityForm */

// After this long, a save still under way says the CRM is slow (not that the pane is stuck).
const SLOW_AFTER_MS = 8000;

/**
 * What the page keeps beside the review's state: the search, the open parts, messages.
 * @typedef {object} View
 * @property {string} searchText
 * @property {import("./state.js").Contact[] | null} searchResults
 * @property {string | null} addingFor  the entry whose "Add contact" form is open
 * @property {boolean} attachmentsOpen
 * @property {string} busy
 * @property {string} error
 */

/**
 * @typedef {object} Pane
 * @property {"outlook" | "browser"} host
 * @property {() => ReviewState} state
 * @property {View} view
 * @property {(next: ReviewState, focus?: string) => void} update  a transition: redraw, ask again
 * @property {(focus?: string) => void} render
 * @property {(kind: Kind, activity?: ActivityForm | null) => Promise<void>} save
 * @property {(focus?: string) => Promise<void>} refresh  the message's review read again
 * @property {() => void} fileAnother
 * @property {(failure: unknown) => void} fail
 * @property {typeof call} call
 * @property {<T>(work: () => Promise<T>, again: () => unknown) => Promise<T | undefined>} guarded
 */

/**
 * @param {object} host
 * @param {HTMLElement} host.app
 * @param {"outlook" | "browser"} host.host
 * @param {Pane["guarded"]} host.guarded  an API call that asks for the sign-in when it ended
 * @param {() => void} host.fileAnother
 * @param {Review} review
 * @returns {Pane}
 */
export function showReview({ app, host, guarded, fileAnother }, review) {
  let state = transitions.reviewed(review);
  /** @type {View} */
  const view = {
    searchText: "",
    searchResults: null,
    addingFor: null,
    attachmentsOpen: false,
    busy: "",
    error: "",
  };
  let asking = 0; // the latest preview asked for: an older answer is not shown
  const pressing = holdWhilePressed(app, () => pane.render(pressing.focus));

  /** @type {Pane} */
  const pane = {
    host,
    view,
    call,
    guarded,
    fileAnother,
    state: () => state,
    update(next, focus) {
      state = next;
      pane.render(focus);
      askPreview();
    },
    render(focus) {
      if (pressing.held) {
        // A button or key is down on the pane: redrawn once it is released, so the press
        // lands on the control it began on (an answer of the server never eats a click).
        pressing.waiting = true;
        pressing.focus = focus || pressing.focus;
        return;
      }
      keepFocus(focus, () => (state.results ? resultsView(pane, app) : drawReview(pane, app)));
    },
    save: (kind, activity = null) => save(kind, activity),
    refresh: (focus) => refresh(focus),
    fail(failure) {
      view.error = failure instanceof Error ? failure.message : String(failure);
      pane.render();
      view.error = "";
    },
  };

  async function askPreview() {
    if (state.results) return;
    const number = ++asking;
    const askedFor = transitions.asked(state);
    const ref = encodeURIComponent(state.review.message_ref);
    const request = transitions.choices(state, transitions.kindNow(state));
    try {
      const preview = await guarded(
        () => call(`/api/v1/messages/${ref}/preview`, { method: "POST", json: request }),
        () => askPreview(),
      );
      if (!preview || number !== asking) return;
      state = transitions.previewed(state, preview, askedFor);
      pane.render();
    } catch (failure) {
      if (number === asking) pane.fail(failure);
    }
  }

  /**
   * @param {Kind} kind
   * @param {ActivityForm | null} activity
   */
  async function save(kind, activity) {
    const begun = transitions.saveBegun(state);
    if (!begun) return; // a second press while the first is under way does nothing
    state = begun;
    const request = transitions.choices(state, kind, activity);
    delete request.kind;
    view.busy = "Saving…";
    pane.render();
    // A CRM can take minutes to write (iMIS can): say so, rather than look stuck.
    const slow = setTimeout(() => {
      if (view.busy === "Saving…") {
        view.busy = `${state.review.crm || "The CRM"} is slow to answer… still saving: keep this pane open.`;
        pane.render();
      }
    }, SLOW_AFTER_MS);
    const ref = encodeURIComponent(state.review.message_ref);
    const path = `/api/v1/messages/${ref}/${kind === "interaction" ? "interactions" : "activities"}`;
    try {
      const answer = await guarded(
        () => call(path, { method: "POST", json: request }),
        () => save(kind, activity),
      );
      view.busy = "";
      state = transitions.saveEnded(state, kind, answer || null);
      pane.render(answer ? "results-title" : undefined);
    } catch (failure) {
      view.busy = "";
      state = transitions.saveEnded(state, kind, null);
      pane.fail(failure instanceof Problem ? failure.message : String(failure));
    } finally {
      clearTimeout(slow);
    }
  }

  /** @param {string | undefined} focus */
  async function refresh(focus) {
    const ref = encodeURIComponent(state.review.message_ref);
    const focused = document.activeElement && document.activeElement.id;
    /** @type {Review | undefined} */
    const again = await guarded(
      () => call(`/api/v1/messages/${ref}`),
      () => refresh(focus),
    );
    if (!again) return;
    pane.update(transitions.reviewedAgain(state, again), focus || focused || "message-title");
  }

  pane.render("message-title"); // a new message: the keyboard starts at its title
  return pane;
}

/**
 * @typedef {object} Pressing
 * @property {boolean} held  a pointer button or an activating key is down on the pane
 * @property {boolean} waiting  a redraw waits for its release
 * @property {string | undefined} focus  where that redraw puts the keyboard
 * @property {() => void} redraw  the review shown now
 */

/** @type {WeakMap<HTMLElement, Pressing>} */
const PRESSES = new WeakMap();

/**
 * Whether a pointer button or an activating key is down on the pane; the waiting redraw runs
 * after its release (after the click it makes). One watch per pane, whatever the message.
 * @param {HTMLElement} app
 * @param {() => void} redraw
 * @returns {Pressing}
 */
function holdWhilePressed(app, redraw) {
  const known = PRESSES.get(app);
  if (known) {
    Object.assign(known, { redraw, waiting: false, focus: undefined });
    return known;
  }
  /** @type {Pressing} */
  const pressing = { held: false, waiting: false, focus: undefined, redraw };
  const release = () => {
    if (!pressing.held) return;
    pressing.held = false;
    if (pressing.waiting) {
      setTimeout(() => {
        pressing.waiting = false;
        pressing.redraw();
        pressing.focus = undefined;
      }, 0);
    }
  };
  app.addEventListener("pointerdown", () => (pressing.held = true), true);
  app.addEventListener("keydown", (event) => {
    if (event.key === " " || event.key === "Enter") pressing.held = true;
  });
  for (const name of ["pointerup", "pointercancel", "keyup"]) window.addEventListener(name, release, true);
  // The window losing focus ends a press (not a control losing it: a press moves focus).
  window.addEventListener("blur", (event) => event.target === window && release());
  PRESSES.set(app, pressing);
  return pressing;
}

/**
 * Redrawing must not move the keyboard: the control that had focus keeps it, or the one an
 * action names gets it. The control under the keyboard stays the very same element, given
 * what the new drawing says of it, so that a key pressed on it while the server's answer
 * redraws the pane still acts (a checkbox toggles on the release of Space).
 * @param {string | undefined} focus
 * @param {() => void} draw
 */
function keepFocus(focus, draw) {
  const active = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  draw();
  const fresh = active && active.id ? document.getElementById(active.id) : null;
  if (!focus && active && fresh && fresh !== active && fresh.tagName === active.tagName) {
    keepElement(active, fresh);
  }
  const next = (focus && document.getElementById(focus)) || (active && active.id && document.getElementById(active.id));
  if (next && next !== document.activeElement) next.focus();
}

/**
 * `kept` takes the place of `fresh`, with its attributes and content; what the user is
 * typing in it stays.
 * @param {HTMLElement} kept
 * @param {HTMLElement} fresh
 */
function keepElement(kept, fresh) {
  for (const name of kept.getAttributeNames()) if (!fresh.hasAttribute(name)) kept.removeAttribute(name);
  for (const name of fresh.getAttributeNames()) kept.setAttribute(name, fresh.getAttribute(name) || "");
  if (kept instanceof HTMLInputElement && fresh instanceof HTMLInputElement) {
    kept.checked = fresh.checked;
    kept.disabled = fresh.disabled;
  } else {
    kept.replaceChildren(...fresh.childNodes);
  }
  fresh.replaceWith(kept);
}

/**
 * @param {Pane} pane
 * @param {HTMLElement} app
 */
function drawReview(pane, app) {
  const state = pane.state();
  const review = state.review;
  const list = transitions.entries(state);
  const shown = list.filter((e) => transitions.visible(state, e));
  const compose = review.mode === "compose";
  const lines = transitions.LINES.filter(
    (line) => line !== "bcc" || compose || review.participants.some((p) => p.role === "bcc"),
  );
  const notes = state.preview ? state.preview.notes : review.notes;
  replaceContent(
    app,
    h(
      "section",
      { class: "summary", "aria-label": "Message" },
      h("h2", { id: "message-title", tabindex: "-1" }, review.subject || "(no subject)"),
      h(
        "p",
        { class: "muted" },
        review.sender ? `${review.sender.name || review.sender.address} · ` : "",
        formatDate(review.date),
      ),
    ),
    h(
      "div",
      { class: "filters", role: "group", "aria-label": "Lines to save" },
      lines.map((line) =>
        h(
          "button",
          {
            type: "button",
            class: "filter",
            id: `filter-${line}`,
            "aria-pressed": String(state.filters[line]),
            onClick: () => pane.update(transitions.toggleLine(pane.state(), line), `filter-${line}`),
          },
          LINE_NAMES[line],
          " ",
          h("span", { class: "count" }, String(list.filter((e) => e.role === line).length)),
        ),
      ),
    ),
    h(
      "ul",
      { class: "entries", "aria-label": "Contacts" },
      shown.map((entry) => entryView(pane, entry)),
    ),
    shown.length === 0 ? h("p", { class: "muted" }, "No contacts are selected.") : null,
    searchView(pane),
    h(
      "label",
      { class: "inline eml" },
      h("input", {
        type: "checkbox",
        id: "eml",
        checked: state.eml,
        onChange: (/** @type {Event} */ event) => {
          const box = /** @type {HTMLInputElement} */ (event.target);
          pane.update(transitions.chooseEml(pane.state(), box.checked));
        },
      }),
      "Save Mail Message as EML file attachment",
    ),
    attachmentsView(pane),
    review.attachments_note ? h("p", { class: "notice", role: "status" }, review.attachments_note) : null,
    notes.length
      ? h(
          "details",
          { class: "notes" },
          h("summary", {}, "What mailfiler noticed"),
          h(
            "ul",
            {},
            notes.map((n) => h("li", {}, n)),
          ),
        )
      : null,
    actionsView(pane),
    activityFormView(pane),
    pane.view.busy ? h("p", { class: "muted", role: "status" }, pane.view.busy) : null,
    pane.view.error ? h("p", { class: "error", role: "alert" }, pane.view.error) : null,
  );
}

/**
 * @param {Pane} pane
 * @param {Kind} kind
 * @param {string} label
 * @param {() => void} onClick
 */
function saveButton(pane, kind, label, onClick) {
  const button = transitions.saveButton(pane.state(), kind);
  if (!button.shown) return { button: null, why: null };
  const why = button.reason ? h("p", { class: "muted", id: `why-${kind}` }, button.reason) : null;
  return {
    // The sentence a disabled button points at (aria-describedby) is always there.
    button: h(
      "button",
      {
        type: "button",
        class: "primary",
        id: `save-${kind}`,
        disabled: !button.enabled,
        title: button.reason || null,
        "aria-describedby": button.reason ? `why-${kind}` : null,
        onClick,
      },
      label,
    ),
    why,
  };
}

/** @param {Pane} pane */
function actionsView(pane) {
  const review = pane.state().review;
  const types = review.activity_types;
  const chosenType = types.find((t) => t.default) || types[0];
  const interaction = saveButton(pane, "interaction", "Save as Interaction", () => pane.save("interaction"));
  const activity = saveButton(pane, "activity", "Save as Activity", () =>
    pane.save("activity", chosenType ? { type: chosenType.code, fields: {} } : null),
  );
  return h(
    "div",
    { class: "actions" },
    h(
      "div",
      { class: "row" },
      interaction.button,
      activity.button,
      review.actions.activity.state === "allowed" && chosenType
        ? h(
            "span",
            { class: "activity-type" },
            chosenType.name,
            h(
              "button",
              {
                type: "button",
                class: "icon",
                id: "edit-activity",
                title: "Edit the Activity before saving",
                "aria-label": `Edit the ${chosenType.name} Activity before saving`,
                onClick: () => openActivityForm(pane, chosenType),
              },
              "✎",
            ),
          )
        : null,
    ),
    interaction.why,
    activity.why,
  );
}
