// @ts-check
// The Options screen (for the "change options" roles): everything the API's
// options cover, with the activity types, their fields, default values,
// field mapping and roles.

import { call } from "../shared/api.js";
import { h } from "../shared/dom.js";

const TOKENS = [
  ["subject", "Subject"],
  ["body", "Body"],
  ["sender", "Sender"],
  ["recipients", "Recipients"],
  ["sent_on", "Sent on"],
];

function roles(text) {
  return text
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean);
}

function field(id, label, input, help) {
  return [h("label", { for: id }, label), input, help ? h("p", { class: "muted" }, help) : null];
}

export function optionsView(options, { onSave, onCancel, knownRoles = [] }) {
  const draft = structuredClone(options);
  delete draft.can_change;
  delete draft.edition_names;
  const error = h("p", { class: "error", role: "alert" });
  const status = h("p", { class: "muted", role: "status" });
  const types = h("div", { class: "types" });

  function text(id, key, label, help) {
    const input = h("input", { id, value: Array.isArray(draft[key]) ? draft[key].join(", ") : (draft[key] ?? "") });
    input.addEventListener("input", () => {
      draft[key] = Array.isArray(options[key]) ? roles(input.value) : input.value;
    });
    if (!Array.isArray(options[key]) || !knownRoles.length) return field(id, label, input, help);
    // A role box offers the roles that exist (its users' roles): one press adds one.
    const offers = h(
      "div",
      { class: "role-offers", role: "group", "aria-label": `${label.replace(/ roles$/, "")}: add an existing role` },
      knownRoles.map((role) =>
        h(
          "button",
          {
            type: "button",
            class: "chip",
            onClick: () => {
              const current = roles(input.value);
              if (!current.includes(role)) current.push(role);
              input.value = current.join(", ");
              draft[key] = current;
            },
          },
          `+ ${role}`,
        ),
      ),
    );
    return [field(id, label, input, help), offers];
  }

  function check(id, key, label) {
    const input = h("input", { type: "checkbox", id, checked: Boolean(draft[key]) });
    input.addEventListener("change", () => {
      draft[key] = input.checked;
    });
    return h("label", { class: "inline", for: id }, input, label);
  }

  function renderTypes() {
    types.replaceChildren(
      ...draft.activity_types.map((type, index) => typeView(type, index)),
      h(
        "button",
        {
          type: "button",
          id: "add-activity-type",
          onClick: () => {
            draft.activity_types.push({
              code: "",
              name: "",
              fields: [{ name: "DESCRIPTION", label: "Description" }],
              defaults: {},
              mapping: { subject: "DESCRIPTION" },
              roles: [],
            });
            renderTypes();
          },
        },
        "Add an activity type",
      ),
    );
  }

  function typeView(type, index) {
    const prefix = `type-${index}`;
    const input = (key, label) => {
      const element = h("input", {
        id: `${prefix}-${key}`,
        value: Array.isArray(type[key]) ? type[key].join(", ") : type[key] || "",
      });
      element.addEventListener("input", () => {
        type[key] = key === "roles" ? roles(element.value) : element.value;
      });
      return field(`${prefix}-${key}`, label, element);
    };
    const fieldRows = type.fields.map((f, fieldIndex) => {
      const name = h("input", { "aria-label": "Field name", value: f.name, class: "field-name" });
      const label = h("input", { "aria-label": "Field label", value: f.label, class: "field-label" });
      const value = h("input", {
        "aria-label": `Default value of ${f.name}`,
        value: type.defaults[f.name] || "",
        class: "field-default",
      });
      name.addEventListener("input", () => {
        const old = f.name;
        f.name = name.value.trim();
        if (old in type.defaults) {
          type.defaults[f.name] = type.defaults[old];
          delete type.defaults[old];
        }
        for (const token of Object.keys(type.mapping)) if (type.mapping[token] === old) type.mapping[token] = f.name;
      });
      // A renamed field: the mapping offers it and its default's label names it,
      // without redrawing the inputs (that would drop what is being typed).
      name.addEventListener("input", () => {
        value.setAttribute("aria-label", `Default value of ${f.name}`);
        fillMappingOptions();
      });
      label.addEventListener("input", () => {
        f.label = label.value;
      });
      value.addEventListener("input", () => {
        if (value.value) type.defaults[f.name] = value.value;
        else delete type.defaults[f.name];
      });
      return h(
        "tr",
        {},
        h("td", {}, name),
        h("td", {}, label),
        h("td", {}, value),
        h(
          "td",
          {},
          h(
            "button",
            {
              type: "button",
              class: "icon",
              "aria-label": `Remove field ${f.name}`,
              onClick: () => {
                type.fields.splice(fieldIndex, 1);
                delete type.defaults[f.name];
                for (const token of Object.keys(type.mapping))
                  if (type.mapping[token] === f.name) delete type.mapping[token];
                renderTypes();
              },
            },
            "✕",
          ),
        ),
      );
    });
    const selects = [];
    const fillMappingOptions = () => {
      for (const [token, select] of selects) {
        select.replaceChildren(
          h("option", { value: "" }, "(not used)"),
          ...type.fields
            .filter((f) => f.name)
            .map((f) => h("option", { value: f.name, selected: type.mapping[token] === f.name }, f.label || f.name)),
        );
      }
    };
    const mapping = TOKENS.map(([token, label]) => {
      const id = `${prefix}-map-${token}`;
      const select = h("select", { id });
      selects.push([token, select]);
      select.addEventListener("change", () => {
        if (select.value) type.mapping[token] = select.value;
        else delete type.mapping[token];
      });
      return h("div", { class: "mapping-row" }, h("label", { for: id }, `${label} →`), select);
    });
    fillMappingOptions();
    const isDefault = draft.default_activity_type === type.code;
    return h(
      "fieldset",
      { class: "card activity-type-setup" },
      h("legend", {}, type.name || type.code || "New activity type"),
      input("code", "Code"),
      input("name", "Name"),
      input("roles", "Roles that may use it (empty: everyone)"),
      h(
        "label",
        { class: "inline" },
        h("input", {
          type: "radio",
          name: "default-type",
          checked: isDefault,
          onChange: () => {
            draft.default_activity_type = type.code;
          },
        }),
        "Default activity type",
      ),
      h(
        "table",
        { class: "fields" },
        h("caption", {}, "Fields"),
        h(
          "thead",
          {},
          h("tr", {}, h("th", {}, "Field"), h("th", {}, "Label"), h("th", {}, "Default"), h("th", {}, "")),
        ),
        h("tbody", {}, fieldRows),
      ),
      h(
        "button",
        {
          type: "button",
          class: "link",
          onClick: () => {
            type.fields.push({ name: "", label: "" });
            renderTypes();
          },
        },
        "Add a field",
      ),
      h("h4", {}, "Field mapping"),
      mapping,
      h(
        "button",
        {
          type: "button",
          class: "link remove-type",
          onClick: () => {
            draft.activity_types.splice(index, 1);
            renderTypes();
          },
        },
        "Remove this activity type",
      ),
    );
  }

  // Where iMIS is and the account every record is written as. The stored password is
  // never sent to a new address, so a new address (or account) asks for the password that
  // goes with it, saying why; the server refuses the change without it all the same.
  function crmView() {
    const crm = draft.crm;
    if (!crm || !crm.remote) return { element: null, saved: () => {} };
    delete crm.background_password;
    let before = { url: crm.url || "", account: crm.background_account || "" };
    const url = h("input", {
      id: "opt-crm-url",
      type: "url",
      value: before.url,
      autocomplete: "off",
      spellcheck: "false",
    });
    const account = h("input", { id: "opt-crm-account", value: before.account, autocomplete: "off" });
    const password = h("input", {
      id: "opt-crm-password",
      type: "password",
      autocomplete: "new-password",
      "aria-describedby": "opt-crm-why",
    });
    const why = h("p", { id: "opt-crm-why", class: "muted" });
    let unsaved = false;
    const sameAddress = (one, other) =>
      one.trim().replace(/\/+$/, "").toLowerCase() === other.trim().replace(/\/+$/, "").toLowerCase();
    function update() {
      crm.url = url.value.trim();
      crm.background_account = account.value.trim();
      if (password.value) crm.background_password = password.value;
      else delete crm.background_password;
      const moved = !sameAddress(url.value, before.url);
      const renamed = account.value.trim().toLowerCase() !== before.account.toLowerCase();
      password.required = moved || renamed;
      unsaved = moved || renamed || Boolean(password.value);
      why.textContent =
        moved || renamed
          ? `A new ${moved ? "address" : "account"} needs the background account's password for it: mailfiler never sends the stored password to another address or account.`
          : crm.background_password_set
            ? "Leave it empty to keep the stored password; it is never shown."
            : "Not set yet: iMIS cannot be used without it.";
    }
    for (const input of [url, account, password]) input.addEventListener("input", update);
    update();
    // "Test the connection": the server checks the saved settings against iMIS (the site,
    // the password, the entities, the search query) and answers a line per part, each
    // right or with what to fix; what iMIS answered stays in the server's log.
    const lines = h("ul", { class: "check-lines", "aria-label": "What the test found" });
    const checked = h("p", { class: "muted", role: "status", id: "opt-crm-check-status" });
    const test = h(
      "button",
      {
        type: "button",
        id: "opt-crm-check",
        onClick: async () => {
          lines.replaceChildren();
          if (unsaved) {
            checked.textContent = "The test uses the saved settings: save the options first.";
            return;
          }
          test.disabled = true;
          checked.textContent = "Testing the connection to iMIS…";
          try {
            const answer = await call("/api/v1/options/check", { method: "POST" });
            lines.replaceChildren(
              ...answer.lines.map((line) =>
                h(
                  "li",
                  { class: line.ok ? "right" : "to-fix" },
                  h("span", { class: "mark", "aria-hidden": "true" }, line.ok ? "✓" : "✗"),
                  h("span", { class: "visually-hidden" }, line.ok ? "Right: " : "To fix: "),
                  h("span", {}, h("strong", {}, `${line.what}: `), line.says),
                ),
              ),
            );
            const toFix = answer.lines.filter((line) => !line.ok).length;
            checked.textContent = answer.ok
              ? "Every part of the set-up works."
              : `${toFix} ${toFix === 1 ? "part needs" : "parts need"} fixing (marked ✗).`;
          } catch (failure) {
            checked.textContent = failure.message;
          } finally {
            test.disabled = false;
          }
        },
      },
      "Test the connection",
    );
    return {
      element: h(
        "fieldset",
        { class: "card crm-setup" },
        h("legend", {}, "iMIS"),
        field("opt-crm-url", "iMIS address", url, "The site's https:// address, e.g. https://acme.imiscloud.com"),
        field("opt-crm-account", "Background account", account, "Every record is written as this iMIS account."),
        h("label", { for: "opt-crm-password" }, "Background account's password"),
        password,
        why,
        h("div", { class: "row" }, test),
        checked,
        lines,
      ),
      saved: (answer) => {
        // What was saved is the new starting point; the password is not kept on the page.
        const now = (answer && answer.crm) || crm;
        before = { url: now.url || "", account: now.background_account || "" };
        crm.background_password_set = Boolean(now.background_password_set);
        password.value = "";
        update();
      },
    };
  }

  const edition = h(
    "select",
    { id: "opt-edition" },
    ...Object.entries(options.edition_names).map(([value, name]) =>
      h("option", { value, selected: draft.edition === value }, name),
    ),
  );
  edition.addEventListener("change", () => {
    draft.edition = edition.value;
  });
  const maxEmails = h("input", { id: "opt-max", type: "number", min: "1", value: String(draft.max_total_emails) });
  maxEmails.addEventListener("input", () => {
    draft.max_total_emails = Number(maxEmails.value);
  });

  const crmSetup = crmView();
  const form = h(
    "form",
    { class: "options", "aria-labelledby": "options-title" },
    h("h2", { id: "options-title", tabindex: "-1" }, "Options"),
    text(
      "opt-profile",
      "profile_url",
      "Profile URL",
      "A link to a contact's page; {id} is replaced by the contact's ID.",
    ),
    text("opt-interaction-roles", "interaction_roles", "Interaction roles", "Comma-separated; empty means everyone."),
    check("opt-hide", "hide_interaction", "Hide Save as Interaction"),
    text("opt-activity-roles", "activity_roles", "Activity roles"),
    text("opt-add-contact-roles", "add_contact_roles", "Add new contact roles"),
    text("opt-change-roles", "change_options_roles", "Change options roles"),
    check("opt-duplicates", "allow_duplicates", "Allow duplicate emails"),
    field("opt-max", "Max total emails", maxEmails, "The most contacts one save may write to."),
    field("opt-edition", "Edition", edition),
    crmSetup.element,
    h("h3", {}, "Activity types"),
    types,
    h(
      "div",
      { class: "row sticky" },
      h("button", { type: "submit", class: "primary" }, "Save options"),
      h("button", { type: "button", onClick: onCancel }, "Close"),
    ),
    status,
    error,
  );
  renderTypes();
  // The sticky Save / Close bar must never hide the control the keyboard is on.
  form.addEventListener("focusin", (event) => {
    const bar = form.querySelector(".sticky");
    if (!bar || bar.contains(event.target)) return;
    const covered = event.target.getBoundingClientRect().bottom > bar.getBoundingClientRect().top;
    if (covered) event.target.scrollIntoView({ block: "center" });
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    status.textContent = "Saving…";
    try {
      crmSetup.saved(await onSave(draft));
      status.textContent = "Options saved.";
    } catch (failure) {
      status.textContent = "";
      error.textContent = failure.message;
    }
  });
  return form;
}
