// @ts-check
// The message's files: which are kept, each with what saving does with it.

import { formatSize, h } from "../shared/dom.js";
import { keepFile } from "./state.js";

/** @typedef {import("./pane.js").Pane} Pane */

/** @param {Pane} pane */
export function attachmentsView(pane) {
  const state = pane.state();
  const files = state.review.attachments;
  // Checking "EML" hides the section: an .eml file cannot leave attachments out.
  if (!files.length || state.eml) return null;
  const open = pane.view.attachmentsOpen;
  const toggle = () => {
    pane.view.attachmentsOpen = !pane.view.attachmentsOpen;
    pane.render();
  };
  return h(
    "section",
    { class: "attachments" },
    h(
      "h3",
      {},
      h(
        "button",
        {
          type: "button",
          class: "disclosure",
          id: "attachments-toggle",
          "aria-expanded": String(open),
          "aria-controls": "attachment-list",
          onClick: toggle,
        },
        h("span", { class: "arrow", "aria-hidden": "true" }, open ? "▾" : "▸"),
        " Attachments ",
        h("span", { class: "count" }, String(files.length)),
      ),
    ),
    open
      ? h(
          "ul",
          { id: "attachment-list", class: "attachment-list" },
          files.map((file) => {
            const empty = file.status === "empty";
            const id = `attachment-${file.id}`;
            const renamed = !empty && file.saved_as && file.saved_as !== file.name;
            return h(
              "li",
              {},
              h(
                "label",
                { class: "inline", for: id },
                h("input", {
                  type: "checkbox",
                  id,
                  checked: !empty && state.keep.has(file.id),
                  disabled: empty,
                  onChange: (/** @type {Event} */ event) => {
                    const box = /** @type {HTMLInputElement} */ (event.target);
                    pane.update(keepFile(pane.state(), file.id, box.checked));
                  },
                }),
                h("span", { class: "file-name" }, file.name),
              ),
              h(
                "p",
                { class: "muted" },
                formatSize(file.size),
                empty ? " · not saved: empty file" : "",
                renamed ? ` · saved as "${file.saved_as}"` : "",
              ),
            );
          }),
        )
      : null,
  );
}
