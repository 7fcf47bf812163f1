// @ts-check
// The staff site: find a contact and check what was filed for them.
// A filed Interaction's HTML is shown in a sandboxed frame (no scripts can run
// there, and nothing is fetched from the sender's servers: inline images are
// the filed attachments, turned into data: URLs).

import { call, currentSession, lastIdentity, signIn, signOut, SignedOut } from "../shared/api.js";
import { formatDate, formatSize, h, replaceContent, signInForm } from "../shared/dom.js";

const app = document.getElementById("app");
const headerActions = document.getElementById("header-actions");

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  renderHeader();
  if (!currentSession()) return showSignIn("");
  const contact = path.match(/^\/contacts\/(.+)$/);
  const work = contact
    ? showContact(decodeURIComponent(contact[1]), params.get("record"))
    : path === "/to-check"
      ? showToCheck()
      : showSearch(params.get("q") || "");
  return work.catch((failure) => {
    if (failure instanceof SignedOut) showSignIn("Your sign-in has ended. Sign in again to continue.");
    else replaceContent(app, h("p", { class: "error", role: "alert" }, failure.message));
  });
}

function renderHeader() {
  const session = currentSession();
  replaceContent(
    headerActions,
    session
      ? [
          h("a", { href: "#/to-check" }, "Records to check"),
          h("span", {}, `${session.username} · ${session.cloud_id}`),
          h(
            "button",
            {
              type: "button",
              onClick: async () => {
                await signOut();
                route();
              },
            },
            "Sign out",
          ),
        ]
      : [],
  );
}

function showSignIn(notice) {
  replaceContent(
    app,
    signInForm({
      identity: lastIdentity(),
      notice,
      onSubmit: async (cloudId, username, password) => {
        await signIn(cloudId, username, password);
        route();
      },
    }),
  );
}

async function showSearch(text) {
  const form = h(
    "form",
    { class: "search-form card", role: "search" },
    h(
      "div",
      {},
      h("label", { for: "q" }, "Find a contact"),
      h("input", { id: "q", name: "q", type: "search", value: text, placeholder: "Name or email address" }),
    ),
    h("button", { type: "submit", class: "primary" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/?q=${encodeURIComponent(String(new FormData(form).get("q") || "").trim())}`;
  });
  const found = text ? await call(`/api/v1/contacts?q=${encodeURIComponent(text)}&limit=50`) : null;
  replaceContent(
    app,
    form,
    found
      ? h(
          "ul",
          { class: "contacts", "aria-label": "Contacts found" },
          found.length
            ? found.map((c) =>
                h(
                  "li",
                  {},
                  h("a", { href: `#/contacts/${encodeURIComponent(c.id)}` }, c.full_name),
                  h(
                    "span",
                    { class: "muted" },
                    ` · ${c.id}${c.organization ? ` · ${c.organization}` : ""} · ${c.emails.join(", ")}`,
                  ),
                ),
              )
            : h("li", { class: "muted" }, "No contact found."),
        )
      : null,
  );
  document.getElementById("q").focus();
}

async function showContact(id, highlight) {
  const pageSize = 20;
  const first = await call(`/api/v1/contacts/${encodeURIComponent(id)}?limit=${pageSize}`);
  const list = h("ol", { class: "timeline", "aria-label": "Timeline, newest first" });
  const more = h("div");
  replaceContent(
    app,
    h("p", {}, h("a", { href: "#/" }, "← Search")),
    h(
      "section",
      { class: "card contact-head" },
      h("h2", {}, first.full_name),
      h("p", {}, first.organization || ""),
      h("p", { class: "emails" }, first.emails.join(", ")),
      h(
        "p",
        { class: "muted" },
        `Contact ${first.id}`,
        first.profile_url
          ? [" · ", h("a", { href: first.profile_url, target: "_blank", rel: "noopener" }, "Profile")]
          : null,
      ),
    ),
    first.to_check.length
      ? h(
          "section",
          { class: "card to-check", "aria-label": "Records to check" },
          h("h2", {}, `To check (${first.to_check.length})`),
          h(
            "ul",
            {},
            first.to_check.map((entry) => toCheckView(entry)),
          ),
        )
      : null,
    h("h2", {}, `Interactions and Activities (${first.timeline.total})`),
    first.timeline.total === 0 ? h("p", { class: "muted" }, "Nothing has been filed for this contact yet.") : null,
    list,
    more,
  );
  let page = first.timeline;
  const addPage = async (timeline) => {
    for (const item of timeline.items) list.append(await recordView(item, highlight));
    replaceContent(
      more,
      timeline.next_offset !== null
        ? h(
            "button",
            {
              type: "button",
              onClick: async () => {
                const next = await call(
                  `/api/v1/contacts/${encodeURIComponent(id)}?limit=${pageSize}&offset=${page.next_offset}`,
                );
                page = next.timeline;
                await addPage(page);
              },
            },
            "Show older",
          )
        : null,
    );
  };
  await addPage(page);
  const marked = highlight && document.getElementById(`record-${highlight}`);
  if (marked) marked.scrollIntoView({ block: "center" });
}

// A record that needs someone, and why; with ``settle`` (the options roles), its buttons.
function toCheckView(entry, settle) {
  const files = entry.missing_files.map((f) => `${f.name} (${f.reason})`).join("; ");
  return h(
    "li",
    { class: `check ${entry.status}`, id: `check-${entry.number}` },
    h(
      "p",
      {},
      h("strong", {}, entry.subject || "(no subject)"),
      " ",
      h("span", { class: `badge ${entry.tone}` }, entry.label),
    ),
    h(
      "p",
      { class: "muted" },
      `${entry.kind_label} for `,
      h("a", { href: `#/contacts/${encodeURIComponent(entry.contact_id)}` }, `contact ${entry.contact_id}`),
      ` · saved by ${entry.saved_by} · ${formatDate(entry.reserved_at)}`,
      entry.record_id ? ` · record ${entry.record_id}` : "",
    ),
    h("p", { class: "reason" }, entry.reason),
    files ? h("p", { class: "reason" }, `Files: ${files}`) : null,
    settle ? settleForm(entry, settle) : null,
  );
}

function settleForm(entry, settle) {
  const id = `landed-${entry.number}`;
  const key = h("input", { id, name: "landed", value: entry.record_id || "", maxlength: "100", autocomplete: "off" });
  const form = h(
    "form",
    { class: "settle row" },
    h("label", { for: id }, "Its key in the CRM"),
    key,
    h("button", { type: "submit" }, "It is there"),
    h("button", { type: "button", onClick: () => settle(entry, { send_again: true }) }, "It is not: send it again"),
    entry.status === "unsure"
      ? h("button", { type: "button", onClick: () => settle(entry, { ask_crm: true }) }, "Ask the CRM")
      : null,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const landed = key.value.trim();
    if (landed) settle(entry, { landed });
    else key.focus();
  });
  return form;
}

async function showToCheck(notice = null) {
  let entries;
  try {
    entries = await call("/api/v1/records/to-check");
  } catch (failure) {
    if (failure instanceof SignedOut) throw failure;
    replaceContent(
      app,
      h("p", {}, h("a", { href: "#/" }, "← Search")),
      h(
        "p",
        { class: "muted", role: "status" },
        `Records to check are for the roles that change Options. ${failure.message}`,
      ),
    );
    return;
  }
  const settle = async (entry, choice) => {
    const answer = await call(`/api/v1/records/to-check/${entry.number}`, { method: "POST", json: choice });
    await showToCheck(answer.crm_said ? `iMIS cannot tell yet: ${answer.crm_said}` : null);
    const heading = document.getElementById("to-check-title");
    if (heading) heading.focus();
  };
  replaceContent(
    app,
    h("p", {}, h("a", { href: "#/" }, "← Search")),
    h("h2", { id: "to-check-title", tabindex: "-1" }, `Records to check (${entries.length})`),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    h(
      "p",
      { class: "muted" },
      "Each may or may not be in the CRM, was refused, or lacks a file. Look in the CRM, then say what you found.",
    ),
    entries.length
      ? h(
          "ul",
          { class: "checks" },
          entries.map((entry) => toCheckView(entry, settle)),
        )
      : h("p", { class: "muted" }, "No record needs checking."),
  );
}

async function dataUrl(fileId) {
  const answer = await call(`/api/v1/attachments/${encodeURIComponent(fileId)}`, { raw: true });
  const blob = await answer.blob();
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
}

async function download(file) {
  const answer = await call(`/api/v1/attachments/${encodeURIComponent(file.id)}`, { raw: true });
  const url = URL.createObjectURL(await answer.blob());
  const link = h("a", { href: url, download: file.filename, class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// The filed HTML, already cleaned by the server, as a document for a sandboxed frame.
async function framedBody(item) {
  const parsed = new DOMParser().parseFromString(item.body, "text/html");
  for (const image of parsed.querySelectorAll("img[src^='cid:']")) {
    const wanted = image.getAttribute("src").slice(4);
    const file = item.attachments.find((f) => f.content_id === wanted);
    if (file) image.setAttribute("src", await dataUrl(file.id));
    else image.removeAttribute("src");
  }
  const policy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";
  return (
    `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${policy}">` +
    `<base target="_blank"><style>body{font-family:"Segoe UI",Arial,sans-serif;font-size:14px;margin:8px;color:#242424}img{max-width:100%;height:auto}</style>` +
    `</head><body>${parsed.body.innerHTML}</body></html>`
  );
}

async function recordView(item, highlight) {
  const key = `${item.kind}-${item.id}`;
  const isInteraction = item.kind === "interaction";
  let content;
  if (!item.shown_here) {
    // The record is in the CRM (iMIS): mailfiler's ledger says what was filed; the CRM shows it.
    content = h(
      "p",
      {},
      `Filed in ${item.crm} as ${item.kind_label.toLowerCase()} ${item.id}. `,
      item.link
        ? h("a", { href: item.link, target: "_blank", rel: "noopener noreferrer" }, `Open it in ${item.crm}`)
        : null,
    );
  } else if (isInteraction) {
    content = h("iframe", {
      title: `Message: ${item.subject}`,
      // No scripts, no forms; same-origin only so this page can size the frame to its text.
      sandbox: "allow-same-origin allow-popups allow-popups-to-escape-sandbox",
      referrerpolicy: "no-referrer",
      loading: "lazy",
    });
    content.srcdoc = await framedBody(item);
    content.addEventListener("load", () => {
      const body = content.contentDocument && content.contentDocument.body;
      if (body) content.style.height = `${Math.min(body.scrollHeight + 24, 800)}px`;
    });
  } else {
    const label = (name) => (item.field_labels || {})[name] || name;
    // A date is an instant: shown on the viewer's clock, like every time on this page.
    const shown = (value) => (/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(String(value)) ? formatDate(value) : String(value));
    content = [
      Object.keys(item.fields).length
        ? h(
            "table",
            { "aria-label": "Activity fields" },
            Object.entries(item.fields)
              .filter(([name]) => name !== "NOTE")
              .map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, label(name)), h("td", {}, shown(value)))),
          )
        : null,
      h("pre", {}, item.body),
    ];
  }
  return h(
    "li",
    { class: `record ${item.kind}${highlight === key ? " highlight" : ""}`, id: `record-${key}` },
    h("div", { class: "kind" }, isInteraction ? item.kind_label : `${item.kind_label} · ${item.activity_type}`),
    h("h3", {}, item.subject || "(no subject)"),
    item.sender ? h("p", { class: "from" }, `From: ${item.sender}`) : null,
    item.recipients
      ? h("p", { class: "muted" }, `To: ${item.recipients}`)
      : item.to_line
        ? h("p", { class: "muted" }, `To: ${item.to_line}`)
        : null,
    item.sent_at ? h("p", { class: "muted" }, `Sent ${formatDate(item.sent_at)}`) : null,
    h(
      "p",
      { class: "by" },
      `Saved ${formatDate(item.saved_at)} · created by ${item.created_by} · saved by ${item.saved_by}`,
    ),
    item.status === "partial"
      ? h(
          "p",
          { class: "notice" },
          "Saved without: ",
          item.missing_files.map((f) => `${f.name} (${f.reason})`).join("; "),
          ". The next save of the message sends them.",
        )
      : null,
    content,
    item.attachments.length
      ? h(
          "ul",
          { class: "files", "aria-label": "Attachments" },
          item.attachments.map((file) =>
            h(
              "li",
              {},
              h(
                "button",
                {
                  type: "button",
                  class: "link",
                  onClick: () => download(file),
                  "aria-label": `Download ${file.filename}`,
                },
                file.filename,
              ),
              h("span", { class: "muted" }, formatSize(file.size)),
            ),
          ),
        )
      : null,
  );
}

window.addEventListener("hashchange", route);
route();
