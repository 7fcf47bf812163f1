// @ts-check
// The Activity form: its type and fields, edited before it is saved. Dates are picked on
// the viewer's own clock and sent as an instant with that clock's offset.

import { h } from "../shared/dom.js";
import { editActivity } from "./state.js";

/** @typedef {import("./pane.js").Pane} Pane */
/** @typedef {import("./state.js").Schemas["ActivityTypeOffer"]} ActivityType */

/**
 * "2026-11-02T08:00:00+01:00" as <input type="datetime-local"> shows it on the viewer's clock.
 * @param {string} value
 */
export function toLocalInput(value) {
  const moment = value ? new Date(value) : null;
  if (!moment || Number.isNaN(moment.getTime())) return "";
  const local = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

/**
 * What <input type="datetime-local"> holds, as an instant with the viewer's offset.
 * @param {string} value
 */
export function fromLocalInput(value) {
  if (!value) return "";
  const moment = new Date(value); // read in the viewer's zone
  const offset = -moment.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (/** @type {number} */ n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${value}:00${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

function zoneName() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Open the form for an activity type, its fields as the type fills them in.
 * @param {Pane} pane
 * @param {ActivityType} type
 */
export function openActivityForm(pane, type) {
  const fields = Object.fromEntries(type.fields.map((f) => [f.name, f.value]));
  pane.update(editActivity(pane.state(), { type: type.code, fields }));
  const first = document.querySelector(".activity-form input, .activity-form textarea, .activity-form select");
  if (first instanceof HTMLElement) first.focus();
}

/** @param {Pane} pane */
export function activityFormView(pane) {
  const state = pane.state();
  const form = state.activityForm;
  if (!form) return null;
  const types = state.review.activity_types;
  const type = types.find((t) => t.code === form.type) || types[0];
  const element = h(
    "form",
    { class: "card activity-form", "aria-label": "Activity" },
    h("h3", {}, "Activity"),
    types.length > 1
      ? [
          h("label", { for: "activity-type" }, "Activity type"),
          h(
            "select",
            {
              id: "activity-type",
              onChange: (/** @type {Event} */ event) => {
                const code = /** @type {HTMLSelectElement} */ (event.target).value;
                const next = types.find((t) => t.code === code);
                if (next) openActivityForm(pane, next);
              },
            },
            types.map((t) => h("option", { value: t.code, selected: t.code === type.code }, t.name)),
          ),
        ]
      : null,
    type.fields.map((field) => fieldView(form.fields, field)),
    h(
      "div",
      { class: "row" },
      h(
        "button",
        { type: "submit", class: "primary", id: "save-activity-form", disabled: state.saving },
        "Save as Activity",
      ),
      h("button", { type: "button", onClick: () => pane.update(editActivity(pane.state(), null)) }, "Cancel"),
    ),
  );
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    pane.save("activity", form);
  });
  return element;
}

/**
 * One field of the form; what is typed is kept in `values` (the form's own, until saved).
 * @param {Record<string, string>} values
 * @param {ActivityType["fields"][number]} field
 */
function fieldView(values, field) {
  const id = `field-${field.name}`;
  const value = values[field.name] || "";
  const label = field.label || field.name;
  /** @param {Event} event */
  const typed = (event) => /** @type {HTMLInputElement} */ (event.target).value;
  if (field.takes === "date") {
    const input = h("input", { id, name: field.name, type: "datetime-local", value: toLocalInput(value) });
    input.addEventListener("input", (event) => {
      values[field.name] = fromLocalInput(typed(event));
    });
    return [h("label", { for: id }, `${label} (${zoneName()})`), input];
  }
  const long = field.name === "NOTE" || value.length > 60 || value.includes("\n");
  const limits = field.max_length ? { maxlength: field.max_length } : {};
  const input = long
    ? h("textarea", { id, name: field.name, ...limits }, value)
    : h("input", { id, name: field.name, value, type: field.takes === "number" ? "number" : "text", ...limits });
  input.addEventListener("input", (event) => {
    values[field.name] = typed(event);
  });
  return [h("label", { for: id }, label), input];
}
